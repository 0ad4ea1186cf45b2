package workqueue

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// group is the state of one work-queue group on one topic, shared by its consumers.
type group struct {
	r       *Registry
	topic   base.Topic
	name    string
	opts    Options
	handles int // under the registry's mu

	mu struct {
		sync.Mutex
		partitions   []*partition
		pending      pendingHeap // every message delivered and not done, by due time
		pendingCount int         // messages delivered and not done, over all partitions (MaxAckPending)
		next         int         // the partition to read new messages from first
		deliveries   uint64      // sequence of deliveries, for the identity of leases
		changed      chan struct{}
		err          error // sticky: a failed save, ErrClosed after the last consumer, a deleted topic

		timers timerWindow // the scheduled messages due first (schedule.go)
		// OrderedKeys (keys.go): the keys with a message pending or about to be, each with the messages
		// waiting behind it; the next messages of keys whose pending one was done, to be read again and
		// delivered; how many messages wait behind their keys.
		keys  map[string]*keyLine
		ready []heldMessage
		held  int
	}
}

// partition is the group's state in one partition. Fields are guarded by the group's mu.
type partition struct {
	index  int32
	log    *wal.Log
	reader *wal.Reader // the next message not yet read into pending
	acks   ackSet
	// delivered is the delivery cursor: every offset from the floor up to it was delivered at least once.
	delivered int64
	// counts are the delivery counts above 1 of the offsets below delivered that are not done: what a save
	// stores of them. Pending messages carry their count too; this map holds only those above 1, so that a
	// save costs what was redelivered, not what is pending.
	counts map[int64]int32
	// ahead are the delivery counts (1 or more) of offsets at or above delivered that were delivered and
	// are not done: with OrderedKeys a later offset goes out while an earlier one waits behind its key.
	ahead   map[int64]int32
	pending map[int64]*pendingMessage
	// timers are the changes to this partition's scheduled messages not yet covered by a finished save,
	// by offset: they go into the next save's batch with the ack state.
	timers map[int64]timerChange
	// fetch reads scheduled and held messages again by offset.
	fetch *wal.Reader

	persist struct {
		cond    sync.Cond // on the group's mu: a save finished
		version uint64    // changes of the durable state
		durable uint64    // the version the last finished save covered
		saving  bool
	}
}

// pendingMessage is a delivered message that is not done: leased to a consumer, or waiting to be
// delivered again.
type pendingMessage struct {
	rec                base.Record
	partition          *partition
	deliveries         int
	delivery           uint64    // the current lease; 0 when not leased
	owner              *Consumer // the lease's holder
	due                time.Time // leased: end of the lease; not leased: when it may be delivered again
	heapIndex          int       // in the group's pending heap; -1 while dead-lettering
	deadLetting        bool      // being written to the dead-letter topic
	deadLetterFailures int       // failed dead-letter appends, for the back-off
	// scheduled is set for a message that was read before its delivery time: its deliveries are saved in
	// its timer (due at timerDue), not in the partition's cursor and counts.
	scheduled bool
	timerDue  int64
	key       string // with OrderedKeys, the key whose turn this message holds; "" for none
}

// openGroup loads the group's state in every partition of t, clamps it to what each log holds, and saves
// the state of partitions that have none yet (or only one of an earlier incarnation of the topic).
func (r *Registry) openGroup(t base.Topic, name string, opts Options) (*group, error) {
	g := &group{r: r, topic: t, name: name, opts: opts}
	g.mu.changed = make(chan struct{})
	stored, err := r.store.AckStates(name)
	if err != nil {
		return nil, err
	}
	byPartition := make(map[int32]index.AckState)
	for _, st := range stored {
		if st.Topic == t.Name() && st.Incarnation == t.Incarnation() {
			byPartition[st.Partition] = st
		}
	}
	if opts.OrderedKeys {
		g.mu.keys = map[string]*keyLine{}
	}
	fresh := false // some partition's state is new: stale timers of another incarnation may be left
	for i, l := range t.Logs() {
		st, ok := byPartition[int32(i)]
		fresh = fresh || !ok
		p, err := g.newPartition(int32(i), l, st, ok, true)
		if err != nil {
			return nil, err
		}
		g.mu.partitions = append(g.mu.partitions, p)
	}
	if fresh {
		if err := r.store.DeleteOtherTimers(name, t.Name(), t.Incarnation()); err != nil {
			return nil, err
		}
	}
	if err := g.loadTimersLocked(); err != nil {
		return nil, err
	}
	return g, nil
}

