package workqueue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/fanin"
	"github.com/mqlog/mqlog/wal"
)

// Consumer is one competing consumer of a work-queue group. It is safe for concurrent use; so are its
// messages.
type Consumer struct {
	g      *group
	closed atomic.Bool // set before Close releases the leases; checked under the group's mu by deliver
}

// Message is a delivered message: the record and its lease. Exactly one of Ack, Nak or Term ends the
// lease; InProgress extends it.
type Message struct {
	base.Record
	// Deliveries is how many times this message has been delivered, this one included; it survives
	// restarts.
	Deliveries int

	// Level is the priority level the message came from, 0 the highest, when a PriorityConsumer
	// delivered it; 0 otherwise.
	Level int

	consumer *Consumer
	pm       *pendingMessage
	delivery uint64            // the delivery this message is; a later delivery of the same offset has another
	priority *PriorityConsumer // the priority queue that delivered it, if one did
}

// wait is what a Next with nothing to deliver waits for.
type wait struct {
	chans []<-chan struct{} // the group's (an ack, nak or release) and the logs' (new messages)
	due   time.Time         // the earliest lease end, redelivery or delivery time; zero for none
}

// waitFor blocks until something in w may have changed or ctx is done. Due times are on the registry's
// clock.
func (r *Registry) waitFor(ctx context.Context, w *wait) error {
	var timer <-chan time.Time
	if !w.due.IsZero() {
		t := time.NewTimer(max(w.due.Sub(r.now()), 0))
		defer t.Stop()
		timer = t.C
	}
	return fanin.Wait(ctx, timer, w.chans...)
}

// Next delivers the next message: one due again (nak'd, or whose AckWait passed) first, else the next
// message not done of the topic, taking partitions in turn. It blocks until there is one or ctx is done,
// waking on appends, acks and lease deadlines without polling. With a ctx that is already done it takes a
// message only if one is ready now (a take that does not block); once it has waited, the end of ctx ends
// it with ctx's error and nothing leased, even when a message became ready at the same moment, because a
// delivery's count, saved before Next returns, counts toward MaxDeliver.
func (c *Consumer) Next(ctx context.Context) (*Message, error) {
	for {
		msg, w, err := c.g.deliver(ctx, c)
		if msg != nil || err != nil {
			return msg, err
		}
		if err := c.g.r.waitFor(ctx, w); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err // (see Next's doc)
		}
	}
}

// AckNext acknowledges m and delivers the next message to m's consumer, as Ack then Next do, but when the
// next message comes from m's partition the ack and the delivery share one synced save: a worker that
// takes one message at a time pays one fsync per message instead of two (JetStream's AckNext). Once it
// returns, m is acked even when the delivery fails (ctx done, say); on an error before the ack (a closed
// group), m is not.
func (m *Message) AckNext(ctx context.Context) (*Message, error) {
	if m.priority != nil { // the next message is the priority queue's choice, from any level
		if err := m.Ack(); err != nil {
			return nil, err
		}
		return m.priority.Next(ctx)
	}
	g := m.consumer.g
	g.mu.Lock()
	if err := g.mu.err; err != nil {
		g.mu.Unlock()
		return nil, err
	}
	p := m.pm.partition
	g.markDoneLocked(p, m.pm.rec.Offset)
	acked := p.persist.version
	msg, w, err := g.deliverLocked(ctx, m.consumer)
	// Whatever the delivery did, the ack must be durable before AckNext returns; once the delivery's save
	// covered it this waits for nothing (other consumers' later changes are theirs to wait for).
	if perr := g.persistVersionLocked(p, acked); perr != nil && err == nil {
		msg, err = nil, perr
	}
	g.mu.Unlock()
	if msg != nil || err != nil {
		return msg, err
	}
	if err := g.r.waitFor(ctx, w); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // (see Next's doc)
	}
	return m.consumer.Next(ctx)
}

// Close ends this consumer: the messages it holds leased are released for redelivery at once. The
// group's state stays.
func (c *Consumer) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return base.ErrClosed
	}
	c.g.release(c)
	c.g.r.leave(c.g)
	return nil
}

