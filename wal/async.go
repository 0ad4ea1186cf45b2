package wal

import "github.com/mqlog/mqlog/segment"

// Pipelined appends (BENCH.md, phase 3). Append encodes a batch and then waits for its commit, so a lone
// producer encodes (and computes the CRC of) batch N+1 only after batch N's fsync: that work is serial with
// the disk, about 20 µs per batch of 256 × 1 KiB. AppendAsync returns once the batch is queued, with its
// offsets assigned, and the flusher goroutine commits it: the producer encodes its next batch while the
// previous one is written and synced, as a Kafka producer keeps several requests in flight. The
// durability contract is Append's: PendingAppend.Wait reports the batch durable (under SyncAlways) only
// after the fsync that covers it, and batches are written in the order their offsets were assigned.

// PendingAppend is a batch queued by AppendAsync, whose commit is under way.
type PendingAppend struct {
	base int64
	gen  *flushGeneration
}

// Wait blocks until the batch's commit is over and returns the offset of its first record, or the error
// that failed the commit (wrapping ErrFailStop): under SyncAlways, once the batch is fsynced; under the
// other policies once it is written. It may be called any number of times, from any goroutine.
func (p *PendingAppend) Wait() (int64, error) {
	<-p.gen.done
	if p.gen.err != nil {
		return 0, p.gen.err
	}
	return p.base, nil
}

// Done is closed when the batch's commit is over (Wait then returns at once).
func (p *PendingAppend) Done() <-chan struct{} { return p.gen.done }

// AppendAsync queues records as one batch, as Append does (the same limits, the same errors), and returns
// without waiting for the commit: the flusher goroutine writes and syncs it, with whatever else is queued,
// while the caller goes on (encodes its next batch, say). The batch's offsets are assigned here: batches
// queued one after the other by one goroutine get increasing offsets and reach the disk in that order. A
// batch is never reported durable before the fsync that covers it; a failed commit fails every batch in
// it, and the log stops (ErrFailStop) as after a failed Append. records may be reused once AppendAsync
// returns. Close commits what is queued before it closes.
func (l *Log) AppendAsync(records []segment.Record) (*PendingAppend, error) {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	frame, h, err := l.encode(bp, records)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.mu.closing {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if err := l.mu.err; err != nil {
		l.mu.Unlock()
		return nil, err
	}
	base := l.noteFrameLocked(frame, &h)
	l.mu.pending = append(l.mu.pending, frame...) // (the frame's buffer goes back to the pool now)
	p := &PendingAppend{base: base, gen: l.mu.gen}
	l.metrics.appends.Add(1)
	l.leaveToFlusherLocked()
	return p, nil
}

// leaveToFlusherLocked, with l.mu held and frames just queued by an appender that does not wait for them,
// leaves their commit to the flusher goroutine and releases l.mu: the commit in progress wakes it when it
// ends; a group forming wakes it as commitOrLeaveLocked does; otherwise it is woken now.
func (l *Log) leaveToFlusherLocked() {
	l.startBackgroundLocked()
	switch {
	case l.mu.flushing:
	case l.groupCommitLocked():
		if l.mu.groupTarget == 0 || len(l.mu.frames) >= l.mu.groupTarget {
			l.mu.cond.Signal()
		}
	default:
		l.mu.cond.Signal()
	}
	l.mu.Unlock()
}
