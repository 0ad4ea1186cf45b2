package workqueue

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// Store is the durable store of work-queue state: the data directory's Pebble index.
type Store interface {
	// SaveQueueState saves a partition's ack state and applies changes to the group's scheduled
	// messages in that partition, in one synced batch.
	SaveQueueState(index.AckState, []index.TimerChange) error
	AckStates(group string) ([]index.AckState, error)
	DeleteAckStates(group string) error
	// EachTimer calls fn for the group's scheduled messages in one incarnation of a topic by due time,
	// after the timer after (nil: from the first), until fn returns false.
	EachTimer(group, topic string, incarnation uint64, after *index.Timer, fn func(index.Timer) bool) error
	// DeleteOtherTimers deletes the group's scheduled messages of the topic's other incarnations.
	DeleteOtherTimers(group, topic string, incarnation uint64) error
}

// Metrics are the work queue's counters since the DB was opened.
type Metrics struct {
	Saves              int64 // synced saves of queue state
	Scheduled          int64 // messages read before their delivery time and moved to the timer index
	Deliveries         int64 // messages handed out, redeliveries included
	Redeliveries       int64 // deliveries of a message delivered before
	DeadLettered       int64 // messages that reached MaxDeliver and went to the dead-letter topic
	DeadLetterFailures int64 // failed appends to a dead-letter topic (the message is tried again later)
	SkippedByRetention int64 // messages never done that retention deleted (the floor jumped over them)
}

// Registry holds the open work-queue groups of a DB. It is safe for concurrent use.
type Registry struct {
	store    Store
	topics   base.Topics
	appender base.Appender
	logger   *slog.Logger

	mu struct {
		sync.Mutex
		groups map[groupKey]*group
	}
	metrics struct {
		saves, deliveries, redeliveries, deadLettered, deadLetterFailures, skipped, scheduled atomic.Int64
	}
	// clock is the time source of leases, delays and delivery times; time.Now unless a test sets one.
	clock atomic.Pointer[func() time.Time]
	// replicated is set by SetReplicated: the store's saves go through a replicated log whose applies
	// must never wait for a save (replication.go).
	replicated atomic.Bool
}

type groupKey struct{ topic, group string }

// New returns the registry of the work-queue groups whose state store keeps; dead letters are appended
// through appender.
func New(store Store, topics base.Topics, appender base.Appender, logger *slog.Logger) *Registry {
	r := &Registry{store: store, topics: topics, appender: appender, logger: logger}
	r.mu.groups = map[groupKey]*group{}
	return r
}

// Metrics returns the counters.
func (r *Registry) Metrics() Metrics {
	return Metrics{
		Saves: r.metrics.saves.Load(), Deliveries: r.metrics.deliveries.Load(), Redeliveries: r.metrics.redeliveries.Load(),
		DeadLettered: r.metrics.deadLettered.Load(), DeadLetterFailures: r.metrics.deadLetterFailures.Load(),
		SkippedByRetention: r.metrics.skipped.Load(), Scheduled: r.metrics.scheduled.Load(),
	}
}

// now is the registry's current time.
func (r *Registry) now() time.Time {
	if f := r.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// SetClock makes now the time source of the registry's leases, delays and delivery times, for tests
// that move time on instead of sleeping; call Wake after moving it. nil restores time.Now.
func (r *Registry) SetClock(now func() time.Time) {
	if now == nil {
		r.clock.Store(nil)
		return
	}
	r.clock.Store(&now)
}

// Wake makes every waiting Next of every open group look again (after the clock moved).
func (r *Registry) Wake() {
	r.mu.Lock()
	groups := make([]*group, 0, len(r.mu.groups))
	for _, g := range r.mu.groups {
		groups = append(groups, g)
	}
	r.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.changedLocked()
		g.mu.Unlock()
	}
}