// deletedErr returns ErrTopicNotFound once g's topic is deleted, nil before. The registry's TopicDeleted
// makes it g's sticky error too, but only after the catalog has closed the topic's logs (and, on a
// replicated node, in a goroutine of its own): in between, a delivery must not go on from what was read
// ahead, nor fail with the closed log's ErrClosed.
func (g *group) deletedErr() error {
	select {
	case <-g.topic.Deleted():
		return fmt.Errorf("%w: %s was deleted", base.ErrTopicNotFound, g.topic.Name())
	default:
		return nil
	}
}

// deliver leases the next deliverable message to c, or says what to wait for when there is none.
func (g *group) deliver(ctx context.Context, c *Consumer) (*Message, *wait, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deliverLocked(ctx, c)
}

// deliverLocked is deliver with g.mu held; it releases g.mu while it saves or dead-letters.
//
// What goes out first: a pending message that is due (a redelivery, or one made pending below); then,
// while fewer than MaxAckPending are pending, the next message of a key whose turn came (OrderedKeys),
// a scheduled message whose time came, and the next message not yet read, in that order.
func (g *group) deliverLocked(ctx context.Context, c *Consumer) (*Message, *wait, error) {
	for {
		if err := g.mu.err; err != nil {
			return nil, nil, err
		}
		if err := g.deletedErr(); err != nil {
			return nil, nil, err
		}
		if c.closed.Load() {
			return nil, nil, base.ErrClosed
		}
		now := g.r.now()
		pm, due := g.dueLocked(now)
		w := &wait{chans: []<-chan struct{}{g.mu.changed}, due: due}
		if pm == nil && g.mu.pendingCount < g.opts.MaxAckPending {
			found, err := g.readyLocked(now)
			if err != nil {
				return nil, nil, err
			}
			if found {
				continue
			}
			if g.mu.held < g.heldLimitLocked() {
				t, fire, timerDue, err := g.dueTimerLocked(now)
				if err != nil {
					return nil, nil, err
				}
				if fire {
					if err := g.fireLocked(t, now); err != nil {
						return nil, nil, err
					}
					continue
				}
				w.due = earliest(w.due, timerDue)
			}
			var more *partition
			if pm, more, err = g.readNewLocked(w, now); err != nil {
				return nil, nil, err
			}
			if pm == nil && more != nil {
				// The read stopped after moving many messages to the timer index: save them, then read on.
				if err := g.persistLocked(more); err != nil {
					return nil, nil, err
				}
				continue
			}
		}
		if pm == nil {
			// Nothing to deliver: save what the reads changed (messages scheduled, timers of messages that
			// are gone, gaps), so that it does not wait for the next delivery.
			if p := g.dirtyPartitionLocked(); p != nil {
				if err := g.persistLocked(p); err != nil {
					return nil, nil, err
				}
				continue
			}
			return nil, w, nil
		}
		if g.opts.MaxDeliver > 0 && pm.deliveries >= g.opts.MaxDeliver {
			g.deadLetterLocked(ctx, pm) // with g.mu released while it appends
			continue
		}
		msg, err := g.leaseLocked(c, pm, now)
		if err != nil {
			return nil, nil, err
		}
		return msg, nil, nil
	}
}

// dirtyPartitionLocked returns a partition whose state changed since its last save began, if any.
func (g *group) dirtyPartitionLocked() *partition {
	for _, p := range g.mu.partitions {
		if p.persist.version > p.persist.durable && !p.persist.saving {
			return p
		}
	}
	return nil
}

// earliest returns the earlier of two due times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// dueLocked returns the pending message due first when it is due (a lease that ended is expired here),
// else the time the first one falls due (zero for none). With BackOff, a message whose lease ended is
// due again only after the back-off of its delivery count.
func (g *group) dueLocked(now time.Time) (*pendingMessage, time.Time) {
	for {
		top := g.mu.pending.top()
		if top == nil {
			return nil, time.Time{}
		}
		if top.due.After(now) {
			return nil, top.due
		}
		leased := top.owner != nil
		top.delivery, top.owner = 0, nil // its AckWait passed, if it was leased: due again now
		if leased && len(g.opts.BackOff) > 0 {
			if d := g.opts.backoff(top.deliveries); d > 0 {
				g.mu.pending.setDue(top, top.due.Add(d))
				continue
			}
		}
		return top, time.Time{}
	}
}

