package wal

import (
	"errors"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// compactOutput is the set of ".cleaned" files one pass writes.
type compactOutput struct {
	files []*outputSegment
}

// outputSegment is one compacted segment being written as "<base>.log.cleaned".
type outputSegment struct {
	meta  closedSegment
	path  string
	file  vfs.File // nil in a dry run, and once synced and closed
	buf   []byte
	batch int // batches written
}

// outputBufferBytes is how much of an output segment is buffered before a write.
const outputBufferBytes = 1 << 20

// outputBytesPerSync is the write-back step of compaction outputs.
const outputBytesPerSync = 512 << 10

func (o *compactOutput) segments() []closedSegment {
	out := make([]closedSegment, len(o.files))
	for i, f := range o.files {
		out[i] = f.meta
	}
	return out
}

// rewrite writes the records of inputs that the key map keeps (see keeps) into new segments, merging
// consecutive inputs while the output plus the next input's size stays within the segment size. The first output starts at the
// first input's base, so that the log start does not move; each output ends where its last input ended
// (nextOffset), gaps included. It returns the outputs, written but not yet synced.
func (c *compactor) rewrite(inputs []closedSegment, mapEnd int64) (*compactOutput, error) {
	l := c.log
	out := &compactOutput{}
	c.seen, c.kept, c.written, c.tombstones, c.entries, c.entryMaxTs = 0, 0, 0, 0, c.entries[:0], -1
	segmentBytes := l.segmentBytes.Load()
	var cur *outputSegment
	for _, in := range inputs {
		// in.size bounds what in adds to the output.
		if cur == nil || (cur.meta.size > 0 && cur.meta.size+in.size > segmentBytes) {
			if err := c.flushOutput(cur); err != nil {
				return out, err
			}
			next, err := c.newOutput(in.base)
			if err != nil {
				return out, err
			}
			out.files = append(out.files, next)
			cur = next
		}
		cur.meta.nextOffset = in.nextOffset
		cur.meta.maxTimestamp = max(cur.meta.maxTimestamp, in.maxTimestamp)
		err := c.eachBatch(in, func(h *segment.BatchHeader, frame []byte, recs []segment.Record) error {
			c.seen += int64(len(recs))
			c.keep = c.keep[:0]
			for i := range recs {
				if c.keeps(&recs[i], mapEnd) {
					c.keep = append(c.keep, recs[i])
				}
			}
			c.kept += int64(len(c.keep))
			switch {
			case len(c.keep) == 0:
				return nil
			case len(c.keep) == len(recs):
				return c.writeFrame(cur, c.keep[0].Offset, keptMaxTimestamp(c.keep), frame)
			}
			var err error
			c.frame, err = segment.AppendBatch(c.frame[:0], c.keep, segment.EncodeOptions{
				BaseOffset: c.keep[0].Offset, Epoch: h.PartitionLeaderEpoch, Compression: h.Compression(), KeepOffsets: true,
			})
			if err != nil {
				return err
			}
			return c.writeFrame(cur, c.keep[0].Offset, keptMaxTimestamp(c.keep), c.frame)
		})
		if err != nil {
			return out, err
		}
	}
	return out, c.flushOutput(cur)
}

func (c *compactor) newOutput(base int64) (*outputSegment, error) {
	l := c.log
	o := &outputSegment{meta: closedSegment{base: base, maxTimestamp: -1}, path: l.cleanedPath(base)}
	if c.opts.DryRun {
		return o, nil
	}
	f, err := l.opts.FS.Create(o.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	// Write back as it goes (sync_file_range every outputBytesPerSync, like Pebble's BytesPerSync), so that
	// the fsync before the swap does not flush a whole segment at once and stall the appenders' fsyncs.
	o.file = vfs.NewSyncingFile(f, vfs.SyncingFileOptions{BytesPerSync: outputBytesPerSync})
	return o, nil
}

// keptMaxTimestamp returns the greatest timestamp of records.
func keptMaxTimestamp(records []segment.Record) int64 {
	ts := records[0].Timestamp
	for i := range records {
		ts = max(ts, records[i].Timestamp)
	}
	return ts
}

// writeFrame appends a frame whose first record has offset base and whose greatest timestamp is maxTs to o,
// noting a sparse index entry every IndexIntervalBytes (its timestamp: the greatest kept so far).
func (c *compactor) writeFrame(o *outputSegment, base, maxTs int64, frame []byte) error {
	pos := o.meta.size
	c.entryMaxTs = max(c.entryMaxTs, maxTs)
	if o.batch == 0 || pos/int64(c.log.opts.IndexIntervalBytes) != (pos+int64(len(frame)))/int64(c.log.opts.IndexIntervalBytes) {
		c.entries = append(c.entries, IndexEntry{Offset: base, Position: pos, Timestamp: c.entryMaxTs})
	}
	o.batch++
	o.meta.size += int64(len(frame))
	c.written += int64(len(frame))
	if o.file == nil {
		return nil
	}
	o.buf = append(o.buf, frame...)
	if len(o.buf) >= outputBufferBytes {
		return c.flushOutput(o)
	}
	return nil
}

// flushOutput writes o's buffered bytes, throttled.
func (c *compactor) flushOutput(o *outputSegment) error {
	if o == nil || o.file == nil || len(o.buf) == 0 {
		return nil
	}
	if err := c.throttle.wait(c.ctx, len(o.buf)); err != nil {
		return err
	}
	if _, err := o.file.Write(o.buf); err != nil {
		return err
	}
	c.writtenTotal += int64(len(o.buf))
	o.buf = o.buf[:0]
	return nil
}

// syncOutputs fsyncs and closes every output, then their directory (DESIGN.md decision 7: the new files
// are durable before the swap is committed).
func (c *compactor) syncOutputs(out *compactOutput) error {
	for _, o := range out.files {
		if err := c.flushOutput(o); err != nil {
			return err
		}
		if err := o.file.Sync(); err != nil {
			return err
		}
		err := o.file.Close()
		o.file = nil
		if err != nil {
			return err
		}
	}
	return fsutil.SyncDir(c.log.opts.FS, c.log.opts.Dir)
}

// changed reports whether the outputs differ from the inputs: a record removed or segments merged.
func (c *compactor) changed(inputs []closedSegment, out *compactOutput) bool {
	return c.kept != c.seen || len(out.files) != len(inputs)
}

// removeOutputs closes and removes the ".cleaned" files of an abandoned pass. Leftovers that a failure
// here leaves are removed by the next Open.
func (c *compactor) removeOutputs(out *compactOutput) {
	if out == nil || c.opts.DryRun {
		return
	}
	for _, o := range out.files {
		if o.file != nil {
			o.file.Close()
			o.file = nil
		}
		if err := c.log.opts.FS.Remove(o.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.opts.Logger.Warn("mqlog: cannot remove abandoned compaction output", "path", o.path, "err", err)
		}
	}
}
