package mqlog

import (
	"context"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
	"github.com/mqlog/mqlog/internal/dedup"
)

// Pipelined appends. Append returns once its messages are durable, so a lone producer encodes (and
// checksums) its next batch only after the previous batch's fsync: that work is serial with the disk.
// AppendAsync returns once the batch is queued, its offsets assigned, and the partition's group commit
// writes and syncs it while the caller goes on: the producer encodes batch N+1 while batch N syncs, as a
// Kafka producer keeps several requests in flight (max.in.flight.requests.per.connection). Batches queued
// while a commit runs share the next write and fsync.

// PendingAppend is an append queued by DB.AppendAsync or DB.AppendPartitionAsync whose commit is under
// way. Its messages are not durable, nor readable, until Done is closed; Wait says how it ended.
type PendingAppend struct {
	p base.PendingAppend
}

// Wait blocks until the append's commit is over and returns what Append would have returned: the
// positions in the order of the messages, or the error (an *AppendError when some partitions failed and
// others did not). Under SyncAlways it returns only after the fsync that covers every message. It may be
// called any number of times, from any goroutine.
func (p *PendingAppend) Wait() ([]Position, error) {
	pos, err := p.p.Wait()
	return pos, facade(err)
}

// Done is closed once the append's commit is over; Wait then returns at once.
func (p *PendingAppend) Done() <-chan struct{} { return p.p.Done() }

// AppendAsync is Append without the wait: it checks and queues msgs as Append does (the same topic
// creation, partition choice, limits and errors) and returns once their offsets are assigned, leaving
// their write and fsync to the partition's group commit. An error returned here means nothing was
// queued; the outcome of what was queued is the PendingAppend's Wait, with Append's durability contract:
// under SyncAlways, Wait returns only after the fsync that covers the messages, and a crash before it may
// leave them present or absent, never half of a batch and never out of order.
//
// Two AppendAsync calls made one after the other get increasing offsets in each partition and reach the
// disk in that order, so a producer may queue batch N+1 before batch N is durable. A failed write or
// fsync fails every batch of its commit and stops the partition's log (ErrFailStop) as after a failed
// Append, so nothing queued behind a failed batch becomes durable either. msgs may be reused once
// AppendAsync returns.
//
// Messages with an ID are deduplicated as by Append: the duplicates are answered with the original
// positions, and the ids of the others are recorded when their commit ends (a goroutine waits for it,
// whether or not Wait is called). An AppendAsync with an id that another append still has in flight
// blocks until that one ends.
//
// Nothing bounds how many appends a caller keeps in flight: each holds its encoded batch in memory until
// its commit, so a producer waits for its oldest before queueing more (two in flight are enough to keep
// the disk busy). Close commits what is queued before it closes.
func (db *DB) AppendAsync(ctx context.Context, topic string, msgs ...Message) (*PendingAppend, error) {
	return db.appendAsync(ctx, topic, msgs, func(t *catalog.Topic) dedup.QueueFunc { return t.AppendAsync })
}

// AppendPartitionAsync is AppendPartition without the wait, as AppendAsync is Append's: msgs are queued
// to one partition of topic as one batch, ignoring their keys for placement.
func (db *DB) AppendPartitionAsync(ctx context.Context, topic string, partition int32, msgs ...Message) (*PendingAppend, error) {
	return db.appendAsync(ctx, topic, msgs, func(t *catalog.Topic) dedup.QueueFunc {
		return func(msgs []base.Message) (base.PendingAppend, error) { return t.AppendPartitionAsync(partition, msgs) }
	})
}

// appendAsync is the body of AppendAsync and AppendPartitionAsync: queue picks how the topic's batches
// are queued.
func (db *DB) appendAsync(ctx context.Context, topic string, msgs []Message, queue func(*catalog.Topic) dedup.QueueFunc) (*PendingAppend, error) {
	t, err := db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	msgs, ids, err := base.PrepareDelivery(msgs)
	if err != nil {
		return nil, facade(err)
	}
	var p base.PendingAppend
	if ids {
		p, err = db.dedup.AppendAsync(t, msgs, queue(t))
	} else {
		p, err = queue(t)(msgs)
	}
	if err != nil {
		return nil, facade(err)
	}
	return &PendingAppend{p: p}, nil
}
