package mqlog

import (
	"context"
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
)

// Append appends msgs to topic, creating the topic with the default config when it does not exist (unless
// Options.NoAutoCreateTopics, then ErrTopicNotFound).
// Messages with a key go to the partition Kafka's partitioner picks; messages without one go together to
// the next partition in round-robin order, one call at a time. Messages for one partition are written as
// one batch, so their offsets are contiguous. Positions are returned in the order of msgs.
//
// Under SyncAlways (the default) Append returns once every message is on disk. ctx is checked before the
// messages are queued; once queued, Append waits for their outcome, never abandoning a write in flight.
// When the messages go to several partitions and some fail, the error is an *AppendError whose Positions
// say which messages are durable (the others have Offset NoOffset), so that a retry appends nothing twice.
//
// A message with an ID (Message.ID or the HeaderMessageID header) whose id was appended to the topic
// within its duplicate window is not appended again: its Position is the original's, with Duplicate set
// (docs/DELIVERY.md). Message.DeliverAt holds the message back from work queues until then.
func (db *DB) Append(ctx context.Context, topic string, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	msgs, ids, err := base.PrepareDelivery(msgs)
	if err != nil {
		return nil, facade(err)
	}
	start := time.Now()
	var pos []Position
	if ids {
		pos, err = db.dedup.Append(t, msgs, t.Append)
	} else {
		pos, err = t.Append(msgs)
	}
	db.commitLatency.since(start)
	return pos, facade(err)
}

// AppendPartition appends msgs to one partition of topic as one batch, ignoring their keys for placement.
// Message ids and delivery times work as in Append.
func (db *DB) AppendPartition(ctx context.Context, topic string, partition int32, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	msgs, ids, err := base.PrepareDelivery(msgs)
	if err != nil {
		return nil, facade(err)
	}
	start := time.Now()
	var pos []Position
	if ids {
		pos, err = db.dedup.Append(t, msgs, func(msgs []Message) ([]Position, error) { return t.AppendPartition(partition, msgs) })
	} else {
		pos, err = t.AppendPartition(partition, msgs)
	}
	db.commitLatency.since(start)
	return pos, facade(err)
}

// deadLetterAppender is how the work queue appends dead letters: without message-id deduplication, since
// a dead letter keeps its message's headers and two messages of one id (from two topics, or further apart
// than a window) must both reach a shared dead-letter topic.
type deadLetterAppender struct{ db *DB }

func (a deadLetterAppender) Append(ctx context.Context, topic string, msgs ...Message) ([]Position, error) {
	if r := a.db.queueStore.replicator.Load(); r != nil {
		return a.appendReplicated(ctx, *r, topic, msgs)
	}
	t, err := a.db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	return t.Append(msgs)
}

// topicForAppend returns the topic, creating it with the defaults when it is missing.
func (db *DB) topicForAppend(ctx context.Context, name string) (*catalog.Topic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := db.writable(); err != nil {
		return nil, err
	}
	t, err := db.catalog.Get(name)
	if err == nil || db.opts.NoAutoCreateTopics {
		return t, err
	}
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	t, created, err := db.catalog.Create(name, TopicConfig{}.WithDefaults())
	if created {
		db.opts.Logger.Info("mqlog: created topic on first append", "topic", name, "partitions", t.Config().Partitions)
	}
	return t, err
}
