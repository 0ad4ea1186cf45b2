package workqueue

import (
	"fmt"
	"slices"
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
	// BackOff lists redelivery delays by delivery count (JetStream's BackOff): a message whose n-th
	// delivery ends by Nak(0) or by AckWait passing is due again BackOff[n-1] later (the last entry for
	// every delivery after len(BackOff)). Nak with a delay keeps its delay; closing a consumer releases
	// its messages at once. Empty: at once, as before. Delays live in memory: after a restart, a message
	// not done is due at once.
	BackOff []time.Duration
	// OrderedKeys delivers the messages of one key one at a time: a message whose key has a message
	// delivered and not done (or due again) waits behind it, and a key's messages go out in offset order
	// within a partition, while messages of other keys, and messages without a key, go on in parallel
	// (SQS FIFO's message groups). A redelivery of a key's message holds back that key's later ones. Keys
	// are compared across the partitions of the topic. The messages waiting behind their key are kept as
	// offsets only (at most MaxHeldPerPending x MaxAckPending of them; reading stops at that bound) and
	// read again when their turn comes.
	OrderedKeys bool
}

// MaxHeldPerPending bounds the messages an OrderedKeys group keeps waiting behind their keys, as a
// multiple of MaxAckPending.
const MaxHeldPerPending = 16

// equal reports whether o and p configure a group the same way.
func (o Options) equal(p Options) bool {
	return o.AckWait == p.AckWait && o.MaxDeliver == p.MaxDeliver && o.MaxAckPending == p.MaxAckPending &&
		o.DeadLetterTopic == p.DeadLetterTopic && o.OrderedKeys == p.OrderedKeys && slices.Equal(o.BackOff, p.BackOff)
}

// backoff is the redelivery delay after the deliveries-th delivery ended by a Nak(0) or by AckWait.
func (o *Options) backoff(deliveries int) time.Duration {
	if len(o.BackOff) == 0 {
		return 0
	}
	return o.BackOff[min(max(deliveries, 1), len(o.BackOff))-1]
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
	for _, d := range o.BackOff {
		if d < 0 {
			return fmt.Errorf("%w: negative back-off %v", base.ErrQueueOptions, d)
		}
	}
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
