package dedup

import (
	"container/heap"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/internal/base"
)

// AppendFunc appends messages to the topic a Registry.Append is for, as the catalog does.
type AppendFunc func(msgs []base.Message) ([]base.Position, error)

// Registry holds the id table of every topic that has had an Append with an id since the DB opened. It is
// safe for concurrent use.
type Registry struct {
	clock atomic.Pointer[func() time.Time]

	mu struct {
		sync.Mutex
		tables map[base.Topic]*table
	}
	duplicates atomic.Int64
}

// New returns an empty registry.
func New() *Registry {
	r := &Registry{}
	r.mu.tables = map[base.Topic]*table{}
	return r
}

// Duplicates returns how many messages were answered with an earlier position since the DB opened.
func (r *Registry) Duplicates() int64 { return r.duplicates.Load() }

// SetClock makes now the time source of the windows, for tests; nil restores time.Now.
func (r *Registry) SetClock(now func() time.Time) {
	if now == nil {
		r.clock.Store(nil)
		return
	}
	r.clock.Store(&now)
}

func (r *Registry) now() time.Time {
	if f := r.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// TopicDeleted implements catalog.Observer: a deleted topic's ids go with it (a topic created again under
// the name is a new incarnation, with a table of its own).
func (r *Registry) TopicDeleted(t base.Topic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.mu.tables, t)
}

func (r *Registry) table(t base.Topic) *table {
	r.mu.Lock()
	defer r.mu.Unlock()
	tb := r.mu.tables[t]
	if tb == nil {
		tb = &table{topic: t, ids: map[string]*entry{}}
		tb.resolved.L = &tb.mu
		r.mu.tables[t] = tb
	}
	return tb
}

// table is one topic's ids within its window.
type table struct {
	topic base.Topic

	mu       sync.Mutex
	resolved sync.Cond // on mu: a pending entry was resolved, for appends that wait on one
	waiting  int       // appends waiting on resolved
	rebuilt  bool      // the log tail was read since Open
	ids      map[string]*entry
	byTime   entryHeap // resolved entries by record timestamp, to drop them as they leave the window
}

// entry is an id: being appended by owner (not nil), or appended at pos.
type entry struct {
	id        string
	pos       base.Position
	ts        int64 // the record's timestamp, ms
	owner     *slot // the first message of the Append that reserved it, while that Append runs
	first     int   // the index of the reserving message in its call
	heapIndex int
}

// slot is what Append knows of one of its messages.
type slot struct {
	id    []byte // the message id; nil for none
	state uint8
	first int    // for a repeated message, the index of the first with its id
	e     *entry // the entry this message reserved
}

// States of a slot.
const (
	toAppend uint8 = iota
	answered       // a duplicate of an earlier append: its position is the original's
	repeated       // a duplicate of an earlier message of this call
)

// Append appends msgs to t with appendFn, except the messages whose id was appended within t's window,
// which are answered with the original position (Duplicate set). A message whose id repeats an earlier
// one of the same call gets that one's position. Errors are appendFn's, with positions mapped back to
// msgs: an *base.AppendError's Positions index msgs, and say which are durable (duplicates are).
func (r *Registry) Append(t base.Topic, msgs []base.Message, appendFn AppendFunc) ([]base.Position, error) {
	if len(msgs) == 0 {
		return appendFn(msgs)
	}
	c, err := r.reserve(t, msgs)
	if err != nil {
		return nil, err
	}
	var pos []base.Position
	if c.appending > 0 {
		pos, err = appendFn(c.toAppend())
	}
	return r.finish(c, pos, err)
}

// QueueFunc queues messages for the topic a Registry.AppendAsync is for, as the catalog's AppendAsync
// does: an error means nothing was queued.
type QueueFunc func(msgs []base.Message) (base.PendingAppend, error)

// AppendAsync is Append for a queueFn that does not wait for the commit: the ids of msgs are looked up
// and reserved, the messages to append are queued, and the PendingAppend reports the outcome once their
// commit is over and their ids are recorded (or released, when the commit failed). A goroutine waits for
// the commit, whether or not Wait is called, since other appends of the same ids wait for that outcome.
// AppendAsync itself blocks only while another append of one of msgs's ids is in flight.
func (r *Registry) AppendAsync(t base.Topic, msgs []base.Message, queueFn QueueFunc) (base.PendingAppend, error) {
	if len(msgs) == 0 {
		return queueFn(msgs)
	}
	c, err := r.reserve(t, msgs)
	if err != nil {
		return nil, err
	}
	if c.appending == 0 {
		pos, err := r.finish(c, nil, nil)
		return base.Completed(pos, err), nil
	}
	pa, err := queueFn(c.toAppend())
	if err != nil {
		_, err = r.finish(c, nil, err)
		return nil, err
	}
	p := &pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		pos, err := pa.Wait()
		p.pos, p.err = r.finish(c, pos, err)
	}()
	return p, nil
}

// pending is an AppendAsync whose commit is under way.
type pending struct {
	done chan struct{} // closed once pos and err are set
	pos  []base.Position
	err  error
}

func (p *pending) Done() <-chan struct{} { return p.done }

func (p *pending) Wait() ([]base.Position, error) {
	<-p.done
	return p.pos, p.err
}

// call is one Append between the reservation of its ids and their resolution.
type call struct {
	tb        *table
	msgs      []base.Message
	slots     []slot
	out       []base.Position
	appending int   // how many of msgs are to be appended
	idx       []int // the indexes in msgs of those, when not all are
}

