package catalog

import (
	"maps"
	"slices"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Asynchronous appends: Append and AppendPartition without the wait. The batches are queued with
// wal.Log.AppendAsync, which assigns their offsets before it returns, so a caller that queues two calls in
// turn gets increasing offsets in each partition, and the flusher of each log commits them while the
// caller goes on.

// AppendAsync queues msgs as Append would place and write them and returns without waiting for their
// commit. An error returned here means nothing was queued; a partition failing at its queueing while
// others were queued is the *base.AppendError the PendingAppend's Wait returns, as Append returns it.
func (t *Topic) AppendAsync(msgs []base.Message) (base.PendingAppend, error) {
	logs := t.Logs()
	if len(logs) == 1 {
		return appendAsyncTo(logs[0], 0, msgs)
	}
	byPartition := t.placeMessages(len(logs), msgs)
	if len(byPartition) == 1 {
		for p := range byPartition {
			return appendAsyncTo(logs[p], p, msgs)
		}
	}
	s := &spread{n: len(msgs), done: make(chan struct{})}
	queueErrs := map[int32]error{}
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		idx := byPartition[p]
		part := make([]base.Message, len(idx))
		for j, i := range idx {
			part[j] = msgs[i]
		}
		pa, err := appendAsyncTo(logs[p], p, part)
		if err != nil {
			queueErrs[p] = err
		}
		s.parts = append(s.parts, spreadPart{partition: p, idx: idx, pending: pa, err: err})
	}
	if len(queueErrs) == len(byPartition) { // nothing queued: the plain error, as for one partition
		return nil, queueErrs[s.parts[0].partition]
	}
	go s.collect()
	return s, nil
}

// AppendPartitionAsync queues msgs for partition p as one batch, as AppendPartition writes them, and
// returns without waiting for their commit.
func (t *Topic) AppendPartitionAsync(p int32, msgs []base.Message) (base.PendingAppend, error) {
	l, err := t.Partition(p)
	if err != nil {
		return nil, err
	}
	return appendAsyncTo(l, p, msgs)
}

// appendAsyncTo queues msgs for l, partition p, as one batch.
func appendAsyncTo(l *wal.Log, p int32, msgs []base.Message) (base.PendingAppend, error) {
	if len(msgs) == 0 {
		return base.Completed(nil, nil), nil
	}
	var pa *wal.PendingAppend
	err := withRecords(msgs, func(recs []segment.Record) (err error) {
		pa, err = l.AppendAsync(recs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &pendingBatch{pending: pa, partition: p, n: len(msgs)}, nil
}

// pendingBatch is one batch queued in one partition.
type pendingBatch struct {
	pending   *wal.PendingAppend
	partition int32
	n         int
}

func (b *pendingBatch) Done() <-chan struct{} { return b.pending.Done() }

func (b *pendingBatch) Wait() ([]base.Position, error) {
	first, err := b.pending.Wait()
	if err != nil {
		return nil, err
	}
	return positions(b.partition, first, b.n), nil
}

// spread is one AppendAsync whose messages went to several partitions: one batch queued in each, and a
// goroutine (collect) that waits for them all and puts their positions back in the order of the messages.
type spread struct {
	n     int
	parts []spreadPart
	done  chan struct{} // closed by collect once pos and err are set
	pos   []base.Position
	err   error
}

// spreadPart is one partition's batch of a spread, or the error that kept it from being queued.
type spreadPart struct {
	partition int32
	idx       []int // the indexes of its messages in the call
	pending   base.PendingAppend
	err       error
}

func (s *spread) collect() {
	defer close(s.done)
	out := make([]base.Position, s.n)
	errs := map[int32]error{}
	for _, part := range s.parts {
		var pos []base.Position
		err := part.err
		if err == nil {
			pos, err = part.pending.Wait()
		}
		for j, i := range part.idx {
			if err != nil {
				out[i] = base.Position{Partition: part.partition, Offset: base.NoOffset}
			} else {
				out[i] = pos[j]
			}
		}
		if err != nil {
			errs[part.partition] = err
		}
	}
	switch {
	case len(errs) == len(s.parts):
		s.err = errs[s.parts[0].partition] // nothing appended: the plain error, as for one partition
	case len(errs) > 0:
		s.pos, s.err = out, &base.AppendError{Positions: out, Errs: errs}
	default:
		s.pos = out
	}
}

func (s *spread) Done() <-chan struct{} { return s.done }

func (s *spread) Wait() ([]base.Position, error) {
	<-s.done
	return s.pos, s.err
}
