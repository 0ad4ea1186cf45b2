package wal

import (
	"fmt"
	"io"

	"github.com/mqlog/mqlog/segment"
)

// Pre-encoded batches: the Kafka front end appends the RecordBatch frames its clients encoded, and serves
// fetches with the stored frames as they are, without decoding and re-encoding their records.

// FrameHooks are AppendFrame's calls into its caller, both optional.
type FrameHooks struct {
	// Check runs under the log's append lock with the base offset the frame would get, so that what it
	// decides is atomic with the offset assignment; if it returns an error nothing is appended and
	// AppendFrame returns that error. Idempotent producers' sequence checks run there.
	Check func(base int64) error
	// Queued runs once the frame's place in the log is decided, before it is durable: right after it is
	// queued with its offsets (under the log's append lock: it must not block), or once it is refused. A
	// caller whose frames must keep their order (pipelined produce requests of one connection, whose
	// sequence numbers follow each other) starts its next AppendFrame then: the two may share a commit.
	Queued func()
	// Stored keeps the frame's own base offset instead of assigning the next one: a batch copied from
	// another copy of the log (a replica's snapshot). It must be at the next offset, or past it in a
	// key-compacted log (opened with Options.Compacted, and still so: recovery accepts a gap in the
	// active segment only then), whose offsets have gaps where compaction removed records; anything else
	// is ErrStoredOffset. The next offset then follows the frame.
	Stored bool
}

// AppendFrame appends one encoded RecordBatch v2 frame, as a producer sent it, through the same group
// commit as Append, and returns its base offset. The caller has validated the frame (segment.DecodeBatch and
// its records: a frame the log's readers would reject must never be written). The log assigns the base
// offset and stamps its write epoch, both outside the CRC; every other byte is kept, producer id and
// sequence included. frame is copied: the caller may reuse it once AppendFrame returns.
func (l *Log) AppendFrame(frame []byte, hooks FrameHooks) (int64, error) {
	queued := false
	markQueued := func() {
		if !queued && hooks.Queued != nil {
			hooks.Queued()
		}
		queued = true
	}
	defer markQueued() // refused
	if l.readOnly {
		return 0, ErrReadOnly
	}
	if len(frame) > l.opts.Limits.MaxBatchBytes {
		return 0, fmt.Errorf("%w: batch of %d bytes, limit %d", segment.ErrTooLarge, len(frame), l.opts.Limits.MaxBatchBytes)
	}
	h, err := segment.ParseHeaderLimits(frame, l.opts.Limits)
	if err != nil {
		return 0, err
	}
	if h.FrameSize() != int64(len(frame)) {
		return 0, fmt.Errorf("%w: frame of %d bytes, header says %d", segment.ErrTruncated, len(frame), h.FrameSize())
	}
	check := hooks.Check
	if hooks.Stored {
		check = l.storedCheck(&h, hooks.Check)
	}
	return l.appendEncoded(frame, &h, check, markQueued, false) // (the caller's buffer: copied)
}

// storedCheck is the Check of a Stored frame: it refuses a base offset the log cannot keep, and moves the
// log's next offset up to it across a gap (under the append lock, as every Check runs), then runs check.
func (l *Log) storedCheck(h *segment.BatchHeader, check func(int64) error) func(int64) error {
	want := h.BaseOffset
	return func(next int64) error {
		if want < next || (want > next && !(l.opts.Compacted && l.Compacted())) {
			return fmt.Errorf("%w: batch at offset %d, next offset %d", ErrStoredOffset, want, next)
		}
		if check != nil {
			if err := check(want); err != nil {
				return err
			}
		}
		l.mu.nextOffset = want
		return nil
	}
}

