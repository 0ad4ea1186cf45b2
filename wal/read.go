package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/mqlog/mqlog/segment"
)

// Reader reads a log's records in offset order, from a starting offset up to the high watermark. It finds
// its start without scanning from the segment's beginning: a binary search over the segments, then the
// sparse offset index. A Reader is not safe for concurrent use; any number of Readers may read one Log.
type Reader struct {
	log  *Log
	next int64 // the offset Next returns next (or the first after it, in a compacted log)
	copy bool  // records own their bytes, instead of aliasing the read buffer

	seg        *segmentFile
	sr         *segment.Reader
	expectBase int64 // when >= 0, the base offset the first batch read must have (an index entry's promise)
	prevLast   int64 // last offset of the batch read before, -1 after positioning: batches must follow it
	batch      []segment.Record
	i          int
	rawMode    bool          // NextBatch: keep the batch read in rawBatch instead of decoding it (batches.go)
	rawBatch   segment.Batch // the batch read in rawMode
	mapped     bool          // sr reads seg's mapping (mmap.go)
	pin        *readerPin    // the segment whose mapping the last batch aliases
	viewing    bool          // in ViewFrames: read through the mapping whatever the policy
}

// NewReader returns a Reader positioned at offset from, which must lie between StartOffset and
// HighWatermark (ErrOutOfRange otherwise). With copyRecords false, a returned record's Key, Value and
// header values alias the Reader's buffer and stay valid only until the batch after it is read; with
// copyRecords true they are the caller's to keep.
func (l *Log) NewReader(from int64, copyRecords bool) (*Reader, error) {
	if l.isClosed() {
		return nil, ErrClosed
	}
	if start, hw := l.StartOffset(), l.HighWatermark(); from < start || from > hw {
		return nil, fmt.Errorf("%w: offset %d, log holds [%d, %d)", ErrOutOfRange, from, start, hw)
	}
	return &Reader{log: l, next: from, copy: copyRecords, expectBase: -1, prevLast: -1}, nil
}

// Offset returns the offset the reader reads next.
func (r *Reader) Offset() int64 { return r.next }

// Next returns the next record. At the high watermark it returns io.EOF: there is nothing more for now
// (wait on Log.Changed, then call Next again). Damaged data is a *segment.CorruptionError.
func (r *Reader) Next() (*segment.Record, error) {
	for {
		for r.i < len(r.batch) {
			rec := &r.batch[r.i]
			r.i++
			if rec.Offset >= r.next {
				r.next = rec.Offset + 1
				return rec, nil
			}
		}
		if r.next >= r.log.HighWatermark() {
			if r.log.isClosed() {
				return nil, ErrClosed
			}
			if damage := r.log.lastSegmentDamage(); damage != nil {
				return nil, damage // (a read-only opener found damage right after the readable end)
			}
			return nil, io.EOF
		}
		if err := r.readBatch(); err != nil {
			return nil, err
		}
	}
}

// SetOffset moves the reader to offset, under the same rules as NewReader.
func (r *Reader) SetOffset(offset int64) error {
	if start, hw := r.log.StartOffset(), r.log.HighWatermark(); offset < start || offset > hw {
		return fmt.Errorf("%w: offset %d, log holds [%d, %d)", ErrOutOfRange, offset, start, hw)
	}
	r.next, r.seg, r.sr, r.batch, r.i, r.prevLast = offset, nil, nil, r.batch[:0], 0, -1
	return nil
}

// readBatch decodes the next batch that holds records at or after r.next. It holds a reference on the
// segment it reads while it reads (refs.go); a segment retired since the last call is left for the one that
// now holds r.next.
func (r *Reader) readBatch() error {
	for {
		if r.sr == nil || r.seg.retired.Load() {
			if err := r.position(); err != nil {
				return err
			}
		}
		seg := r.seg
		if !seg.acquire() {
			r.sr = nil // retired and closed since position found it: look again
			continue
		}
		var done bool
		var err error
		if r.mayMap() {
			err = guardMapped(seg, func() (err error) {
				done, err = r.readPinned()
				return err
			})
		} else {
			done, err = r.readPinned()
		}
		if err == nil && done {
			r.holdIfAliased()
		}
		seg.release()
		if done || err != nil {
			return err
		}
	}
}

