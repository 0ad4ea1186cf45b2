package workqueue

import (
	"fmt"
	"time"

	"github.com/mqlog/mqlog/internal/base"
)

// Defaults of Options' zero fields (those of NATS JetStream).
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1000
)

// Options configure a work-queue group. Zero fields take the defaults.
type Options struct {
	// AckWait is how long a delivered message stays leased to its consumer without Ack, Nak or
	// InProgress before it is delivered again (DefaultAckWait).
	AckWait time.Duration
	// MaxDeliver is how many times a message is delivered at most; when a message that has been
	// delivered MaxDeliver times comes due again, it goes to DeadLetterTopic instead (or is dropped when
	// DeadLetterTopic is empty) and is acked. Delivery counts survive restarts. Zero or negative means no
	// limit.
	MaxDeliver int
	// MaxAckPending bounds the messages delivered and not yet acked or terminated, over every consumer of
	// the group; at the bound, Next delivers only messages due again (DefaultMaxAckPending).
	MaxAckPending int
	// DeadLetterTopic receives the messages that reached MaxDeliver, with headers naming where they came
	// from (see DeadLetterHeader...). It is created with the default config when it does not exist.
	DeadLetterTopic string
}

// Headers added to a dead-lettered message, after its own headers. Values are decimal text, except the
// topic name and the group.
const (
	DeadLetterHeaderTopic      = "mqlog-dlq-topic"
	DeadLetterHeaderPartition  = "mqlog-dlq-partition"
	DeadLetterHeaderOffset     = "mqlog-dlq-offset"
	DeadLetterHeaderDeliveries = "mqlog-dlq-deliveries"
	DeadLetterHeaderGroup      = "mqlog-dlq-group"
)

// WithDefaults fills the zero fields.
func (o Options) WithDefaults() Options {
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = DefaultMaxAckPending
	}
	if o.MaxDeliver < 0 {
		o.MaxDeliver = 0
	}
	return o
}

// validate checks o for a group on topic.
func (o Options) validate(topic string) error {
	if o.DeadLetterTopic == "" {
		return nil
	}
	if err := base.ValidateTopicName(o.DeadLetterTopic); err != nil {
		return err
	}
	if o.DeadLetterTopic == topic {
		return fmt.Errorf("%w: the dead-letter topic is the queue's own topic %s", base.ErrQueueOptions, topic)
	}
	return nil
}
