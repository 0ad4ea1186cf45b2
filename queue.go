package mqlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/wal"
)

// Errors of the work queue, for errors.Is.
var (
	// ErrStaleDelivery is returned by Nak, InProgress and Term on a message whose lease has ended: it
	// was acked, nak'd, or its AckWait passed and it may have been delivered again.
	ErrStaleDelivery = errors.New("mqlog: queue message is no longer leased by this delivery")
	// ErrQueueOptions is returned by Queue for options that are invalid or differ from those of a handle
	// of the same group already open in this DB.
	ErrQueueOptions = errors.New("mqlog: invalid queue options")
)

// Defaults of QueueOptions' zero fields (those of NATS JetStream).
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1000
)

// QueueOptions configure a work-queue group. Zero fields take the defaults.
type QueueOptions struct {
	// AckWait is how long a delivered message stays leased to its consumer without Ack, Nak or
	// InProgress before it is delivered again (DefaultAckWait).
	AckWait time.Duration
	// MaxDeliver is how many times a message is delivered at most; when a message that has been
	// delivered MaxDeliver times comes due again, it goes to DeadLetterTopic instead (or is dropped when
	// DeadLetterTopic is empty) and is acked. Zero or negative means no limit.
	MaxDeliver int
	// MaxAckPending bounds the messages delivered and not yet acked or terminated, over every consumer of
	// the group; at the bound, Next delivers only messages due again (DefaultMaxAckPending).
	MaxAckPending int
	// DeadLetterTopic receives the messages that reached MaxDeliver, with headers naming where they came
	// from (see DeadLetterHeader...). It is created with the default config when it does not exist.
	DeadLetterTopic string
}

// Headers added to a dead-lettered message, after its own headers. Values are decimal text, except the
// topic name.
const (
	DeadLetterHeaderTopic      = "mqlog-dlq-topic"
	DeadLetterHeaderPartition  = "mqlog-dlq-partition"
	DeadLetterHeaderOffset     = "mqlog-dlq-offset"
	DeadLetterHeaderDeliveries = "mqlog-dlq-deliveries"
	DeadLetterHeaderGroup      = "mqlog-dlq-group"
)