// Open opens a competing consumer of the work-queue group name on t. The group's state is loaded (and
// created, synced, at each partition's start offset) when its first consumer in this DB opens; the options
// of every consumer of one group open at once must be equal (base.ErrQueueOptions).
func (r *Registry) Open(t base.Topic, name string, opts Options) (*Consumer, error) {
	if err := base.ValidateGroup(name); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	opts.BackOff = slices.Clone(opts.BackOff) // the caller may reuse its slice
	if err := opts.validate(t.Name()); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := groupKey{t.Name(), name}
	if g := r.mu.groups[key]; g != nil && g.topic == t {
		if !g.opts.equal(opts) {
			return nil, fmt.Errorf("%w: group %s on %s is open with %+v", base.ErrQueueOptions, name, t.Name(), g.opts)
		}
		g.handles++
		return &Consumer{g: g}, nil
	}
	g, err := r.openGroup(t, name, opts)
	if err != nil {
		return nil, err
	}
	g.handles = 1
	r.mu.groups[key] = g
	return &Consumer{g: g}, nil
}

// leave drops a consumer of g; the last one closes the group.
func (r *Registry) leave(g *group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.handles--
	if g.handles > 0 {
		return
	}
	// Its messages can no longer be acked, and its saves in flight land before a new open of the group
	// loads the state: a later save of this one must not overwrite what the new one saves.
	g.fail(base.ErrClosed)
	key := groupKey{g.topic.Name(), g.name}
	if r.mu.groups[key] == g {
		delete(r.mu.groups, key)
	}
}

// TopicDeleted implements catalog.Observer: the groups of a deleted topic fail (their consumers' calls
// return ErrTopicNotFound) once their saves in flight have landed. Such a save may land after the
// deletion, with the deleted incarnation, which no group of a new topic of the name takes.
func (r *Registry) TopicDeleted(t base.Topic) {
	if r.replicated.Load() {
		go r.topicDeleted(t, false) // (replication.go)
		return
	}
	r.topicDeleted(t, true)
}

// topicDeleted is TopicDeleted, waiting for the groups' saves in flight when wait is set.
func (r *Registry) topicDeleted(t base.Topic, wait bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, g := range r.mu.groups {
		if g.topic == t {
			g.failWaiting(fmt.Errorf("%w: %s was deleted", base.ErrTopicNotFound, t.Name()), wait)
			delete(r.mu.groups, key)
		}
	}
}

// LogStartMoved is told by the cleaner that retention deleted the segments of t's partition below start:
// the open groups' floors jump there (see the package doc).
func (r *Registry) LogStartMoved(t base.Topic, partition int32, start int64) {
	r.mu.Lock()
	var groups []*group
	for _, g := range r.mu.groups {
		if g.topic == t {
			groups = append(groups, g)
		}
	}
	r.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		if int(partition) < len(g.mu.partitions) {
			g.raiseFloorLocked(g.mu.partitions[partition], start)
			g.changedLocked()
		}
		g.mu.Unlock()
	}
}

// Delete deletes the state of a work-queue group in every topic. It refuses (base.ErrGroupActive) while a
// consumer of the group is open.
func (r *Registry) Delete(group string) error {
	if err := base.ValidateGroup(group); err != nil {
		return err
	}
	r.mu.Lock() // no consumer opens meanwhile
	defer r.mu.Unlock()
	for key := range r.mu.groups {
		if key.group == group {
			return base.ErrGroupActive
		}
	}
	return r.store.DeleteAckStates(group)
}

// PartitionsAdded implements catalog.PartitionObserver: the open groups of t take the new partitions in,
// each starting at its log's start, with its state saved as a new group's is.
func (r *Registry) PartitionsAdded(t base.Topic) {
	if r.replicated.Load() {
		go r.partitionsAdded(t, false) // (replication.go)
		return
	}
	r.partitionsAdded(t, true)
}

// partitionsAdded is PartitionsAdded, saving the new partitions' state at once when save is set.
func (r *Registry) partitionsAdded(t base.Topic, save bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.mu.groups {
		if g.topic != t {
			continue
		}
		g.mu.Lock()
		for i := len(g.mu.partitions); i < len(t.Logs()); i++ {
			p, err := g.newPartition(int32(i), t.Logs()[i], index.AckState{}, false, save)
			if err != nil {
				g.mu.err = err // sticky, as a failed save is
				break
			}
			g.mu.partitions = append(g.mu.partitions, p)
		}
		g.changedLocked()
		g.mu.Unlock()
	}
}
