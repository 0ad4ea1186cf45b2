package wal

import (
	"fmt"
	"slices"
	"time"

	"github.com/mqlog/mqlog/internal/fsutil"
)

// Retention says which closed segments DeleteSegments removes. Like Kafka's retention.bytes and
// retention.ms, it deletes whole segments, oldest first, never the active one, and stops at the first
// segment that no limit condemns. Zero fields set no limit.
type Retention struct {
	// MaxBytes bounds the log's total size (closed and active segments): the oldest closed segments go
	// while the log, without them, is still at least this large (Kafka's rule).
	MaxBytes int64
	// MaxAge removes closed segments whose newest record timestamp is older than Now minus MaxAge.
	MaxAge time.Duration
	// ConsumedBefore, when positive, removes closed segments whose every record lies below it (the offset
	// every consumer has passed: retention by consumption).
	ConsumedBefore int64
	// Now is the reference time of MaxAge; zero means time.Now().
	Now time.Time
}

// DeleteResult says what DeleteSegments removed (or, for PlanRetention, would remove).
type DeleteResult struct {
	Segments    int   `json:"segments"`     // segment files deleted
	Offsets     int64 `json:"offsets"`      // offsets the deleted segments spanned (records, but for a compacted log's gaps)
	Bytes       int64 `json:"bytes"`        // bytes freed
	StartOffset int64 `json:"start_offset"` // the log's start offset after the delete
}

// PlanRetention returns what DeleteSegments(ret) would delete now, changing nothing.
func (l *Log) PlanRetention(ret Retention) DeleteResult {
	l.state.Lock()
	closed := slices.Clone(l.state.saved.closed)
	l.state.Unlock()
	n := l.condemned(closed, ret)
	return l.deleteResult(closed, n)
}

// DeleteSegments deletes the oldest closed segments that ret condemns, crash-safely (DESIGN.md decision
// 7): first the state, synced, with the log start offset raised to the first kept segment's base and the
// deleted segments dropped from the closed list; then the read handles are retired (a reader in the middle
// of a read finishes it; a reader below the new start gets ErrOutOfRange); then the files are removed and
// the directory fsynced; last, the sparse index entries below the new start are deleted. A crash after the
// state is saved leaves files that Open removes (they lie below the recorded start); a crash before leaves
// the log as it was. Appends go on throughout.
func (l *Log) DeleteSegments(ret Retention) (DeleteResult, error) {
	if l.readOnly {
		return DeleteResult{}, ErrReadOnly
	}
	l.maintenance.Lock()
	defer l.maintenance.Unlock()
	if l.isClosing() {
		return DeleteResult{}, ErrClosed
	}
	if err := l.Err(); err != nil {
		return DeleteResult{}, err
	}
	l.state.Lock()
	closed := slices.Clone(l.state.saved.closed)
	n := l.condemned(closed, ret)
	res := l.deleteResult(closed, n)
	if n == 0 {
		l.state.Unlock()
		return res, nil
	}
	if err := l.pinHandles(n); err != nil { // (before anything changes)
		l.state.Unlock()
		return DeleteResult{}, err
	}
	st := l.state.saved
	st.closed = slices.Clone(closed[n:])
	st.startOffset = res.StartOffset
	st.clean = false
	err := l.saveStateLocked(st)
	if err == nil {
		l.startOffset.Store(res.StartOffset)
	}
	l.state.Unlock()
	if err != nil {
		return DeleteResult{}, err
	}

	l.segs.Lock()
	gone := l.segs.list[:n]
	l.segs.list = slices.Clone(l.segs.list[n:])
	l.segs.Unlock()
	for _, s := range gone {
		s.retire()
	}
	fs := l.opts.FS
	for _, c := range closed[:n] {
		if err := fs.Remove(l.segmentPath(c.base)); err != nil {
			return res, l.stop(failStop("remove", l.segmentPath(c.base), err))
		}
	}
	if err := fsutil.SyncDir(fs, l.opts.Dir); err != nil {
		return res, l.stop(failStop("fsync directory", l.opts.Dir, err))
	}
	if trim, ok := l.opts.Index.(EntryTrimmer); ok {
		if err := trim.DeleteEntriesBefore(res.StartOffset); err != nil {
			return res, fmt.Errorf("mqlog/wal: delete index entries below %d: %w", res.StartOffset, err)
		}
	}
	return res, nil
}

// condemned returns how many of the oldest closed segments ret deletes.
func (l *Log) condemned(closed []closedSegment, ret Retention) int {
	now := ret.Now
	if now.IsZero() {
		now = time.Now()
	}
	total := l.activeSize()
	for _, c := range closed {
		total += c.size
	}
	n := 0
	for _, c := range closed {
		bySize := ret.MaxBytes > 0 && total-c.size >= ret.MaxBytes
		byAge := ret.MaxAge > 0 && c.maxTimestamp < now.Add(-ret.MaxAge).UnixMilli()
		byConsumption := ret.ConsumedBefore > 0 && c.nextOffset <= ret.ConsumedBefore
		if !bySize && !byAge && !byConsumption {
			break
		}
		total -= c.size
		n++
	}
	return n
}

func (l *Log) deleteResult(closed []closedSegment, n int) DeleteResult {
	res := DeleteResult{Segments: n, StartOffset: l.StartOffset()}
	for _, c := range closed[:n] {
		res.Bytes += c.size
		res.Offsets += c.nextOffset - max(c.base, res.StartOffset)
	}
	if n > 0 {
		if n < len(closed) {
			res.StartOffset = closed[n].base
		} else {
			res.StartOffset = closed[n-1].nextOffset
		}
	}
	return res
}

// activeSize returns the readable bytes of the active segment.
func (l *Log) activeSize() int64 {
	l.segs.RLock()
	defer l.segs.RUnlock()
	if n := len(l.segs.list); n > 0 {
		return l.segs.list[n-1].readableEnd.Load()
	}
	return 0
}

// EntryTrimmer is implemented by an Index that can delete the sparse entries below an offset; retention
// uses it, when the Index has it, to drop the entries of deleted segments.
type EntryTrimmer interface {
	// DeleteEntriesBefore removes the entries with Offset < offset (without sync: stale entries below the
	// log start are never looked at).
	DeleteEntriesBefore(offset int64) error
}

// EntryRangeDeleter is implemented by an Index that can delete the sparse entries of an offset range;
// compaction uses it, when the Index has it, before it replaces segments, so that no entry points into a
// replaced file (readers would fall back to scanning; verify would report the stale entries).
type EntryRangeDeleter interface {
	// DeleteEntriesBetween removes the entries with from <= Offset < to, durably.
	DeleteEntriesBetween(from, to int64) error
}
