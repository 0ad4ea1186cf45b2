package workqueue

import (
	"time"

	"github.com/mqlog/mqlog/index"
)

// With Options.OrderedKeys a key has at most one message pending (delivered and not done, or due
// again) at a time, and its later messages wait behind it, in the order they were read, which is offset
// order within a partition. The state is in memory only and comes back from the log after a restart: the
// reader starts at the floor, and a key's first message not done takes its turn again; what was
// delivered, and how often, comes from the cursor and the counts below and ahead of it (group.go).

// keyLine is a key with a message pending (or being read again to be), and the messages waiting behind
// it.
type keyLine struct {
	held []heldMessage
}

// heldMessage is a message that waits behind its key, kept as its offset: it is read again when its turn
// comes.
type heldMessage struct {
	partition *partition
	offset    int64
	timer     *index.Timer // a scheduled message that fell due while its key was busy
	key       string
}

// heldLimitLocked is how many messages may wait behind their keys.
func (g *group) heldLimitLocked() int { return MaxHeldPerPending * g.opts.MaxAckPending }

// claimKeyLocked gives key's turn to a new pending message, or reports false when the key is busy.
func (g *group) claimKeyLocked(key string) bool {
	if _, busy := g.mu.keys[key]; busy {
		return false
	}
	g.mu.keys[key] = &keyLine{}
	return true
}

// holdLocked makes h wait behind its busy key.
func (g *group) holdLocked(key string, h heldMessage) {
	h.key = key
	line := g.mu.keys[key]
	line.held = append(line.held, h)
	g.mu.held++
}

// releaseKeyLocked ends the turn of key's pending message (it is done, or gone): the next message of the
// key, if one waits, becomes ready (to be read again and delivered; the key stays busy meanwhile), else
// the key is free.
func (g *group) releaseKeyLocked(key string) {
	line := g.mu.keys[key]
	if line == nil {
		return
	}
	if len(line.held) == 0 {
		delete(g.mu.keys, key)
		return
	}
	h := line.held[0]
	line.held[0] = heldMessage{}
	line.held = line.held[1:]
	g.mu.held--
	g.mu.ready = append(g.mu.ready, h)
}

// readyLocked reads the next ready message again and makes it pending, due at now. A message that is
// gone, or done meanwhile, gives the turn to the next one of its key. It reports whether the ready list
// had one.
func (g *group) readyLocked(now time.Time) (bool, error) {
	if len(g.mu.ready) == 0 {
		return false, nil
	}
	h := g.mu.ready[0]
	g.mu.ready[0] = heldMessage{}
	g.mu.ready = g.mu.ready[1:]
	p := h.partition
	if h.timer == nil && p.acks.contains(h.offset) {
		g.releaseKeyLocked(h.key) // retention moved the floor past it
		return true, nil
	}
	rec, err := g.fetchLocked(p, h.offset)
	if err != nil {
		return true, err
	}
	if rec == nil {
		if h.timer != nil {
			g.dropTimerLocked(p, h.timer.Due, h.offset)
		} else if h.offset >= p.log.StartOffset() && p.acks.add(h.offset) { // compaction removed it: a gap
			p.dropCounts(h.offset, h.offset+1)
			p.persist.version++
		}
		g.releaseKeyLocked(h.key)
		return true, nil
	}
	pm := &pendingMessage{rec: *rec, partition: p, heapIndex: -1, key: h.key}
	if h.timer != nil {
		pm.scheduled, pm.timerDue, pm.deliveries = true, h.timer.Due, int(h.timer.Deliveries)
	} else {
		pm.deliveries = p.deliveriesOf(h.offset)
	}
	g.addPendingLocked(pm, now)
	return true, nil
}
