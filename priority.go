package mqlog

import (
	"context"
	"fmt"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/workqueue"
)

// PriorityOptions configure a priority queue. LowerShare is the starvation guard: while the levels above
// a level have messages, the levels below it still get about this share of the deliveries (0 means
// DefaultLowerShare, 0.1; it must be below 1; a negative value is strict priority, with no guard).
type PriorityOptions = workqueue.PriorityOptions

// DefaultLowerShare is PriorityOptions.LowerShare when it is zero.
const DefaultLowerShare = workqueue.DefaultLowerShare

// PriorityQueue is one competing consumer of a priority queue: one work-queue group per priority level,
// each level a topic of its own (producers append a message to its level's topic). Next delivers from the
// highest level that has a message, except that the levels below a busy level still get
// PriorityOptions.LowerShare of the deliveries. Each level keeps everything a Queue has (leases, acks,
// delivery counts, dead letters, delayed messages, OrderedKeys within the level). Why a topic per level
// rather than a priority per message is in docs/DELIVERY.md. It is safe for concurrent use.
type PriorityQueue struct {
	pc *workqueue.PriorityConsumer
}

// PriorityQueue opens a competing consumer of the priority queue whose levels, highest first, are the
// work-queue groups named group on the topics levels (each created with the defaults when missing),
// every level with opts.
func (db *DB) PriorityQueue(group string, levels []string, opts QueueOptions, popts PriorityOptions) (*PriorityQueue, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	if len(levels) == 0 {
		return nil, fmt.Errorf("%w: a priority queue needs at least one level", ErrQueueOptions)
	}
	topics := make([]base.Topic, len(levels))
	for i, name := range levels {
		t, err := db.catalog.Get(name)
		if err != nil {
			if err := ValidateTopicName(name); err != nil {
				return nil, err
			}
			if t, _, err = db.catalog.Create(name, TopicConfig{}.WithDefaults()); err != nil {
				return nil, err
			}
		}
		topics[i] = t
	}
	pc, err := db.queues.OpenPriority(topics, group, opts, popts)
	if err != nil {
		return nil, err
	}
	return &PriorityQueue{pc: pc}, nil
}

// Next delivers the next message by priority; QueueMessage.Priority says its level. It blocks until a
// level has a message or ctx is done, waking on appends, acks and due times without polling. Once ctx is
// done while it waits it returns ctx's error and leases nothing, as Queue.Next.
func (pq *PriorityQueue) Next(ctx context.Context) (*QueueMessage, error) {
	m, err := pq.pc.Next(ctx)
	if err != nil {
		return nil, err
	}
	return newQueueMessage(m), nil
}

// Close ends this consumer on every level: the messages it holds leased are released at once.
func (pq *PriorityQueue) Close() error { return pq.pc.Close() }