func (o QueueOptions) withDefaults() QueueOptions {
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

// Queue is one competing consumer of a work-queue group (NATS JetStream's model): the group's consumers
// share the topic's messages, each message is delivered to one of them and stays leased to it until Ack,
// Nak, Term, or until AckWait passes. Every Queue handle of a group in one DB competes for the same
// messages. A Queue is safe for concurrent use; so are its messages.
//
// The group's acknowledgements live in the index: a floor below which everything is acked and the ranges
// acked above it, saved with pebble.Sync before Ack returns. After a crash every message not acked is
// delivered again, and no acked one is. Delivery counts live in memory only: a restart sets them back to
// zero (docs/CONSUMERS.md says why).
type Queue struct {
	group  *queueGroup
	closed atomic.Bool // set before Close releases the leases; checked under the group's mu by deliver
}

// QueueMessage is a delivered message: the record and its lease. Exactly one of Ack, Nak or Term ends the
// lease; InProgress extends it.
type QueueMessage struct {
	Record
	// Deliveries is how many times this message has been delivered, this one included, since the group
	// was opened (by its first Queue handle in this DB); counts are not persisted.
	Deliveries int

	queue     *Queue
	partition *queuePartition
	delivery  uint64 // the delivery this message is; a later delivery of the same offset has another
}

// Queue opens a competing consumer of the work-queue group named group on topicName. The group's ack state
// is created (synced, at each partition's start offset) the first time the group is opened; the options
// of every handle of one group open at once must be equal (ErrQueueOptions).
func (db *DB) Queue(topicName, group string, opts QueueOptions) (*Queue, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if opts.DeadLetterTopic != "" {
		if err := ValidateTopicName(opts.DeadLetterTopic); err != nil {
			return nil, err
		}
		if opts.DeadLetterTopic == topicName {
			return nil, fmt.Errorf("%w: the dead-letter topic is the queue's own topic %s", ErrQueueOptions, topicName)
		}
	}
	t, err := db.topic(topicName)
	if err != nil {
		return nil, err
	}
	g, err := db.queues.join(db, t, group, opts)
	if err != nil {
		return nil, err
	}
	return &Queue{group: g}, nil
}

// Next delivers the next message: one due again (nak'd, or whose AckWait passed) first, else the next
// unacked message of the topic, taking partitions in turn. It blocks until there is one or ctx is done,
// waking on appends, acks and lease deadlines without polling.
func (q *Queue) Next(ctx context.Context) (*QueueMessage, error) {
	for {
		msg, wait, err := q.group.deliver(ctx, q)
		if msg != nil || err != nil {
			return msg, err
		}
		if err := wait.block(ctx); err != nil {
			return nil, err
		}
	}
}

// Close ends this consumer: the messages it holds leased are released for redelivery at once. The
// group's ack state stays.
func (q *Queue) Close() error {
	if !q.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	q.group.release(q)
	q.group.db.queues.leave(q.group)
	return nil
}

// Ack acknowledges the message: it is never delivered again, even after a crash, once Ack returns nil.
// Acking a message whose lease has ended still acks it (the work was done); acking twice is not an error.
// Once every Queue handle of the group is closed, its messages' Ack, Nak, InProgress and Term return
// ErrClosed: they are delivered again to the next opener.
func (m *QueueMessage) Ack() error { return m.queue.group.ack(m, false) }

// Term acknowledges the message without processing it: it is not delivered again (JetStream's Term).
// Unlike Ack it fails with ErrStaleDelivery when the lease has ended.
func (m *QueueMessage) Term() error { return m.queue.group.ack(m, true) }

// Nak ends the lease without acknowledging: the message is delivered again after delay (at once when delay
// is zero), to any consumer of the group.
func (m *QueueMessage) Nak(delay time.Duration) error { return m.queue.group.nak(m, delay) }

// InProgress extends the lease by AckWait from now, for work that takes longer than AckWait.
func (m *QueueMessage) InProgress() error { return m.queue.group.extend(m) }

// queueRegistry holds the open work-queue groups of a DB.
type queueRegistry struct {
	mu     sync.Mutex
	groups map[[2]string]*queueGroup
	saves  atomic.Int64 // synced saves of ack state, for the benchmarks' acks per save
}

func (r *queueRegistry) join(db *DB, t *topic, name string, opts QueueOptions) (*queueGroup, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := [2]string{t.name, name}
	if g := r.groups[key]; g != nil {
		if g.opts != opts {
			return nil, fmt.Errorf("%w: group %s on %s is open with %+v", ErrQueueOptions, name, t.name, g.opts)
		}
		g.handles++
		return g, nil
	}
	g, err := openQueueGroup(db, t, name, opts)
	if err != nil {
		return nil, err
	}
	if r.groups == nil {
		r.groups = make(map[[2]string]*queueGroup)
	}
	g.handles = 1
	r.groups[key] = g
	return g, nil
}

func (r *queueRegistry) leave(g *queueGroup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.handles--
	if g.handles == 0 {
		// Its messages can no longer be acked, and its saves in flight land before a new open of the
		// group loads the state: a later save of this one must not overwrite what the new one saves.
		g.closeAndDrain()
		delete(r.groups, [2]string{g.topic.name, g.name})
	}
}

// openQueueGroup loads the group's ack state of every partition, clamps it to what each log holds, and
// saves the state of partitions that have none yet.
func openQueueGroup(db *DB, t *topic, name string, opts QueueOptions) (*queueGroup, error) {
	g := &queueGroup{db: db, topic: t, name: name, opts: opts}
	g.mu.changed = make(chan struct{})
	stored, err := db.store.AckStates(name)
	if err != nil {
		return nil, err
	}
	byPartition := make(map[int32]index.AckState)
	for _, st := range stored {
		if st.Topic == t.name {
			byPartition[st.Partition] = st
		}
	}
	for i, l := range t.partitions {
		p := &queuePartition{index: int32(i), log: l, pending: make(map[int64]*pendingMessage)}
		p.persist.cond.L = &g.mu
		st, ok := byPartition[int32(i)]
		p.acks = ackSet{floor: st.Floor, ranges: st.Acked}
		// Never past the readable end, never below the log start (retention removed those).
		p.acks.truncate(l.HighWatermark())
		p.acks.raiseFloor(l.StartOffset())
		if !ok {
			if err := db.store.SaveAckState(p.state(g)); err != nil {
				return nil, err
			}
		}
		r, err := l.NewReader(p.acks.floor, true)
		if err != nil {
			return nil, err
		}
		p.reader = r
		g.mu.partitions = append(g.mu.partitions, p)
	}
	return g, nil
}

// queueGroup is the state of one work-queue group on one topic, shared by its Queue handles.
type queueGroup struct {
	db      *DB
	topic   *topic
	name    string
	opts    QueueOptions
	handles int // under the registry's mu

	mu struct {
		sync.Mutex
		partitions []*queuePartition
		pending    int    // messages delivered and not acked, over all partitions
		next       int    // the partition to read new messages from first
		deliveries uint64 // sequence of deliveries, for the identity of leases
		changed    chan struct{}
		err        error // sticky: a failed save of the ack state, or ErrClosed after the last handle
	}
}

// queuePartition is the group's state in one partition. Fields are guarded by the group's mu.
type queuePartition struct {
	index   int32
	log     *wal.Log
	reader  *wal.Reader // the next message never delivered
	acks    ackSet
	pending map[int64]*pendingMessage

	persist struct {
		cond    sync.Cond // on the group's mu: a save finished
		version uint64    // changes of acks
		durable uint64    // the version the last finished save covered
		saving  bool
	}
}

// pendingMessage is a delivered message that is not acked: leased to a consumer, or waiting to be
// delivered again.
type pendingMessage struct {
	rec         Record
	deliveries  int
	delivery    uint64    // the current lease; 0 when not leased
	owner       *Queue    // the lease's holder
	due         time.Time // leased: end of the lease; not leased: when it may be delivered again
	deadLetting bool      // being written to the dead-letter topic
}

func (p *queuePartition) state(g *queueGroup) index.AckState {
	return index.AckState{Group: g.name, Topic: g.topic.name, Partition: p.index, Floor: p.acks.floor,
		Acked: append([]index.AckRange(nil), p.acks.ranges...)}
}

// closeAndDrain makes every later call on the group fail with ErrClosed and waits for saves in flight.
func (g *queueGroup) closeAndDrain() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.err == nil {
		g.mu.err = ErrClosed
	}
	for _, p := range g.mu.partitions {
		for p.persist.saving {
			p.persist.cond.Wait()
		}
	}
	g.changedLocked()
}

// changedLocked wakes every waiting Next: a message may have become deliverable or the pending count
// dropped.
func (g *queueGroup) changedLocked() {
	close(g.mu.changed)
	g.mu.changed = make(chan struct{})
}