// newPartition is the group's state in partition i of its topic, from the stored state st (stored false:
// none, or one of an earlier incarnation), clamped to what l holds; a partition without stored state gets
// one at l's start, saved (synced) at once when save is set, else by the partition's next save.
func (g *group) newPartition(i int32, l *wal.Log, st index.AckState, stored, save bool) (*partition, error) {
	p := &partition{index: i, log: l, pending: map[int64]*pendingMessage{}, counts: map[int64]int32{},
		ahead: map[int64]int32{}, timers: map[int64]timerChange{}}
	p.persist.cond.L = &g.mu
	if !stored {
		st.Floor, st.Delivered = l.StartOffset(), l.StartOffset() // a new group starts at the earliest
	}
	p.acks = ackSet{floor: st.Floor, ranges: st.Acked}
	p.delivered = st.Delivered
	for _, d := range st.Redelivered {
		p.counts[d.Offset] = d.Count
	}
	for _, d := range st.Ahead {
		p.ahead[d.Offset] = d.Count
	}
	// Never past the readable end, never below the log start (retention removed those).
	clampToEnd(p, l.HighWatermark())
	if skipped := p.acks.raiseFloor(l.StartOffset()); skipped > 0 {
		g.r.noteSkipped(g.topic.Name(), g.name, p.index, skipped)
	}
	p.dropBelowFloor()
	switch {
	case !stored && save:
		if err := g.r.store.SaveQueueState(p.state(g), nil); err != nil {
			return nil, err
		}
	case !stored:
		p.persist.version++ // (the next persistLocked of p saves it)
	}
	reader, err := l.NewReader(p.acks.floor, true)
	if err != nil {
		return nil, err
	}
	p.reader = reader
	return p, nil
}

// clampToEnd forgets the state at or above end: the log's readable end moved back after a crash under a
// relaxed sync policy, and offsets there will name other messages.
func clampToEnd(p *partition, end int64) {
	p.acks.truncate(end)
	p.delivered = min(p.delivered, end)
	for off := range p.counts {
		if off >= p.delivered {
			delete(p.counts, off)
		}
	}
	for off := range p.ahead {
		if off >= end {
			delete(p.ahead, off)
		}
	}
}

// dropBelowFloor drops the counts below the floor and raises the cursor to it.
func (p *partition) dropBelowFloor() {
	p.delivered = max(p.delivered, p.acks.floor)
	p.dropCounts(0, p.acks.floor)
}

// dropCounts forgets the delivery counts of offsets in [from, to), which are done.
func (p *partition) dropCounts(from, to int64) {
	for off := range p.counts {
		if off >= from && off < to {
			delete(p.counts, off)
		}
	}
	for off := range p.ahead {
		if off >= from && off < to {
			delete(p.ahead, off)
		}
	}
}

// deliveriesOf is how many times the message at offset, not done, was delivered before: from the
// cursor and the counts below it, or from the counts ahead of it.
func (p *partition) deliveriesOf(offset int64) int {
	if offset < p.delivered {
		return int(max(p.counts[offset], 1))
	}
	return int(p.ahead[offset])
}

// noteDelivery records the deliveries-th delivery of the message at offset (not a scheduled one) in the
// cursor and the counts. Without OrderedKeys a first delivery is always at or past the cursor, every
// offset before it being delivered or done, so the cursor moves past it. With OrderedKeys an earlier
// offset may still wait behind its key: the delivery is noted ahead, and the cursor moves only over what
// is done or delivered.
func (p *partition) noteDelivery(offset int64, deliveries int, ordered bool) {
	n := int32(min(deliveries, 1<<31-1))
	if offset < p.delivered {
		if n > 1 {
			p.counts[offset] = n
		}
		return
	}
	if !ordered {
		p.delivered = offset + 1
		if n > 1 {
			p.counts[offset] = n
		}
		if len(p.ahead) > 0 { // noted by an earlier open with OrderedKeys
			for off, d := range p.ahead {
				if off < p.delivered {
					delete(p.ahead, off)
					if d > 1 {
						p.counts[off] = d
					}
				}
			}
		}
		return
	}
	p.ahead[offset] = n
	for end := p.reader.Offset(); p.delivered < end; {
		if next := p.acks.nextNotDone(p.delivered); next > p.delivered {
			p.delivered = next
			continue
		}
		d, ok := p.ahead[p.delivered]
		if !ok {
			break
		}
		delete(p.ahead, p.delivered)
		if d > 1 {
			p.counts[p.delivered] = d
		}
		p.delivered++
	}
}