// appendEncoded queues an encoded frame under the log's lock, assigning its base offset and epoch (the
// frame is patched in place, then copied into the queue), calls queued (when not nil), commits it or leaves
// it to the commit in progress, and waits for the outcome. Append and AppendFrame share it. owned says the
// frame is the log's own encoding buffer, which a commit led by this appender alone may write without the
// copy (directwrite.go).
func (l *Log) appendEncoded(frame []byte, h *segment.BatchHeader, check func(base int64) error, queued func(), owned bool) (int64, error) {
	l.mu.Lock()
	if l.mu.closing {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if err := l.mu.err; err != nil {
		l.mu.Unlock()
		return 0, err
	}
	if check != nil {
		if err := check(l.mu.nextOffset); err != nil {
			l.mu.Unlock()
			return 0, err
		}
	}
	base := l.mu.nextOffset                   // (a Stored frame's check moved it to the frame's own)
	direct := owned && l.commitsAloneLocked() // (asked before the frame is noted)
	l.noteFrameLocked(frame, h)
	gen := l.mu.gen
	l.metrics.appends.Add(1)
	if queued != nil {
		queued()
	}
	l.commitNotedLocked(frame, direct)

	<-gen.done
	if gen.err != nil {
		return 0, gen.err
	}
	return base, nil
}

// noteFrameLocked, with l.mu held, gives frame the next base offset and the log's epoch (patched in place)
// and notes it in l.mu.frames, for the next commit; its bytes go to the queue apart (commitNotedLocked).
// It returns the base offset.
func (l *Log) noteFrameLocked(frame []byte, h *segment.BatchHeader) int64 {
	base := l.mu.nextOffset
	segment.SetBaseOffset(frame, base)
	segment.SetEpoch(frame, l.epoch)
	l.mu.nextOffset += int64(h.LastOffsetDelta) + 1
	l.mu.frames = append(l.mu.frames, pendingFrame{base: base, next: l.mu.nextOffset, size: len(frame), maxTimestamp: h.MaxTimestamp})
	return base
}

// commitNotedLocked, with l.mu held and the frames in buf just noted, commits them: from buf itself when
// direct (the appender's own buffer, and commitsAloneLocked held before they were noted: directwrite.go),
// else copied into the queue and committed here or left to the commit in progress (commitOrLeaveLocked).
// It releases l.mu.
func (l *Log) commitNotedLocked(buf []byte, direct bool) {
	if direct {
		l.commitAloneLocked(buf)
		return
	}
	l.mu.pending = append(l.mu.pending, buf...)
	l.commitOrLeaveLocked()
}

// commitOrLeaveLocked, with l.mu held and frames just queued, commits them here or leaves them to the
// commit in progress or to the flusher's group, and releases l.mu. appendEncoded and AppendBatches share it.
func (l *Log) commitOrLeaveLocked() {
	l.startBackgroundLocked()
	switch {
	case l.mu.flushing:
		// The commit in progress wakes the flusher when it ends (flushQueued, Roll), which then takes this
		// and whatever else queues meanwhile: no wake-up now, when the flusher could do nothing.
		l.mu.Unlock()
	case l.groupCommitLocked():
		// Concurrent producers: the flusher commits, once the group is about as large as the last one or
		// the delay has passed (waitForGroupLocked). It is woken for the first append of a group, and then
		// when the group is complete.
		if l.mu.groupTarget == 0 || len(l.mu.frames) >= l.mu.groupTarget {
			l.mu.cond.Signal()
		}
		l.mu.Unlock()
	default:
		// No flush in progress: commit it (and anything queued with it) here, without waking the flusher
		// and waiting to be woken in turn.
		l.flushQueued()
	}
}

// NextBatch returns the next stored batch that holds records at or after the reader's offset, verified
// (CRC and header, as every read) but not decoded, and moves the reader past its last offset. The batch's
// first offsets may lie before the reader's offset: a Kafka fetch returns the whole batch that holds the
// offset asked for. Its Frame aliases the reader's buffer and is valid until the next call. At the high
// watermark it returns io.EOF, like Next.
func (r *Reader) NextBatch() (segment.Batch, error) {
	r.batch, r.i = r.batch[:0], 0 // records decoded by Next, if any, are skipped with their batch
	if r.next >= r.log.HighWatermark() {
		if r.log.isClosed() {
			return segment.Batch{}, ErrClosed
		}
		return segment.Batch{}, io.EOF
	}
	r.rawMode = true
	err := r.readBatch()
	r.rawMode = false
	if err != nil {
		return segment.Batch{}, err
	}
	b := r.rawBatch
	r.rawBatch = segment.Batch{}
	r.next = b.Header.LastOffset() + 1
	return b, nil
}

// Closed reports whether the log has been closed.
func (l *Log) Closed() bool { return l.isClosed() }
