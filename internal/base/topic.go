package base

import (
	"context"

	"github.com/mqlog/mqlog/wal"
)

// Topic is an open topic as the rooms see it: its name, its incarnation, its settings and one log per
// partition. The catalog implements it; the others hold it only as long as the topic lives, and check
// Deleted where a stale handle could do harm.
type Topic interface {
	Name() string
	Incarnation() Incarnation
	// Config returns the current settings (AlterTopic may change them at any time).
	Config() TopicConfig
	// Logs returns the partitions' logs, partition i at index i. The slice is the caller's to read, not
	// to change; a topic given more partitions returns a longer one from then on.
	Logs() []*wal.Log
	// Deleted is closed when the topic is deleted.
	Deleted() <-chan struct{}
}

// Topics finds open topics by name.
type Topics interface {
	// Topic returns the open topic name, or an error wrapping ErrTopicNotFound (ErrClosed once closed).
	Topic(name string) (Topic, error)
	// TopicNames returns the names of the open topics, sorted.
	TopicNames() []string
}

// Appender appends messages to a topic, creating it with the defaults when missing: what the work queue
// needs to write dead letters.
type Appender interface {
	Append(ctx context.Context, topic string, msgs ...Message) ([]Position, error)
}