// toAppend returns the messages of c to append.
func (c *call) toAppend() []base.Message {
	if c.idx == nil {
		return c.msgs
	}
	sub := make([]base.Message, len(c.idx))
	for j, i := range c.idx {
		sub[j] = c.msgs[i]
	}
	return sub
}

// reserve looks the ids of msgs up in t's table, answers the duplicates and reserves the ids of the
// messages to append, waiting while another append of one of them is in flight.
func (r *Registry) reserve(t base.Topic, msgs []base.Message) (*call, error) {
	tb := r.table(t)
	slots := make([]slot, len(msgs))
	for i := range msgs {
		if v, ok := base.HeaderValue(msgs[i].Headers, base.HeaderMessageID); ok && len(v) > 0 {
			slots[i].id = v
		}
	}
	owner := &slots[0] // identifies this call: its slots are its own
	out := make([]base.Position, len(msgs))

	tb.mu.Lock()
	if !tb.rebuilt {
		if err := r.rebuild(tb); err != nil {
			tb.mu.Unlock()
			return nil, err
		}
	}
	for {
		now := r.now().UnixMilli()
		window := t.Config().DuplicateWindow().Milliseconds()
		tb.prune(now, window)
		wait := false
		for i := range slots {
			s := &slots[i]
			if s.id == nil || s.state != toAppend || s.e != nil {
				continue
			}
			e := tb.ids[string(s.id)]
			switch {
			case e != nil && e.owner == owner:
				s.state, s.first = repeated, e.first
			case e != nil && e.owner != nil:
				wait = true // another append of the id is in flight: wait for its outcome
			case e != nil && e.ts+window > now:
				s.state, out[i] = answered, e.pos
				out[i].Duplicate = true
			default:
				if e != nil {
					tb.forget(e) // expired, not pruned yet
				}
				s.e = &entry{id: string(s.id), owner: owner, first: i, heapIndex: -1}
				tb.ids[s.e.id] = s.e
			}
			if wait {
				break
			}
		}
		if !wait {
			break
		}
		tb.waiting++
		tb.resolved.Wait()
		tb.waiting--
	}
	tb.mu.Unlock()

	c := &call{tb: tb, msgs: msgs, slots: slots, out: out}
	for i := range slots {
		if slots[i].state == toAppend {
			c.appending++
		}
	}
	if c.appending > 0 && c.appending < len(msgs) {
		c.idx = make([]int, 0, c.appending)
		for i := range slots {
			if slots[i].state == toAppend {
				c.idx = append(c.idx, i)
			}
		}
	}
	return c, nil
}

// finish records the outcome of c's append, pos and err (for the messages c.toAppend returned), in the
// table: the ids of durable messages get their positions, the others are released; and returns c's
// positions and error in the order of its messages.
func (r *Registry) finish(c *call, pos []base.Position, err error) ([]base.Position, error) {
	tb, msgs, slots, out, appending := c.tb, c.msgs, c.slots, c.out, c.appending
	index := func(j int) int { // the message of pos[j]
		if c.idx == nil {
			return j
		}
		return c.idx[j]
	}
	var aerr *base.AppendError
	durable := func(int) bool { return err == nil }
	if errors.As(err, &aerr) && len(aerr.Positions) == appending {
		pos = aerr.Positions
		durable = func(j int) bool { return pos[j].Offset != base.NoOffset }
	} else if err != nil {
		aerr = nil
	}

	tb.mu.Lock()
	now := r.now().UnixMilli()
	for j := range appending {
		i := index(j)
		if durable(j) || aerr != nil {
			out[i] = pos[j]
		}
		e := slots[i].e
		if e == nil {
			continue
		}
		if durable(j) {
			e.pos, e.ts = pos[j], now
			if ts := msgs[i].Timestamp; !ts.IsZero() {
				e.ts = ts.UnixMilli()
			}
			tb.byTime.push(e)
		} else {
			delete(tb.ids, e.id)
		}
		e.owner = nil
	}
	if tb.waiting > 0 {
		tb.resolved.Broadcast()
	}
	tb.mu.Unlock()

	dups := int64(0)
	for i := range slots {
		switch slots[i].state {
		case answered:
			dups++
		case repeated:
			out[i] = out[slots[i].first]
			if out[i].Offset != base.NoOffset {
				out[i].Duplicate = true
				dups++
			}
		}
	}
	r.duplicates.Add(dups)
	switch {
	case err == nil:
		return out, nil
	case aerr != nil:
		return out, &base.AppendError{Positions: out, Errs: aerr.Errs}
	default:
		// Nothing was appended; the duplicates among msgs were durable before, and a retry of the whole
		// call is answered the same way.
		return nil, err
	}
}

// prune drops the resolved ids whose record is older than the window.
func (tb *table) prune(now, window int64) {
	for len(tb.byTime) > 0 && tb.byTime[0].ts+window <= now {
		e := heap.Pop(&tb.byTime).(*entry)
		if tb.ids[e.id] == e {
			delete(tb.ids, e.id)
		}
	}
}

// forget drops a resolved entry.
func (tb *table) forget(e *entry) {
	if e.heapIndex >= 0 {
		heap.Remove(&tb.byTime, e.heapIndex)
	}
	if tb.ids[e.id] == e {
		delete(tb.ids, e.id)
	}
}

func (h *entryHeap) push(e *entry) { heap.Push(h, e) }

// entryHeap orders resolved entries by record timestamp. It implements heap.Interface.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIndex = -1
	return e
}