// readPinned reads from r.seg, on which the caller holds a reference. It returns done when a batch was
// decoded or the readable end was reached (io.EOF), and done false when the caller must go on (the reader
// moved to the next segment).
func (r *Reader) readPinned() (done bool, err error) {
	limits := r.log.opts.Limits
	for {
		pos, b, err := r.sr.Next()
		if r.expectBase >= 0 && (err != nil || b.Header.BaseOffset != r.expectBase) {
			// The sparse index is derived data: if its entry does not match, read from the segment start.
			// In a compacted log that is expected (entries of segments that compaction replaced remain).
			level := slog.LevelWarn
			if r.log.compacted.Load() {
				level = slog.LevelDebug
			}
			r.log.opts.Logger.Log(context.Background(), level, "mqlog: sparse index entry does not match segment; scanning", "path", r.seg.path, "position", pos)
			r.sr = r.newSegmentReader(r.seg, 0)
			r.expectBase, r.prevLast = -1, -1
			continue
		}
		r.expectBase = -1
		switch {
		case err == nil:
			if err := r.checkOffsets(pos, &b.Header); err != nil {
				return true, err
			}
			if b.Header.LastOffset() < r.next {
				continue
			}
			if r.rawMode {
				r.rawBatch = b
				return true, nil
			}
			r.batch, err = b.Records(r.batch[:0], r.copy, limits)
			r.i = 0
			if err != nil {
				return true, &segment.CorruptionError{Path: r.seg.path, Offset: pos, Err: err}
			}
			return true, nil
		case errors.Is(err, io.EOF) || (r.log.readOnly && !r.seg.closed.Load() && errors.Is(err, io.ErrUnexpectedEOF)):
			// (A read-only reader may see the last segment's frame that the writer has not finished.)
			if end := r.seg.readableEnd.Load(); r.sr.Pos() < end {
				r.sr = r.newSegmentReader(r.seg, r.sr.Pos())
				continue
			}
			if damage := r.seg.damage.Load(); damage != nil {
				return true, damage
			}
			if r.seg.closed.Load() {
				if next := r.log.segmentAfter(r.seg); next != nil {
					if err := r.checkNextSegment(next); err != nil {
						return true, err
					}
					r.seg, r.sr = next, r.newSegmentReader(next, 0)
					return false, nil
				}
				if r.seg.retired.Load() {
					r.sr = nil // replaced or deleted while being read: find the offset again
					return false, nil
				}
			}
			return true, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return true, &segment.CorruptionError{Path: r.seg.path, Offset: pos,
				Err: fmt.Errorf("%w: frame runs past the segment's end at byte %d", segment.ErrTruncated, r.seg.readableEnd.Load())}
		default:
			return true, err
		}
	}
}

// checkOffsets checks a batch's offsets against the segment's name and the batch read before it: offsets
// strictly increase, without gaps unless the log is compacted, and a segment's first batch starts at or
// after the offset in its name (DESIGN.md decision 1). A violation is corruption at the batch's position.
func (r *Reader) checkOffsets(pos int64, h *segment.BatchHeader) error {
	var problem string
	switch {
	case pos == 0 && h.BaseOffset < r.seg.base:
		problem = fmt.Sprintf("first batch at offset %d, below the segment's name %d", h.BaseOffset, r.seg.base)
	case r.prevLast >= 0 && h.BaseOffset <= r.prevLast:
		problem = fmt.Sprintf("batch at offset %d after a batch ending at %d", h.BaseOffset, r.prevLast)
	case r.prevLast >= 0 && !r.log.opts.Compacted && h.BaseOffset != r.prevLast+1:
		problem = fmt.Sprintf("batch at offset %d after a batch ending at %d: a gap", h.BaseOffset, r.prevLast)
	}
	if problem != "" {
		return &segment.CorruptionError{Path: r.seg.path, Offset: pos, Err: fmt.Errorf("%w: %s", segment.ErrBadOffset, problem)}
	}
	r.prevLast = h.LastOffset()
	return nil
}

// checkNextSegment checks that the segment after the one just read starts where that one ended: its name
// is the offset after the last batch read, unless the log is compacted (a gap) — else the offsets between
// them are gone, which is damage even when the next segment holds no batch yet.
func (r *Reader) checkNextSegment(next *segmentFile) error {
	if r.prevLast < 0 || next.base == r.prevLast+1 || (r.log.compacted.Load() && next.base > r.prevLast) {
		return nil
	}
	return &segment.CorruptionError{Path: next.path, Offset: 0, Err: fmt.Errorf(
		"%w: segment named %d follows a segment whose last batch ends at offset %d", segment.ErrBadOffset, next.base, r.prevLast)}
}

// position finds the segment and byte position to read r.next from.
//
// A reader whose offset is below the log's start (retention deleted the segments it was reading) gets
// ErrOutOfRange, as a Kafka fetch below the log start offset does; the caller decides where to go on from
// (Log.StartOffset, or a committed position).
func (r *Reader) position() error {
	if start := r.log.StartOffset(); r.next < start {
		return fmt.Errorf("%w: offset %d is below the log start %d (deleted by retention)", ErrOutOfRange, r.next, start)
	}
	seg, _ := r.log.segmentFor(r.next)
	if seg == nil && r.log.isClosed() {
		return ErrClosed // (Close dropped the segments)
	}
	if seg == nil {
		return fmt.Errorf("%w: offset %d is before the log's first segment", ErrOutOfRange, r.next)
	}
	r.seg, r.expectBase, r.prevLast = seg, -1, -1
	pos := int64(0)
	if idx := r.log.opts.Index; idx != nil {
		e, ok, err := idx.FloorEntry(r.next)
		if err != nil {
			return err
		}
		if ok && e.Offset >= seg.base && e.Position < seg.readableEnd.Load() {
			pos, r.expectBase = e.Position, e.Offset
		}
	}
	r.sr = r.newSegmentReader(seg, pos)
	return nil
}

func (r *Reader) newSegmentReader(seg *segmentFile, pos int64) *segment.Reader {
	end := seg.readableEnd.Load()
	if data := r.useMapping(seg); data != nil && end <= int64(len(data)) {
		r.mapped = true
		return segment.NewBytesReader(data, seg.path, pos, end, r.log.opts.Limits)
	}
	r.mapped = false
	return segment.NewReader(seg, seg.path, pos, end, r.log.opts.Limits)
}

// holdIfAliased pins the segment just read when what the reader returns aliases its mapping (a raw
// batch, or records not copied), and otherwise drops any pin.
func (r *Reader) holdIfAliased() {
	if r.mapped && r.sr != nil && (r.rawMode || !r.copy) {
		r.hold(r.seg)
		return
	}
	r.hold(nil)
}
