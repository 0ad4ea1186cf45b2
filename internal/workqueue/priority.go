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
	// every is how many deliveries a level makes in a row before the levels below it get one; 0 for
	// strict priority.
	every  int
	closed atomic.Bool

	mu struct {
		sync.Mutex
		// taken[i] counts the deliveries level i made in a row since a level below it last got one.
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
// gives the turn to the levels below a level that had its run, which are then tried first. It blocks until one of the
// levels has a message or ctx is done, without polling.
func (pc *PriorityConsumer) Next(ctx context.Context) (*Message, error) {
	if pc.closed.Load() {
		return nil, base.ErrClosed
	}
	for {
		order := pc.order()
		var w wait
		for _, level := range order {
			c := pc.levels[level]
			msg, lw, err := c.g.deliver(ctx, c)
			if err != nil {
				return nil, err
			}
			if msg != nil {
				pc.delivered(level)
				msg.Level, msg.priority = level, pc
				return msg, nil
			}
			w.chans = append(w.chans, lw.chans...)
			w.due = earliest(w.due, lw.due)
		}
		if err := pc.levels[0].g.r.waitFor(ctx, &w); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err // (as Consumer.Next)
		}
	}
}

// order returns the levels in the order to try them. From the top: a level whose run is not over comes
// before the levels below it; a level that has made every deliveries in a row while being first comes
// after them, so that the highest level below it with a message gets the next one (and the same rule
// applies there, level by level).
func (pc *PriorityConsumer) order() []int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	n := len(pc.levels)
	order := make([]int, 0, n)
	var after []int // levels whose guard is due, tried last, the deepest first
	for i := 0; i < n; i++ {
		if i < n-1 && pc.every > 0 && pc.mu.taken[i] >= pc.every {
			after = append(after, i)
			continue
		}
		order = append(order, i)
	}
	for i := len(after) - 1; i >= 0; i-- {
		order = append(order, after[i])
	}
	return order
}

// delivered counts a delivery from level: the levels above it had nothing or had their guard due, so
// nothing below them starves; the level itself extends its run, or ends a due guard that found nothing
// below it.
func (pc *PriorityConsumer) delivered(level int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for i := 0; i < level; i++ {
		pc.mu.taken[i] = 0
	}
	if level < len(pc.mu.taken) {
		if pc.mu.taken[level] >= pc.every && pc.every > 0 {
			pc.mu.taken[level] = 0
		} else {
			pc.mu.taken[level]++
		}
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
