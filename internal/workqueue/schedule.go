package workqueue

import (
	"errors"
	"io"
	"slices"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// Sizes of the timer window: a load reads timerChunk scheduled messages from the index; a window that
// grows past timerWindowMax (messages scheduled earlier than the loaded ones) drops its latest ones back
// to timerChunk.
const (
	timerChunk     = 1024
	timerWindowMax = 4 * timerChunk
)

// maxScheduledPerRead bounds the messages one read pass moves to the timer index before their partition's
// state is saved: what a save carries, and what waits in memory for it.
const maxScheduledPerRead = 256

// timerChange is a change to a scheduled message that a finished save does not cover yet, with the
// version of the partition's state it was made in.
type timerChange struct {
	index.TimerChange
	version uint64
}

// timerWindow holds, in memory, the group's scheduled messages that fall due first, in the index's order
// (due time, partition, offset). Every scheduled message that sorts at or before horizon is in loaded,
// fired (pending), or done; when complete, every scheduled message is. The others wait in the index, or
// in their partition's unsaved timer changes, until a load reaches them. So memory holds at most
// timerWindowMax timers, however many messages are scheduled.
type timerWindow struct {
	loaded   []index.Timer // from head on, sorted; before head, popped
	head     int
	horizon  index.Timer
	complete bool
	started  bool // loaded at least once: horizon is meaningful
}

// covers reports whether t belongs in the window.
func (w *timerWindow) covers(t index.Timer) bool { return w.complete || !w.horizon.Before(t) }

// insert adds t, which the window covers, in order; a window grown too large drops its latest timers.
func (w *timerWindow) insert(t index.Timer) {
	if w.head > 0 && w.head >= len(w.loaded)/2 {
		w.loaded = slices.Delete(w.loaded, 0, w.head) // drop what was popped, now and then
		w.head = 0
	}
	i, found := slices.BinarySearchFunc(w.loaded[w.head:], t, compareTimers)
	i += w.head
	if found {
		w.loaded[i] = t
		return
	}
	w.loaded = slices.Insert(w.loaded, i, t)
	if w.len() > timerWindowMax {
		w.loaded = w.loaded[:w.head+timerChunk]
		w.horizon, w.complete = w.loaded[len(w.loaded)-1], false
	}
}

// len is how many timers the window holds.
func (w *timerWindow) len() int { return len(w.loaded) - w.head }

// top returns the timer due first, or false when the window holds none.
func (w *timerWindow) top() (index.Timer, bool) {
	if w.len() == 0 {
		return index.Timer{}, false
	}
	return w.loaded[w.head], true
}

// pop removes the timer due first.
func (w *timerWindow) pop() {
	w.loaded[w.head] = index.Timer{}
	w.head++
	if w.head == len(w.loaded) {
		w.loaded, w.head = w.loaded[:0], 0
	}
}

func compareTimers(a, b index.Timer) int {
	switch {
	case a.Before(b):
		return -1
	case b.Before(a):
		return 1
	}
	return 0
}

// loadTimersLocked fills the window from the index after its horizon: the next timerChunk scheduled
// messages, plus those a save has not written yet, minus those deleted since. It runs at open and whenever
// the window is empty without being complete.
func (g *group) loadTimersLocked() error {
	w := &g.mu.timers
	var after *index.Timer
	if w.started {
		h := w.horizon
		after = &h
	}
	var got []index.Timer
	err := g.r.store.EachTimer(g.name, g.topic.Name(), g.topic.Incarnation(), after, func(t index.Timer) bool {
		got = append(got, t)
		return len(got) < timerChunk
	})
	if err != nil {
		return err
	}
	parts := g.mu.partitions
	next := timerWindow{loaded: w.loaded[w.head:], complete: len(got) < timerChunk, started: true}
	if !next.complete {
		next.horizon = got[len(got)-1]
	}
	for _, t := range got {
		if int(t.Partition) >= len(parts) {
			continue
		}
		p := parts[t.Partition]
		if c, ok := p.timers[t.Offset]; ok {
			if c.Delete {
				continue // done since; the next save deletes it
			}
			t = c.Timer
		}
		if p.pending[t.Offset] != nil || t.Offset >= p.log.HighWatermark() {
			continue
		}
		next.insert(t)
	}
	// Scheduled since, not saved yet (or being saved): the index may not have them.
	for _, p := range parts {
		for _, c := range p.timers {
			if !c.Delete && (after == nil || after.Before(c.Timer)) && next.covers(c.Timer) && p.pending[c.Offset] == nil {
				next.insert(c.Timer)
			}
		}
	}
	*w = next
	return nil
}

// scheduleLocked moves the message at offset of p, read before its delivery time, to the timer index:
// it counts as done in the ack state (so that neither that state nor the floor waits for it) and its
// timer goes into the same save.
func (g *group) scheduleLocked(p *partition, offset, due int64) {
	p.acks.add(offset)
	t := index.Timer{Due: due, Partition: p.index, Offset: offset}
	g.putTimerLocked(p, t)
	if g.mu.timers.covers(t) {
		g.mu.timers.insert(t)
	}
	g.r.metrics.scheduled.Add(1)
}

// putTimerLocked stores t with p's next save.
func (g *group) putTimerLocked(p *partition, t index.Timer) {
	p.persist.version++
	p.timers[t.Offset] = timerChange{TimerChange: index.TimerChange{Timer: t}, version: p.persist.version}
}

// dropTimerLocked deletes the timer of the scheduled message at offset of p with p's next save.
func (g *group) dropTimerLocked(p *partition, due, offset int64) {
	p.persist.version++
	t := index.Timer{Due: due, Partition: p.index, Offset: offset}
	p.timers[offset] = timerChange{TimerChange: index.TimerChange{Timer: t, Delete: true}, version: p.persist.version}
}

// dueTimerLocked returns the scheduled message due first when it is due at now, else the time it falls
// due (zero for none). An empty window that is not complete is loaded first.
func (g *group) dueTimerLocked(now time.Time) (index.Timer, bool, time.Time, error) {
	w := &g.mu.timers
	if w.len() == 0 && !w.complete {
		if err := g.loadTimersLocked(); err != nil {
			return index.Timer{}, false, time.Time{}, err
		}
	}
	t, ok := w.top()
	if !ok {
		return index.Timer{}, false, time.Time{}, nil
	}
	if due := time.UnixMilli(t.Due); due.After(now) {
		return index.Timer{}, false, due, nil
	}
	return t, true, time.Time{}, nil
}

// fireLocked takes the due timer t out of the window and reads its message again: it becomes pending,
// due at once, with the deliveries its timer counted; with OrderedKeys it waits behind its key when the
// key is busy. A message that is gone (retention deleted it, compaction removed it) is dropped with its
// timer.
func (g *group) fireLocked(t index.Timer, now time.Time) error {
	g.mu.timers.pop()
	p := g.mu.partitions[t.Partition]
	rec, err := g.fetchLocked(p, t.Offset)
	if err != nil {
		return err
	}
	if rec == nil {
		if t.Offset < p.log.StartOffset() {
			g.r.noteSkipped(g.topic.Name(), g.name, p.index, 1)
		}
		g.dropTimerLocked(p, t.Due, t.Offset)
		return nil
	}
	pm := &pendingMessage{rec: *rec, partition: p, heapIndex: -1, deliveries: int(t.Deliveries), scheduled: true, timerDue: t.Due}
	if g.opts.OrderedKeys && rec.Key != nil {
		key := string(rec.Key)
		if !g.claimKeyLocked(key) {
			g.holdLocked(key, heldMessage{partition: p, offset: t.Offset, timer: &t})
			return nil
		}
		pm.key = key
	}
	g.addPendingLocked(pm, now)
	return nil
}

// addPendingLocked makes pm pending, due at now.
func (g *group) addPendingLocked(pm *pendingMessage, now time.Time) {
	pm.partition.pending[pm.rec.Offset] = pm
	g.mu.pendingCount++
	pm.due = now
	g.mu.pending.push(pm)
}

// fetchLocked reads the record at offset of p again (a scheduled message that fell due, a message that
// waited behind its key), or returns nil when it is no longer there: below the log start, or removed by
// compaction. The partition's fetch reader goes forward from where it is when offset is a little ahead,
// and is moved otherwise.
func (g *group) fetchLocked(p *partition, offset int64) (*base.Record, error) {
	if offset < p.log.StartOffset() || offset >= p.log.HighWatermark() {
		return nil, nil
	}
	if p.fetch == nil {
		r, err := p.log.NewReader(offset, true)
		if err != nil {
			return nil, ignoreOutOfRange(err)
		}
		p.fetch = r
	} else if at := p.fetch.Offset(); at > offset || offset-at > 64 {
		if err := p.fetch.SetOffset(offset); err != nil {
			return nil, ignoreOutOfRange(err)
		}
	}
	for {
		rec, err := p.fetch.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			if errors.Is(err, base.ErrOutOfRange) {
				p.fetch = nil // retention moved the start under it
				return nil, nil
			}
			return nil, err
		}
		if rec.Offset == offset {
			r := base.NewRecord(g.topic.Name(), p.index, rec)
			return &r, nil
		}
		if rec.Offset > offset {
			return nil, nil // compaction removed it
		}
	}
}

func ignoreOutOfRange(err error) error {
	if errors.Is(err, base.ErrOutOfRange) {
		return nil
	}
	return err
}
