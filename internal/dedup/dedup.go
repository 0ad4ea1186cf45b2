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
		r.mu.tables[t] = tb
	}
	return tb
}

// table is one topic's ids within its window.
type table struct {
	topic base.Topic

	mu      sync.Mutex
	rebuilt bool // the log tail was read since Open
	ids     map[string]*entry
	byTime  entryHeap // resolved entries by record timestamp, to drop them as they leave the window
}

// entry is an id: being appended (pending not nil), or appended at pos.
type entry struct {
	id        string
	pos       base.Position
	ts        int64         // the record's timestamp, ms
	pending   chan struct{} // closed when the reserving append's outcome is known
	owner     *call
	first     int // the index of the reserving message in its call
	heapIndex int
}

// call identifies one Append, so that its own reservations are not waited for. It is not empty: pointers
// to distinct zero-size values may be equal.
type call struct{ _ byte }

// Append appends msgs to t with appendFn, except the messages whose id was appended within t's window,
// which are answered with the original position (Duplicate set). A message whose id repeats an earlier
// one of the same call gets that one's position. Errors are appendFn's, with positions mapped back to
// msgs: an *base.AppendError's Positions index msgs, and say which are durable (duplicates are).
func (r *Registry) Append(t base.Topic, msgs []base.Message, appendFn AppendFunc) ([]base.Position, error) {
	tb := r.table(t)
	ids := make([]string, len(msgs))
	for i := range msgs {
		ids[i] = base.MessageID(msgs[i].Headers)
	}
	out := make([]base.Position, len(msgs))
	const (
		toAppend = iota
		answered // a duplicate of an earlier append: out[i] is the original's position
		repeated // a duplicate of an earlier message of this call
	)
	state := make([]int, len(msgs))
	firstOf := make([]int, len(msgs)) // for a repeated message, the index of the first with its id
	reserved := make(map[int]*entry)
	c := &call{}

	tb.mu.Lock()
	for {
		if !tb.rebuilt {
			if err := r.rebuild(tb); err != nil {
				r.abort(tb, reserved)
				tb.mu.Unlock()
				return nil, err
			}
		}
		now := r.now().UnixMilli()
		window := t.Config().DuplicateWindow().Milliseconds()
		tb.prune(now, window)
		var busy chan struct{}
		for i, id := range ids {
			if id == "" || state[i] != toAppend || reserved[i] != nil {
				continue
			}
			e := tb.ids[id]
			switch {
			case e != nil && e.pending != nil && e.owner == c:
				state[i], firstOf[i] = repeated, e.first
			case e != nil && e.pending != nil:
				busy = e.pending // another append of the id is in flight: wait for its outcome
			case e != nil && e.ts+window > now:
				state[i], out[i] = answered, e.pos
				out[i].Duplicate = true
			default:
				if e != nil {
					tb.forget(e) // expired, not pruned yet
				}
				e = &entry{id: id, pending: make(chan struct{}), owner: c, first: i, heapIndex: -1}
				tb.ids[id] = e
				reserved[i] = e
			}
			if busy != nil {
				break
			}
		}
		if busy == nil {
			break
		}
		tb.mu.Unlock()
		<-busy
		tb.mu.Lock()
	}
	tb.mu.Unlock()

	var idx []int
	for i := range msgs {
		if state[i] == toAppend {
			idx = append(idx, i)
		}
	}
	var pos []base.Position
	var err error
	if len(idx) == len(msgs) {
		pos, err = appendFn(msgs)
	} else if len(idx) > 0 {
		sub := make([]base.Message, len(idx))
		for j, i := range idx {
			sub[j] = msgs[i]
		}
		pos, err = appendFn(sub)
	}
	var aerr *base.AppendError
	durable := func(int) bool { return err == nil }
	if errors.As(err, &aerr) && len(aerr.Positions) == len(idx) {
		pos = aerr.Positions
		durable = func(j int) bool { return pos[j].Offset != base.NoOffset }
	} else if err != nil {
		aerr = nil
	}

	tb.mu.Lock()
	now := r.now().UnixMilli()
	for j, i := range idx {
		if durable(j) || aerr != nil {
			out[i] = pos[j]
		}
		e := reserved[i]
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
		close(e.pending)
		e.pending, e.owner = nil, nil
	}
	tb.mu.Unlock()

	dups := int64(0)
	for i := range msgs {
		switch state[i] {
		case answered:
			dups++
		case repeated:
			out[i] = out[firstOf[i]]
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

// abort drops the reservations of a call that appends nothing.
func (r *Registry) abort(tb *table, reserved map[int]*entry) {
	for _, e := range reserved {
		delete(tb.ids, e.id)
		close(e.pending)
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
