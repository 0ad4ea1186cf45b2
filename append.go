package mqlog

import (
	"context"
	"sync"
	"time"

	"github.com/mqlog/mqlog/segment"
)

// Header is a record header: a key and an optional value.
type Header = segment.RecordHeader

// Message is what a producer appends.
type Message struct {
	Key       []byte // nil for no key; a key picks the partition (Kafka's murmur2)
	Value     []byte // nil is a null value (a tombstone in a compacted topic)
	Headers   []Header
	Timestamp time.Time // zero means the time of the Append
}

// Position is where an appended message landed.
type Position struct {
	Partition int32
	Offset    int64
}

// Append appends msgs to topic, creating the topic with the default config when it does not exist.
// Messages with a key go to the partition Kafka's partitioner picks; messages without one go together to
// the next partition in round-robin order, one call at a time. Messages for one partition are written as
// one batch, so their offsets are contiguous. Positions are returned in the order of msgs.
//
// Under SyncAlways (the default) Append returns once every message is on disk. ctx is checked before the
// messages are queued; once queued, Append waits for their outcome, never abandoning a write in flight.
func (db *DB) Append(ctx context.Context, topicName string, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topicName)
	if err != nil {
		return nil, err
	}
	n := len(t.partitions)
	if n == 1 {
		return db.appendPartition(t, 0, msgs)
	}
	keyless := int32(t.roundRobin.Add(1) % uint64(n))
	byPartition := make(map[int32][]int, n)
	for i, m := range msgs {
		p := keyless
		if m.Key != nil {
			p = partitionForKey(m.Key, n)
		}
		byPartition[p] = append(byPartition[p], i)
	}
	if len(byPartition) == 1 {
		for p := range byPartition {
			return db.appendPartition(t, p, msgs)
		}
	}
	out := make([]Position, len(msgs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for p, idx := range byPartition {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := make([]Message, len(idx))
			for j, i := range idx {
				part[j] = msgs[i]
			}
			pos, err := db.appendPartition(t, p, part)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			for j, i := range idx {
				out[i] = pos[j]
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// AppendPartition appends msgs to one partition of topic as one batch, ignoring their keys for placement.
func (db *DB) AppendPartition(ctx context.Context, topicName string, partition int32, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topicName)
	if err != nil {
		return nil, err
	}
	if _, err := t.partition(partition); err != nil {
		return nil, err
	}
	return db.appendPartition(t, partition, msgs)
}

func (db *DB) topicForAppend(ctx context.Context, name string) (*topic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if db.readOnly {
		return nil, ErrReadOnly
	}
	t, err := db.topic(name)
	if err == nil {
		return t, nil
	}
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	return db.createTopic(name, TopicConfig{}.withDefaults())
}

var recordPool = sync.Pool{New: func() any { return new([]segment.Record) }}

func (db *DB) appendPartition(t *topic, p int32, msgs []Message) ([]Position, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
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
	base, err := t.partitions[p].Append(recs)
	clear(recs) // do not keep the caller's bytes alive in the pool
	if err != nil {
		return nil, err
	}
	out := make([]Position, len(msgs))
	for i := range msgs {
		out[i] = Position{Partition: p, Offset: base + int64(i)}
	}
	return out, nil
}
