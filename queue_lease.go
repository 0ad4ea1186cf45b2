package mqlog

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"time"
)

// queueWait is what a Next with nothing to deliver waits for.
type queueWait struct {
	changed    <-chan struct{}   // the group's: an ack, nak or release
	partitions []<-chan struct{} // the logs': new messages (none when MaxAckPending is reached)
	due        time.Time         // the earliest lease end or redelivery time; zero for none
}

// block waits until something in w happens or ctx is done.
func (w *queueWait) block(ctx context.Context) error {
	var timer <-chan time.Time
	if !w.due.IsZero() {
		t := time.NewTimer(time.Until(w.due))
		defer t.Stop()
		timer = t.C
	}
	if len(w.partitions) <= 1 {
		var log <-chan struct{}
		if len(w.partitions) == 1 {
			log = w.partitions[0]
		}
		select {
		case <-ctx.Done():
		case <-w.changed:
		case <-log:
		case <-timer:
		}
		return ctx.Err()
	}
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.changed)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)},
	}
	for _, ch := range w.partitions {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	reflect.Select(cases)
	return ctx.Err()
}

// deliver leases the next deliverable message to q, or says what to wait for when there is none.
func (g *queueGroup) deliver(ctx context.Context, q *Queue) (*QueueMessage, *queueWait, error) {
	g.mu.Lock()
	for {
		if err := g.mu.err; err != nil {
			g.mu.Unlock()
			return nil, nil, err
		}
		if q.closed.Load() {
			g.mu.Unlock()
			return nil, nil, ErrClosed
		}
		now := time.Now()
		p, pm, due := g.dueLocked(now)
		if pm != nil {
			if g.opts.MaxDeliver > 0 && pm.deliveries >= g.opts.MaxDeliver {
				pm.deadLetting = true
				g.mu.Unlock()
				if err := g.deadLetter(ctx, p, pm); err != nil {
					return nil, nil, err
				}
				g.mu.Lock()
				continue
			}
			msg := g.leaseLocked(q, p, pm, now)
			g.mu.Unlock()
			return msg, nil, nil
		}
		wait := &queueWait{changed: g.mu.changed, due: due}
		if g.mu.pending < g.opts.MaxAckPending {
			msg, err := g.readNewLocked(q, wait, now)
			if msg != nil || err != nil {
				g.mu.Unlock()
				return msg, nil, err
			}
		}
		g.mu.Unlock()
		return nil, wait, nil
	}
}

// dueLocked expires the leases that have ended and returns the pending message due for redelivery with
// the smallest offset (first partition first), or the earliest time at which one falls due.
func (g *queueGroup) dueLocked(now time.Time) (*queuePartition, *pendingMessage, time.Time) {
	var bestP *queuePartition
	var best *pendingMessage
	var next time.Time
	for _, p := range g.mu.partitions {
		for _, pm := range p.pending {
			if pm.deadLetting {
				continue
			}
			if pm.delivery != 0 && !pm.due.After(now) {
				pm.delivery, pm.owner = 0, nil // AckWait passed: due again now
			}
			if pm.due.After(now) {
				if next.IsZero() || pm.due.Before(next) {
					next = pm.due
				}
				continue
			}
			if best == nil || (bestP == p && pm.rec.Offset < best.rec.Offset) {
				bestP, best = p, pm
			}
		}
	}
	return bestP, best, next
}

// readNewLocked reads the next never-delivered, unacked message, taking partitions in turn, and leases
// it. At the end of every partition it adds their Changed channels to wait and returns nothing.
func (g *queueGroup) readNewLocked(q *Queue, wait *queueWait, now time.Time) (*QueueMessage, error) {
	parts := g.mu.partitions
	for i := range parts {
		p := parts[(g.mu.next+i)%len(parts)]
		// Taken before reading, so that an append after the read is not missed.
		changed := p.log.Changed()
		for {
			rec, err := p.reader.Next()
			if errors.Is(err, io.EOF) {
				wait.partitions = append(wait.partitions, changed)
				break
			}
			if err != nil {
				return nil, err
			}
			if p.acks.contains(rec.Offset) {
				continue // acked before a restart
			}
			g.mu.next = (g.mu.next + i + 1) % len(parts)
			pm := &pendingMessage{rec: newRecord(g.topic.name, p.index, rec)}
			p.pending[rec.Offset] = pm
			g.mu.pending++
			return g.leaseLocked(q, p, pm, now), nil
		}
	}
	return nil, nil
}

