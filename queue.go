package mqlog

import (
	"context"
	"time"

	"github.com/mqlog/mqlog/internal/workqueue"
)

// QueueOptions configure a work-queue group; zero fields take the defaults.
//
//   - AckWait: how long a delivered message stays leased without Ack, Nak or InProgress before it is
//     delivered again (DefaultAckWait, 30 s).
//   - MaxDeliver: how many times a message is delivered at most; a message delivered MaxDeliver times
//     that comes due again goes to DeadLetterTopic (or is dropped without one) and is acked. Delivery
//     counts survive restarts. Zero means no limit.
//   - MaxAckPending: the most messages delivered and not acked over the group's consumers
//     (DefaultMaxAckPending, 1000).
//   - DeadLetterTopic: receives the messages that reached MaxDeliver, with the DeadLetterHeader... headers.
//   - BackOff: redelivery delays by delivery count (JetStream's BackOff), used when AckWait passes and on
//     Nak(0); the last one repeats. Empty: at once.
//   - OrderedKeys: a key's messages one at a time, in offset order within a partition; other keys in
//     parallel (SQS FIFO's message groups). A redelivery holds back the key's later messages.
//
// Messages appended with a DeliverAt in the future are delivered once it has come (docs/DELIVERY.md).
type QueueOptions = workqueue.Options

// Defaults of QueueOptions' zero fields (those of NATS JetStream).
const (
	DefaultAckWait       = workqueue.DefaultAckWait
	DefaultMaxAckPending = workqueue.DefaultMaxAckPending
)

// Headers added to a dead-lettered message, after its own headers. Values are decimal text, except the
// topic name and the group.
const (
	DeadLetterHeaderTopic      = workqueue.DeadLetterHeaderTopic
	DeadLetterHeaderPartition  = workqueue.DeadLetterHeaderPartition
	DeadLetterHeaderOffset     = workqueue.DeadLetterHeaderOffset
	DeadLetterHeaderDeliveries = workqueue.DeadLetterHeaderDeliveries
	DeadLetterHeaderGroup      = workqueue.DeadLetterHeaderGroup
)

// QueuePartitionState is a work-queue group's state in one partition, as the index holds it: Topic,
// Partition; Floor, below which every message is done; AckedAbove, the done messages above Floor, in
// AckRanges ranges; Unacked, the messages not done up to the high watermark; Delivered, the delivery
// cursor (every message below it was delivered at least once); Redelivering, the messages not done that
// were delivered more than once; Scheduled, the messages read before their DeliverAt and waiting for it
// (or for their ack) in the timer index, which are not in Unacked.
type QueuePartitionState = workqueue.PartitionState

// Queue is one competing consumer of a work-queue group (NATS JetStream's model): the group's consumers
// share the topic's messages, each message is delivered to one of them and stays leased to it until Ack,
// Nak, Term, or until AckWait passes. Every Queue handle of a group in one DB competes for the same
// messages. A Queue is safe for concurrent use; so are its messages.
//
// The group's state lives in the index, saved with pebble.Sync: what is done (acked, terminated,
// dead-lettered, or removed by compaction), before Ack returns; and which messages were delivered and how
// often, before Next hands a message out. After a crash every message not acked is delivered again with
// its delivery count, and no acked one is. When retention deletes messages the group has not finished, the
// group skips them (they are counted in Metrics and logged): retention by size and age wins, as in Kafka
// and JetStream. docs/CONSUMERS.md has the details.
type Queue struct {
	c *workqueue.Consumer
}

// QueueMessage is a delivered message: the record and its lease. Exactly one of Ack, Nak or Term ends the
// lease; InProgress extends it.
type QueueMessage struct {
	Record
	// Deliveries is how many times this message has been delivered, this one included. It survives
	// restarts: a message delivered before a crash counts as delivered after it.
	Deliveries int
	// Priority is the level the message came from when a PriorityQueue delivered it (0 the highest); 0
	// from a Queue.
	Priority int

	m *workqueue.Message
}

func newQueueMessage(m *workqueue.Message) *QueueMessage {
	return &QueueMessage{Record: m.Record, Deliveries: m.Deliveries, Priority: m.Level, m: m}
}

// Queue opens a competing consumer of the work-queue group named group on topic. The group's state is
// created (synced, at each partition's start offset) the first time the group is opened; the options of
// every handle of one group open at once must be equal (ErrQueueOptions).
func (db *DB) Queue(topic, group string, opts QueueOptions) (*Queue, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return nil, err
	}
	c, err := db.queues.Open(t, group, opts)
	if err != nil {
		return nil, err
	}
	return &Queue{c: c}, nil
}

// Next delivers the next message: one due again (nak'd, or whose AckWait passed) first, the one due
// earliest first, else the next unacked message of the topic, taking partitions in turn. It blocks until
// there is one or ctx is done, waking on appends, acks and lease deadlines without polling. With a ctx
// that is already done it takes a message only if one is ready now (a take that does not block); once it
// has waited, the end of ctx ends it with ctx's error and nothing leased, even when a message became
// ready at the same moment: a delivery counts toward MaxDeliver.
func (q *Queue) Next(ctx context.Context) (*QueueMessage, error) {
	m, err := q.c.Next(ctx)
	if err != nil {
		return nil, facade(err)
	}
	return newQueueMessage(m), nil
}

// Close ends this consumer: the messages it holds leased are released for redelivery at once. The
// group's state stays.
func (q *Queue) Close() error { return q.c.Close() }

// Ack acknowledges the message: it is never delivered again, even after a crash, once Ack returns nil.
// Acking a message whose lease has ended still acks it (the work was done); acking twice is not an error.
// Once every Queue handle of the group is closed, its messages' Ack, Nak, InProgress and Term return
// ErrClosed: they are delivered again to the next opener.
func (m *QueueMessage) Ack() error { return facade(m.m.Ack()) }

// AckNext acknowledges the message and delivers the next one to the same Queue handle, as Ack then Next
// do; when the next message comes from the same partition, the ack and the delivery share one synced save,
// so a worker that takes one message at a time pays one fsync per message instead of two (JetStream's
// AckNext). Once it returns, the message is acked even when the delivery failed (ctx done, say). For a
// message of a PriorityQueue it is Ack, then the priority queue's Next.
func (m *QueueMessage) AckNext(ctx context.Context) (*QueueMessage, error) {
	next, err := m.m.AckNext(ctx)
	if err != nil {
		return nil, facade(err)
	}
	return newQueueMessage(next), nil
}

// Term acknowledges the message without processing it: it is not delivered again (JetStream's Term).
// Unlike Ack it fails with ErrStaleDelivery when the lease has ended.
func (m *QueueMessage) Term() error { return facade(m.m.Term()) }

// Nak ends the lease without acknowledging: the message is delivered again after delay, to any consumer
// of the group. A zero delay means the BackOff delay of its delivery count (at once without BackOff).
func (m *QueueMessage) Nak(delay time.Duration) error { return facade(m.m.Nak(delay)) }

// InProgress extends the lease by AckWait from now, for work that takes longer than AckWait.
func (m *QueueMessage) InProgress() error { return facade(m.m.InProgress()) }

// QueueGroups returns the names of the work-queue groups that have state, sorted.
func (db *DB) QueueGroups() ([]string, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.queues.Groups()
}

// QueueGroupState returns the durable state of a work-queue group in every partition it has state in,
// sorted by topic and partition.
func (db *DB) QueueGroupState(group string) ([]QueuePartitionState, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.queues.State(group)
}
