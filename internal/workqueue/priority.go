package workqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/mqlog/mqlog/internal/base"
)

// A priority queue is one work-queue group per priority level, each level a topic of its own (RabbitMQ's
// priority queues are the model of the delivery order). Why a topic per level rather than a priority per
// message: a log delivers in offset order, so an urgent message appended behind a million bulk ones could
// only go first if the queue read ahead over the million, held them, and kept a cursor per priority; with a
// topic per level every level is a plain queue, appends and acks cost exactly what they cost without
// priorities, and each level keeps its own order, leases, delivery counts and dead letters.

// DefaultLowerShare is the share of deliveries the lower levels of a priority queue get while a higher
// level has messages, when PriorityOptions.LowerShare is zero.
const DefaultLowerShare = 0.1

// PriorityOptions configure a priority queue.
type PriorityOptions struct {
	// LowerShare is the starvation guard: while the levels above a level have messages, the levels below
	// it still get about this share of the deliveries (one in every round(1/LowerShare) deliveries, taken
	// by the highest of them that has a message). 0 means DefaultLowerShare; it must be below 1. Strict
	// priority, with no guard, is a negative value.
	LowerShare float64
}

// PriorityConsumer is a competing consumer of a priority queue: Next delivers from the highest level
// that has a message due, save for the lower levels' share. Its messages are the levels' own: Ack, Nak,
// Term and InProgress act on the level's group. It is safe for concurrent use.
type PriorityConsumer struct {
	levels []*Consumer
	// every is how many deliveries the levels at and above a boundary make, while a level below it waits,
	// before the levels below get one; 0 for strict priority.
	every  int
	closed atomic.Bool

	mu struct {
		sync.Mutex
		// taken[b] counts the deliveries from levels 0..b since a level below b last got one.
		taken []int
	}
}

// OpenPriority opens a competing consumer of the priority queue whose levels, highest first, are the
// work-queue groups name on topics, each opened with opts.
func (r *Registry) OpenPriority(topics []base.Topic, name string, opts Options, popts PriorityOptions) (*PriorityConsumer, error) {
	if len(topics) == 0 {
		return nil, fmt.Errorf("%w: a priority queue needs at least one level", base.ErrQueueOptions)
	}
	share := popts.LowerShare
	if share == 0 {
		share = DefaultLowerShare
	}
	if share >= 1 || math.IsNaN(share) {
		return nil, fmt.Errorf("%w: lower share %v must be below 1", base.ErrQueueOptions, popts.LowerShare)
	}
	pc := &PriorityConsumer{}
	if share > 0 {
		pc.every = max(1, int(math.Round((1-share)/share)))
	}
	seen := map[string]bool{}
	for _, t := range topics {
		if seen[t.Name()] {
			return nil, errors.Join(fmt.Errorf("%w: topic %s is two levels", base.ErrQueueOptions, t.Name()), pc.closeLevels())
		}
		seen[t.Name()] = true
		c, err := r.Open(t, name, opts)
		if err != nil {
			return nil, errors.Join(err, pc.closeLevels())
		}
		pc.levels = append(pc.levels, c)
	}
	pc.mu.taken = make([]int, len(topics)-1)
	return pc, nil
}

// Next delivers the next message: from the highest level with a message due, unless the starvation guard
// gives the turn to the levels below a boundary, which are then tried first. It blocks until one of the
// levels has a message or ctx is done, without polling.
func (pc *PriorityConsumer) Next(ctx context.Context) (*Message, error) {
	if pc.closed.Load() {
		return nil, base.ErrClosed
	}
	for {
		order, guard := pc.order()
		var w wait
		for _, level := range order {
			c := pc.levels[level]
			msg, lw, err := c.g.deliver(ctx, c)
			if err != nil {
				return nil, err
			}
			if msg != nil {
				pc.delivered(level, guard)
				msg.Level, msg.priority = level, pc
				return msg, nil
			}
			w.chans = append(w.chans, lw.chans...)
			w.due = earliest(w.due, lw.due)
		}
		if err := pc.levels[0].g.r.waitFor(ctx, &w); err != nil {
			return nil, err
		}
	}
}

// order returns the levels in the order to try them, and the boundary whose guard is due (-1 for none):
// the deepest boundary whose upper levels have had their run puts the levels below it first.
func (pc *PriorityConsumer) order() ([]int, int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	n := len(pc.levels)
	order := make([]int, 0, n)
	guard := -1
	for b := n - 2; b >= 0 && pc.every > 0; b-- {
		if pc.mu.taken[b] >= pc.every {
			guard = b
			break
		}
	}
	for i := guard + 1; i < n; i++ {
		order = append(order, i)
	}
	for i := 0; i <= guard; i++ {
		order = append(order, i)
	}
	return order, guard
}

// delivered counts a delivery from level, tried in an order whose guard was guard.
func (pc *PriorityConsumer) delivered(level, guard int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for b := range pc.mu.taken {
		if level <= b {
			pc.mu.taken[b]++
		} else {
			pc.mu.taken[b] = 0
		}
	}
	if guard >= 0 && level <= guard {
		pc.mu.taken[guard] = 0 // the levels below had nothing: nobody starves
	}
}

// Close closes the consumer of every level: the messages it holds leased are released at once.
func (pc *PriorityConsumer) Close() error {
	if !pc.closed.CompareAndSwap(false, true) {
		return base.ErrClosed
	}
	return pc.closeLevels()
}

func (pc *PriorityConsumer) closeLevels() error {
	var errs []error
	for _, c := range pc.levels {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
