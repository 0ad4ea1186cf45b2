package wal

import (
	"errors"
	"io"
)

// TimeIndex is implemented by an Index that can look entries up by time (the root package's Pebble
// index does, with a binary search: entry timestamps never decrease). OffsetForTime uses it when the
// log's Index has it, and scans without it.
type TimeIndex interface {
	// LastEntryBeforeTime returns the entry with the greatest Offset whose Timestamp (the greatest
	// record timestamp of the log up to its batch) is < ts, or ok false when there is none.
	LastEntryBeforeTime(ts int64) (IndexEntry, bool, error)
}

// OffsetForTime returns the offset of the first record whose timestamp is at or after ts (milliseconds
// since the epoch), or the high watermark when there is none: Kafka's ListOffsets by timestamp, as its
// .timeindex serves it.
//
// It finds where to start without reading the log from its beginning, then reads forward to the first
// such record:
//
//  1. closed segments whose greatest timestamp is < ts are skipped (on a log opened for writing, whose
//     closed segments' timestamps come from the durable state or a recovery scan);
//  2. the sparse index's last entry whose timestamp is < ts moves the start up to that entry's batch:
//     every record up to it is older than ts.
//
// Both are hints over derived data: missing entries (lost in a crash, not yet rebuilt) or an index
// without TimeIndex make the forward read longer, never the answer different.
func (l *Log) OffsetForTime(ts int64) (int64, error) {
	if l.isClosed() {
		return 0, ErrClosed
	}
	start, hw := l.StartOffset(), l.HighWatermark()
	if !l.readOnly {
		start = max(start, l.skipOlderSegments(ts))
	}
	if ti, ok := l.opts.Index.(TimeIndex); ok {
		e, found, err := ti.LastEntryBeforeTime(ts)
		if err != nil {
			return 0, err
		}
		if found && e.Offset > start && e.Offset < hw {
			start = e.Offset
		}
	}
	start = min(start, hw)
	r, err := l.NewReader(start, false)
	if err != nil {
		return 0, err
	}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return hw, nil
		}
		if err != nil {
			return 0, err
		}
		if rec.Offset >= hw {
			return hw, nil
		}
		if rec.Timestamp >= ts {
			return rec.Offset, nil
		}
	}
}

// skipOlderSegments returns the base of the first segment that may hold a record at or after ts: the
// first one, in order, that is active or whose greatest timestamp is >= ts.
func (l *Log) skipOlderSegments(ts int64) int64 {
	l.segs.RLock()
	defer l.segs.RUnlock()
	var start int64
	for _, s := range l.segs.list {
		start = s.base
		if !s.closed.Load() || s.maxTimestamp.Load() >= ts {
			break
		}
	}
	return start
}
