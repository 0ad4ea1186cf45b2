package mqlog

import (
	"context"
	"time"

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
func (db *DB) Append(ctx context.Context, topic string, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	pos, err := t.Append(msgs)
	db.commitLatency.since(start)
	return pos, facade(err)
}

// AppendPartition appends msgs to one partition of topic as one batch, ignoring their keys for placement.
func (db *DB) AppendPartition(ctx context.Context, topic string, partition int32, msgs ...Message) ([]Position, error) {
	t, err := db.topicForAppend(ctx, topic)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	pos, err := t.AppendPartition(partition, msgs)
	db.commitLatency.since(start)
	return pos, facade(err)
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