// state is p's durable state, as the index stores it.
func (p *partition) state(g *group) index.AckState {
	return index.AckState{Group: g.name, Topic: g.topic.Name(), Partition: p.index, Incarnation: g.topic.Incarnation(),
		Floor: p.acks.floor, Acked: slices.Clone(p.acks.ranges), Delivered: p.delivered, Redelivered: sortedCounts(p.counts, 2),
		Ahead: sortedCounts(p.ahead, 1)}
}

// sortedCounts returns the delivery counts of at least least, by offset.
func sortedCounts(counts map[int64]int32, least int32) []index.DeliveryCount {
	var out []index.DeliveryCount
	for off, n := range counts {
		if n >= least {
			out = append(out, index.DeliveryCount{Offset: off, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b index.DeliveryCount) int { return cmp.Compare(a.Offset, b.Offset) })
	return out
}

// fail makes every later call on the group return err and waits for the saves in flight.
func (g *group) fail(err error) { g.failWaiting(err, true) }

// failWaiting is fail, waiting for the saves in flight only when wait is set.
func (g *group) failWaiting(err error, wait bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.err == nil {
		g.mu.err = err
	}
	for _, p := range g.mu.partitions {
		for wait && p.persist.saving {
			p.persist.cond.Wait()
		}
	}
	g.changedLocked()
}

// changedLocked wakes every waiting Next: a message may have become deliverable or the pending count
// dropped.
func (g *group) changedLocked() {
	close(g.mu.changed)
	g.mu.changed = make(chan struct{})
}

// persistLocked saves p's state, synced, unless a finished save already covers its current version. Saves
// of one partition are serialized and grouped: while one is in flight, later callers wait and the next
// save covers all of them. It releases g.mu while saving.
func (g *group) persistLocked(p *partition) error {
	return g.persistVersionLocked(p, p.persist.version)
}

// persistVersionLocked is persistLocked for a caller that needs only version want durable: a change made
// by another consumer after it does not make it wait for one more save.
func (g *group) persistVersionLocked(p *partition, want uint64) error {
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
		var timers []index.TimerChange
		for _, c := range p.timers {
			timers = append(timers, c.TimerChange)
		}
		g.mu.Unlock()
		err := g.r.store.SaveQueueState(state, timers)
		g.mu.Lock()
		p.persist.saving = false
		if err != nil {
			// The in-memory state is ahead of the durable one; stop, as the logs do.
			g.mu.err = err
			g.changedLocked()
		} else {
			p.persist.durable = version
			g.r.metrics.saves.Add(1)
			for off, c := range p.timers {
				if c.version <= version {
					delete(p.timers, off) // in the index now
				}
			}
			if len(p.timers) == 0 && len(timers) > 8 {
				// A map does not shrink, and ranging over it costs what it once held: start afresh.
				p.timers = map[int64]timerChange{}
			}
		}
		p.persist.cond.Broadcast()
	}
	return g.mu.err
}

// raiseFloorLocked moves p's floor up to start, where retention moved the log start: the messages below
// it that were not done are skipped (counted and logged), their leases end, and the reader moves up. The
// raised floor is saved with p's next save; until then the durable floor is lower, which a reopen raises
// the same way.
func (g *group) raiseFloorLocked(p *partition, start int64) {
	skipped := p.acks.raiseFloor(start)
	for off, pm := range p.pending {
		if off < start {
			g.forgetLocked(pm)
			if pm.scheduled {
				g.dropTimerLocked(p, pm.timerDue, off)
				skipped++
			}
		}
	}
	p.dropBelowFloor()
	if p.reader.Offset() < start {
		_ = p.reader.SetOffset(start) // start is the log's start: in range
	}
	if skipped > 0 {
		g.r.noteSkipped(g.topic.Name(), g.name, p.index, skipped)
		p.persist.version++
	}
}

func (r *Registry) noteSkipped(topic, group string, partition int32, n int64) {
	r.metrics.skipped.Add(n)
	r.logger.Warn("mqlog: retention deleted work-queue messages that were never acked; the group skips them",
		"topic", topic, "group", group, "partition", partition, "skipped", n)
}