func (g *queueGroup) leaseLocked(q *Queue, p *queuePartition, pm *pendingMessage, now time.Time) *QueueMessage {
	g.mu.deliveries++
	pm.deliveries++
	pm.delivery, pm.owner, pm.due = g.mu.deliveries, q, now.Add(g.opts.AckWait)
	return &QueueMessage{Record: pm.rec, Deliveries: pm.deliveries, queue: q, partition: p, delivery: pm.delivery}
}

// leasedLocked returns the pending message of m when m's delivery still holds its lease.
func (g *queueGroup) leasedLocked(m *QueueMessage) *pendingMessage {
	pm := m.partition.pending[m.Offset]
	if pm == nil || pm.delivery != m.delivery || !pm.due.After(time.Now()) {
		return nil
	}
	return pm
}

// ack marks m's offset acked and waits until the ack state that holds it is synced. With requireLease
// (Term), the lease must still be m's.
func (g *queueGroup) ack(m *QueueMessage, requireLease bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	if requireLease && g.leasedLocked(m) == nil {
		return ErrStaleDelivery
	}
	return g.ackLocked(m.partition, m.Offset)
}

// ackLocked acks offset in p and saves p's ack state, synced, before it returns. Saves of one partition
// are serialized and grouped: while one is in flight, later acks wait and the next save covers all of
// them (the group commit of DESIGN.md decision 4, on the ack state). Saves of different partitions and
// groups run at once and share fsyncs in Pebble's commit pipeline.
func (g *queueGroup) ackLocked(p *queuePartition, offset int64) error {
	if err := g.mu.err; err != nil {
		return err
	}
	if pm := p.pending[offset]; pm != nil {
		delete(p.pending, offset)
		g.mu.pending--
		g.changedLocked()
	}
	if p.acks.add(offset) {
		p.persist.version++
	}
	want := p.persist.version
	for p.persist.durable < want {
		if err := g.mu.err; err != nil {
			return err
		}
		if p.persist.saving {
			p.persist.cond.Wait()
			continue
		}
		p.persist.saving = true
		state, version := p.state(g), p.persist.version
		g.mu.Unlock()
		err := g.db.store.SaveAckState(state)
		g.mu.Lock()
		p.persist.saving = false
		if err != nil {
			// The in-memory state is ahead of the durable one; stop, as the logs do (decision 5).
			g.mu.err = err
			g.changedLocked()
		} else {
			p.persist.durable = version
			g.db.queues.saves.Add(1)
		}
		p.persist.cond.Broadcast()
	}
	return nil
}

// nak ends m's lease; the message is due again after delay.
func (g *queueGroup) nak(m *QueueMessage, delay time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	pm := g.leasedLocked(m)
	if pm == nil {
		return ErrStaleDelivery
	}
	pm.delivery, pm.owner, pm.due = 0, nil, time.Now().Add(max(delay, 0))
	g.changedLocked()
	return nil
}

// extend restarts m's lease for AckWait.
func (g *queueGroup) extend(m *QueueMessage) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	pm := g.leasedLocked(m)
	if pm == nil {
		return ErrStaleDelivery
	}
	pm.due = time.Now().Add(g.opts.AckWait)
	return nil
}

// release makes the messages leased to q due again at once.
func (g *queueGroup) release(q *Queue) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	for _, p := range g.mu.partitions {
		for _, pm := range p.pending {
			if pm.owner == q {
				pm.delivery, pm.owner, pm.due = 0, nil, now
			}
		}
	}
	g.changedLocked()
}

// deadLetter appends pm to the dead-letter topic, durably, then acks it: at least once, so a crash
// between the two leaves it in both places. Without a dead-letter topic the message is only acked.
func (g *queueGroup) deadLetter(ctx context.Context, p *queuePartition, pm *pendingMessage) error {
	if dlq := g.opts.DeadLetterTopic; dlq != "" {
		rec := pm.rec
		headers := append(append([]Header(nil), rec.Headers...),
			Header{Key: DeadLetterHeaderTopic, Value: []byte(rec.Topic)},
			Header{Key: DeadLetterHeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
			Header{Key: DeadLetterHeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
			Header{Key: DeadLetterHeaderDeliveries, Value: strconv.AppendInt(nil, int64(pm.deliveries), 10)},
			Header{Key: DeadLetterHeaderGroup, Value: []byte(g.name)})
		_, err := g.db.Append(ctx, dlq, Message{Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp})
		if err != nil {
			g.mu.Lock()
			pm.deadLetting = false
			g.mu.Unlock()
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ackLocked(p, pm.rec.Offset)
}