// readNewLocked reads the next message not yet read and not done, taking partitions in turn, and makes
// it pending. A gap in the offsets (compaction removed them) is done. A message whose delivery time has
// not come is moved to the timer index instead; after maxScheduledPerRead of those the read stops and
// returns their partition, to be saved before it goes on. With OrderedKeys a message whose key is busy
// waits behind it (reading stops at the bound of such messages). At the end of every partition it adds
// their Changed channels to w and returns nothing.
func (g *group) readNewLocked(w *wait, now time.Time) (*pendingMessage, *partition, error) {
	parts := g.mu.partitions
	nowMs := now.UnixMilli()
	ordered := g.opts.OrderedKeys
	for i := range parts {
		p := parts[(g.mu.next+i)%len(parts)]
		// Taken before reading, so that an append after the read is not missed.
		changed := p.log.Changed()
		scheduled := 0
		for {
			if ordered && g.mu.held >= g.heldLimitLocked() {
				return nil, nil, nil // an ack frees a key and changes the group
			}
			expected := p.reader.Offset()
			rec, err := p.reader.Next()
			if errors.Is(err, io.EOF) {
				w.chans = append(w.chans, changed)
				break
			}
			if errors.Is(err, base.ErrOutOfRange) && p.reader.Offset() < p.log.StartOffset() {
				g.raiseFloorLocked(p, p.log.StartOffset()) // retention got there before the cleaner told us
				continue
			}
			if err != nil {
				if errors.Is(err, wal.ErrClosed) {
					err = cmp.Or(g.deletedErr(), err) // (the catalog closes a deleted topic's logs)
				}
				return nil, nil, err
			}
			if rec.Offset > expected && p.acks.addRange(expected, rec.Offset) > 0 {
				p.dropCounts(expected, rec.Offset)
				p.persist.version++ // saved with the next save
			}
			if p.acks.contains(rec.Offset) {
				continue // done before a restart, or scheduled
			}
			deliveries := p.deliveriesOf(rec.Offset)
			if len(rec.Headers) > 0 && deliveries == 0 {
				if at, ok := base.DeliverAtMillis(rec.Headers); ok && at > nowMs {
					g.scheduleLocked(p, rec.Offset, at)
					if scheduled++; scheduled >= maxScheduledPerRead {
						return nil, p, nil
					}
					continue
				}
			}
			var key string
			if ordered && rec.Key != nil {
				key = string(rec.Key)
				if !g.claimKeyLocked(key) {
					g.holdLocked(key, heldMessage{partition: p, offset: rec.Offset})
					continue
				}
			}
			g.mu.next = (g.mu.next + i + 1) % len(parts)
			pm := &pendingMessage{rec: base.NewRecord(g.topic.Name(), p.index, rec), partition: p, heapIndex: -1,
				deliveries: deliveries, key: key}
			g.addPendingLocked(pm, now)
			return pm, nil, nil
		}
	}
	return nil, nil, nil
}

// leaseLocked leases pm to c for AckWait and records the delivery durably before it returns (releasing
// g.mu while the save runs): a delivery counts even when the worker then dies.
func (g *group) leaseLocked(c *Consumer, pm *pendingMessage, now time.Time) (*Message, error) {
	g.mu.deliveries++
	pm.deliveries++
	pm.delivery, pm.owner = g.mu.deliveries, c
	g.mu.pending.setDue(pm, now.Add(g.opts.AckWait))
	p := pm.partition
	if pm.scheduled {
		g.putTimerLocked(p, index.Timer{Due: pm.timerDue, Partition: p.index, Offset: pm.rec.Offset,
			Deliveries: int32(min(pm.deliveries, 1<<31-1))})
	} else {
		p.noteDelivery(pm.rec.Offset, pm.deliveries, g.opts.OrderedKeys)
		p.persist.version++
	}
	msg := &Message{Record: pm.rec, Deliveries: pm.deliveries, consumer: c, pm: pm, delivery: pm.delivery}
	if err := g.persistLocked(p); err != nil {
		return nil, err
	}
	g.r.metrics.deliveries.Add(1)
	if pm.deliveries > 1 {
		g.r.metrics.redeliveries.Add(1)
	}
	return msg, nil
}
