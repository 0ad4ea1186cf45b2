package workqueue

import (
	"time"

	"github.com/mqlog/mqlog/internal/base"
)

// Ack acknowledges the message: it is never delivered again, even after a crash, once Ack returns nil.
// Acking a message whose lease has ended still acks it (the work was done); acking twice is not an error.
// Once every consumer of the group is closed, its messages' Ack, Nak, InProgress and Term return
// ErrClosed: they are delivered again to the next opener.
func (m *Message) Ack() error { return m.consumer.g.ack(m, false) }

// Term acknowledges the message without processing it: it is not delivered again (JetStream's Term).
// Unlike Ack it fails with ErrStaleDelivery when the lease has ended.
func (m *Message) Term() error { return m.consumer.g.ack(m, true) }

// Nak ends the lease without acknowledging: the message is delivered again after delay (when delay is
// zero: after Options.BackOff's delay for its delivery count, at once without BackOff), to any consumer of
// the group.
func (m *Message) Nak(delay time.Duration) error { return m.consumer.g.nak(m, delay) }

// InProgress extends the lease by AckWait from now, for work that takes longer than AckWait.
func (m *Message) InProgress() error { return m.consumer.g.extend(m) }

// leasedLocked reports whether m's delivery still holds its lease.
func (g *group) leasedLocked(m *Message) bool {
	pm := m.pm
	return pm.partition.pending[pm.rec.Offset] == pm && pm.delivery == m.delivery && pm.due.After(g.r.now())
}

// ack marks m's offset done and waits until the state that holds it is synced. With requireLease (Term),
// the lease must still be m's.
func (g *group) ack(m *Message, requireLease bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	if requireLease && !g.leasedLocked(m) {
		return base.ErrStaleDelivery
	}
	return g.doneLocked(m.pm.partition, m.pm.rec.Offset)
}

// doneLocked marks offset of p done, drops its pending message and saves p's state, synced, before it
// returns.
func (g *group) doneLocked(p *partition, offset int64) error {
	g.markDoneLocked(p, offset)
	return g.persistLocked(p)
}

// markDoneLocked marks offset of p done in memory: the next save of p covers it. A scheduled message is
// done already in the ack state; its timer goes.
func (g *group) markDoneLocked(p *partition, offset int64) {
	if pm := p.pending[offset]; pm != nil {
		g.forgetLocked(pm)
		g.changedLocked()
		if pm.scheduled {
			g.dropTimerLocked(p, pm.timerDue, offset)
			return
		}
	}
	delete(p.counts, offset)
	delete(p.ahead, offset)
	if p.acks.add(offset) {
		p.persist.version++
	}
}

// forgetLocked drops pm from the pending messages (it is done, or gone) and gives its key's turn to the
// next message of the key.
func (g *group) forgetLocked(pm *pendingMessage) {
	g.mu.pending.remove(pm)
	delete(pm.partition.pending, pm.rec.Offset)
	g.mu.pendingCount--
	if pm.key != "" {
		g.releaseKeyLocked(pm.key)
	}
}

// nak ends m's lease; the message is due again after delay, or after the back-off of its delivery count
// when delay is zero.
func (g *group) nak(m *Message, delay time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	if !g.leasedLocked(m) {
		return base.ErrStaleDelivery
	}
	m.pm.delivery, m.pm.owner = 0, nil
	if delay <= 0 {
		delay = g.opts.backoff(m.pm.deliveries)
	}
	g.mu.pending.setDue(m.pm, g.r.now().Add(delay))
	g.changedLocked()
	return nil
}

// extend restarts m's lease for AckWait.
func (g *group) extend(m *Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.mu.err; err != nil {
		return err
	}
	if !g.leasedLocked(m) {
		return base.ErrStaleDelivery
	}
	g.mu.pending.setDue(m.pm, g.r.now().Add(g.opts.AckWait))
	return nil
}

// release makes the messages leased to c due again at once.
func (g *group) release(c *Consumer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.r.now()
	for _, p := range g.mu.partitions {
		for _, pm := range p.pending {
			if pm.owner == c {
				pm.delivery, pm.owner = 0, nil
				g.mu.pending.setDue(pm, now)
			}
		}
	}
	g.changedLocked()
}
