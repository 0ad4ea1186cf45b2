package wal

import (
	"time"
)

// rollWaitStep bounds each wait of Roll for a group commit in progress (see Roll).
const rollWaitStep = time.Millisecond

// Roll closes the active segment now and starts a new one at the next offset, as a roll by size does
// (trim, fsync, the new file and its directory fsynced, the state saved synced), so that retention and
// compaction, which only take closed segments, can take what it held. An empty active segment is not
// rolled: Roll returns false and changes nothing. The background cleaner calls it for a topic's
// segment.ms (internal/cleaner); appends go on meanwhile and queue behind it.
//
// Roll takes the writer's role for the duration of the roll, as an appender leading a group commit does
// (mu.flushing): it waits for the commit in progress, then no write runs until it has finished. While it
// waits it watches the high watermark (which every commit moves) with a short timeout, rather than
// mu.cond, whose signals belong to the flusher goroutine.
func (l *Log) Roll() (bool, error) {
	if l.readOnly {
		return false, ErrReadOnly
	}
	l.mu.Lock()
	for l.mu.flushing && !l.mu.closing && l.mu.err == nil {
		changed := l.Changed()
		l.mu.Unlock()
		select {
		case <-changed:
		case <-time.After(rollWaitStep):
		}
		l.mu.Lock()
	}
	switch {
	case l.mu.closing:
		l.mu.Unlock()
		return false, ErrClosed
	case l.mu.err != nil:
		err := l.mu.err
		l.mu.Unlock()
		return false, err
	}
	l.mu.flushing = true
	l.mu.Unlock()

	f := &l.flusher
	rolled := f.writer.Pos() > 0
	var err error
	if rolled {
		if err = l.roll(f.nextOffset); err != nil {
			l.setErr(err)
			rolled = false
		}
	}

	l.mu.Lock()
	l.mu.flushing = false
	l.mu.cond.Broadcast() // the flusher takes what queued meanwhile
	l.mu.Unlock()
	return rolled, err
}

// ActiveSegmentTimestamp returns the largest timestamp of the first batch of the active segment (what
// Kafka's segment.ms counts from), and false when the active segment holds no readable record.
func (l *Log) ActiveSegmentTimestamp() (int64, bool, error) {
	segs := l.Segments()
	if len(segs) == 0 {
		return 0, false, nil
	}
	active := segs[len(segs)-1]
	if active.NextOffset <= active.BaseOffset || active.BaseOffset < l.StartOffset() {
		return 0, false, nil
	}
	r, err := l.NewReader(active.BaseOffset, false)
	if err != nil {
		return 0, false, err
	}
	b, err := r.NextBatch()
	if err != nil {
		return 0, false, err
	}
	return b.Header.MaxTimestamp, true, nil
}
