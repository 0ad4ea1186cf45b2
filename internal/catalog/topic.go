package catalog

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Topic is an open topic: its settings, its incarnation and one log per partition. It implements
// base.Topic.
type Topic struct {
	name        string
	incarnation base.Incarnation
	config      atomic.Pointer[base.TopicConfig]
	logs        atomic.Pointer[[]*wal.Log] // replaced whole when partitions are added
	roundRobin  atomic.Uint64              // picks the partition of keyless batches
	deleted     chan struct{}              // closed by Delete
}

var _ base.Topic = (*Topic)(nil)

func newTopic(name string, inc base.Incarnation, cfg base.TopicConfig) *Topic {
	t := &Topic{name: name, incarnation: inc, deleted: make(chan struct{})}
	t.config.Store(&cfg)
	t.logs.Store(new([]*wal.Log))
	return t
}

// Name returns the topic's name.
func (t *Topic) Name() string { return t.name }

// Incarnation returns the topic's incarnation.
func (t *Topic) Incarnation() base.Incarnation { return t.incarnation }

// Config returns the topic's current settings.
func (t *Topic) Config() base.TopicConfig { return *t.config.Load() }

// Logs returns the partitions' logs, partition i at index i.
func (t *Topic) Logs() []*wal.Log { return *t.logs.Load() }

// Deleted is closed when the topic is deleted.
func (t *Topic) Deleted() <-chan struct{} { return t.deleted }

// Partition returns the log of partition p, or ErrInvalidPartition.
func (t *Topic) Partition(p int32) (*wal.Log, error) {
	logs := t.Logs()
	if p < 0 || int(p) >= len(logs) {
		return nil, fmt.Errorf("%w: %s has no partition %d", base.ErrInvalidPartition, t.name, p)
	}
	return logs[p], nil
}

// Append appends msgs: messages with a key go to the partition Kafka's partitioner picks, messages
// without one go together to the next partition in round-robin order, one call at a time. Messages for
// one partition are written as one batch, so their offsets are contiguous. Positions are in the order of
// msgs. When some partitions fail and others succeed the error is a *base.AppendError saying which
// messages are durable.
func (t *Topic) Append(msgs []base.Message) ([]base.Position, error) {
	logs := t.Logs()
	if len(logs) == 1 {
		return appendTo(logs[0], 0, msgs)
	}
	byPartition := t.placeMessages(len(logs), msgs)
	if len(byPartition) == 1 {
		for p := range byPartition {
			return appendTo(logs[p], p, msgs)
		}
	}
	out := make([]base.Position, len(msgs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[int32]error{}
	for p, idx := range byPartition {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := make([]base.Message, len(idx))
			for j, i := range idx {
				part[j] = msgs[i]
			}
			pos, err := appendTo(logs[p], p, part)
			mu.Lock()
			defer mu.Unlock()
			for j, i := range idx {
				if err != nil {
					out[i] = base.Position{Partition: p, Offset: base.NoOffset}
				} else {
					out[i] = pos[j]
				}
			}
			if err != nil {
				errs[p] = err
			}
		}()
	}
	wg.Wait()
	switch {
	case len(errs) == len(byPartition): // nothing appended: the plain error, as for one partition
		for _, err := range errs {
			return nil, err
		}
	case len(errs) > 0:
		return out, &base.AppendError{Positions: out, Errs: errs}
	}
	return out, nil
}

// placeMessages maps each of n partitions that msgs go to to the indexes of its messages: Kafka's
// partitioner for keyed messages, the next partition in round-robin order for the others.
func (t *Topic) placeMessages(n int, msgs []base.Message) map[int32][]int {
	keyless := int32(t.roundRobin.Add(1) % uint64(n))
	byPartition := make(map[int32][]int, n)
	for i, m := range msgs {
		p := keyless
		if m.Key != nil {
			p = PartitionForKey(m.Key, n)
		}
		byPartition[p] = append(byPartition[p], i)
	}
	return byPartition
}

// AppendPartition appends msgs to partition p as one batch, ignoring their keys for placement.
func (t *Topic) AppendPartition(p int32, msgs []base.Message) ([]base.Position, error) {
	l, err := t.Partition(p)
	if err != nil {
		return nil, err
	}
	return appendTo(l, p, msgs)
}

var recordPool = sync.Pool{New: func() any { return new([]segment.Record) }}

// appendTo appends msgs to l, partition p, as one batch.
func appendTo(l *wal.Log, p int32, msgs []base.Message) ([]base.Position, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var first int64
	err := withRecords(msgs, func(recs []segment.Record) (err error) {
		first, err = l.Append(recs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return positions(p, first, len(msgs)), nil
}

// withRecords calls fn with msgs as records (a pooled slice, cleared after fn, which must not keep it):
// a message without a timestamp gets the time of the call.
func withRecords(msgs []base.Message, fn func([]segment.Record) error) error {
	rp := recordPool.Get().(*[]segment.Record)
	defer recordPool.Put(rp)
	recs := (*rp)[:0]
	now := time.Now().UnixMilli()
	for i := range msgs {
		m := &msgs[i] // not a copy: this loop runs for every message appended
		ts := now
		if !m.Timestamp.IsZero() {
			ts = m.Timestamp.UnixMilli()
		}
		recs = append(recs, segment.Record{Timestamp: ts, Key: m.Key, Value: m.Value, Headers: m.Headers})
	}
	*rp = recs
	err := fn(recs)
	clear(recs) // do not keep the caller's bytes alive in the pool
	return err
}

// positions returns the positions of n records of partition p from offset first on.
func positions(p int32, first int64, n int) []base.Position {
	out := make([]base.Position, n)
	for i := range out {
		out[i] = base.Position{Partition: p, Offset: first + int64(i)}
	}
	return out
}
