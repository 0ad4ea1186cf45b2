package catalog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/wal"
)

// Options configure a Catalog.
type Options struct {
	// FS is the filesystem of the data directory Dir.
	FS  vfs.FS
	Dir string
	// Index is the data directory's Pebble store; nil for a read-only catalog.
	Index *index.Store
	// Log is the template of every partition's wal.Options: the catalog sets Dir, SegmentBytes,
	// Compacted and Index per partition.
	Log wal.Options
	// Logger receives notes on what Open found (never nil: the caller passes a discarding one).
	Logger *slog.Logger
}

// Observer learns of the topic lifecycle. TopicDeleted is called once the topic's logs are closed and its
// state is gone from the index, with the catalog's lock held: it must not call back into the catalog.
type Observer interface {
	TopicDeleted(t base.Topic)
}

// Catalog is the set of open topics of a data directory. It is safe for concurrent use.
type Catalog struct {
	opts     Options
	readOnly bool

	mu struct {
		sync.RWMutex
		closed          bool
		topics          map[string]*Topic
		lastIncarnation base.Incarnation
		observers       []Observer
		unknown         []string // partition directories the index does not know, found at Open
	}
}

var _ base.Topics = (*Catalog)(nil)

func newCatalog(opts Options, readOnly bool) *Catalog {
	c := &Catalog{opts: opts, readOnly: readOnly}
	c.mu.topics = map[string]*Topic{}
	return c
}

func (c *Catalog) topicsDir() string { return c.opts.FS.PathJoin(c.opts.Dir, base.TopicsDirName) }

func (c *Catalog) partitionDir(topic string, p int) string {
	return c.opts.FS.PathJoin(c.topicsDir(), base.PartitionDirName(topic, p))
}

// Open opens the catalog of a writable data directory: it finishes the deletions a crash interrupted
// (tombstones), opens every partition of every topic the index records (recovering each log), and
// reports the partition directories the index does not know without touching them.
func Open(opts Options) (*Catalog, error) {
	c := newCatalog(opts, false)
	store, fs := opts.Index, opts.FS
	if err := fsutil.MkdirAllSynced(fs, c.topicsDir(), 0o755); err != nil {
		return nil, err
	}
	last, err := store.LastIncarnation()
	if err != nil {
		return nil, err
	}
	c.mu.lastIncarnation = last
	names, err := store.Topics()
	if err != nil {
		return nil, err
	}
	type stored struct {
		cfg base.TopicConfig
		inc base.Incarnation
	}
	topics := make(map[string]stored, len(names))
	for _, name := range names {
		raw, _, err := store.Topic(name)
		if err != nil {
			return nil, err
		}
		cfg, inc, err := base.DecodeTopic(raw)
		if err != nil {
			return nil, fmt.Errorf("mqlog: topic %s: %w", name, err)
		}
		topics[name] = stored{cfg, inc}
		c.mu.lastIncarnation = max(c.mu.lastIncarnation, inc)
	}
	if err := c.finishDeletes(); err != nil {
		return nil, err
	}
	entries, err := fs.List(c.topicsDir())
	if err != nil {
		return nil, err
	}
	slices.Sort(entries)
	for _, name := range entries {
		if topic, p, ok := base.ParsePartitionDir(name); ok {
			if st, known := topics[topic]; known && int(p) < st.cfg.Partitions {
				continue
			}
		}
		path := fs.PathJoin(c.topicsDir(), name)
		c.mu.unknown = append(c.mu.unknown, path)
		opts.Logger.Warn("mqlog: entry of the topics directory unknown to the index, left as it is (mqlog verify reports it)", "path", path)
	}
	for _, name := range sortedKeys(topics) {
		st := topics[name]
		t, err := c.openTopic(name, st.inc, st.cfg)
		if err != nil {
			c.closeTopics()
			return nil, err
		}
		c.mu.topics[name] = t
	}
	// Every partition's new epoch, with one synced commit, before any is written to.
	if err := c.syncIndex(); err != nil {
		c.closeTopics()
		return nil, err
	}
	return c, nil
}

// OpenReadOnly opens the catalog of a data directory without the index: topics and partitions are found
// from the directory (partitions 0 to n-1 where each directory exists), each log is opened read-only, and
// nothing is written or created.
func OpenReadOnly(opts Options) (*Catalog, error) {
	c := newCatalog(opts, true)
	entries, err := opts.FS.List(c.topicsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	slices.Sort(entries)
	present := map[string]map[int32]bool{}
	for _, name := range entries {
		if topic, p, ok := base.ParsePartitionDir(name); ok {
			if present[topic] == nil {
				present[topic] = map[int32]bool{}
			}
			present[topic][p] = true
		} else {
			c.mu.unknown = append(c.mu.unknown, opts.FS.PathJoin(c.topicsDir(), name))
		}
	}
	for _, name := range sortedKeys(present) {
		n := 0
		for present[name][int32(n)] {
			n++
		}
		for p := range present[name] {
			if int(p) >= n {
				c.mu.unknown = append(c.mu.unknown, c.partitionDir(name, int(p)))
			}
		}
		if n == 0 {
			continue
		}
		t, err := c.openTopic(name, base.LegacyIncarnation, base.TopicConfig{Partitions: n}.WithDefaults())
		if err != nil {
			c.closeTopics()
			return nil, err
		}
		c.mu.topics[name] = t
	}
	return c, nil
}

// openTopic opens the logs of every partition of a topic. In a writable catalog their states are saved
// without sync (wal.Options.DeferSync): the caller syncs the index once (syncIndex) before the topic is
// used, one synced commit for every partition instead of one each.
func (c *Catalog) openTopic(name string, inc base.Incarnation, cfg base.TopicConfig) (*Topic, error) {
	t := newTopic(name, inc, cfg)
	if err := c.makePartitionDirs(name, 0, cfg.Partitions); err != nil {
		return nil, err
	}
	var states map[int32][]byte
	if !c.readOnly {
		var err error
		if states, err = c.opts.Index.LogStates(name); err != nil {
			return nil, err
		}
	}
	// Partitions open in parallel: each is a few syscalls (a directory listing, stats) and index writes,
	// which overlap.
	logs := make([]*wal.Log, cfg.Partitions)
	errs := make([]error, cfg.Partitions)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(openWorkers, cfg.Partitions) {
		wg.Go(func() {
			for {
				p := int(next.Add(1) - 1)
				if p >= cfg.Partitions {
					return
				}
				logs[p], errs[p] = c.openPartitionWith(name, cfg, p, states[int32(p)])
				if errs[p] != nil {
					next.Store(int64(cfg.Partitions)) // stop the others early
				}
			}
		})
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			for _, open := range logs {
				if open != nil {
					open.Close()
				}
			}
			return nil, fmt.Errorf("mqlog: open %s partition %d: %w", name, p, err)
		}
	}
	t.logs.Store(&logs)
	return t, nil
}

// openWorkers is how many partitions of a topic open at once.
const openWorkers = 8

// preloadedIndex is a partition's index whose first LoadState (wal.Open's) returns the state read with
// the rest of its topic's (Store.LogStates), nil when it has none.
type preloadedIndex struct {
	base.PartitionIndex
	state []byte
	used  atomic.Bool
}

// LoadState implements wal.Index.
func (p *preloadedIndex) LoadState() ([]byte, error) {
	if !p.used.Swap(true) {
		st := p.state
		p.state = nil
		return st, nil
	}
	return p.PartitionIndex.LoadState()
}

// makePartitionDirs creates the missing directories of partitions [from, to) of a topic, then fsyncs the
// topics directory once (instead of once per partition, as wal.Open would). Read-only, it does nothing.
func (c *Catalog) makePartitionDirs(name string, from, to int) error {
	if c.readOnly {
		return nil
	}
	fs, made := c.opts.FS, false
	for p := from; p < to; p++ {
		dir := c.partitionDir(name, p)
		if _, err := fs.Stat(dir); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mqlog: open %s partition %d: %w", name, p, err)
		}
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("mqlog: create %s partition %d: %w", name, p, err)
		}
		made = true
	}
	if made {
		return fsutil.SyncDir(fs, c.topicsDir())
	}
	return nil
}

// syncIndex makes durable, with one synced commit, the states that partitions opened or closed with
// wal.Options.DeferSync saved.
func (c *Catalog) syncIndex() error {
	if c.readOnly {
		return nil
	}
	return c.opts.Index.Sync()
}

func (c *Catalog) openPartition(name string, cfg base.TopicConfig, p int) (*wal.Log, error) {
	var state []byte
	if !c.readOnly {
		var err error
		if state, err = c.opts.Index.LogState(name, int32(p)); err != nil {
			return nil, err
		}
	}
	return c.openPartitionWith(name, cfg, p, state)
}

// openPartitionWith opens partition p, whose saved state (read by the caller) is state.
func (c *Catalog) openPartitionWith(name string, cfg base.TopicConfig, p int, state []byte) (*wal.Log, error) {
	o := c.opts.Log
	o.FS = c.opts.FS
	o.Dir = c.partitionDir(name, p)
	o.SegmentBytes = cfg.SegmentBytes
	o.Compacted = cfg.Compacted()
	if c.readOnly {
		return wal.OpenReadOnly(o)
	}
	o.Index = &preloadedIndex{PartitionIndex: base.PartitionIndex{Store: c.opts.Index, Topic: name, Partition: int32(p)}, state: state}
	o.DeferSync = true
	return wal.Open(o)
}

// AddObserver registers o for the topic lifecycle.
func (c *Catalog) AddObserver(o Observer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.observers = append(c.mu.observers, o)
}

// Unknown returns the entries of the topics directory found at Open that belong to no topic: not named
// like a partition directory, of a topic the index does not know, beyond its partition count, or (read
// only, without the index) beyond a missing partition.
func (c *Catalog) Unknown() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := slices.Clone(c.mu.unknown)
	slices.Sort(out)
	return out
}

// Get returns the open topic name, or an error wrapping ErrTopicNotFound (ErrClosed once closed).
func (c *Catalog) Get(name string) (*Topic, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.closed {
		return nil, base.ErrClosed
	}
	t, ok := c.mu.topics[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", base.ErrTopicNotFound, name)
	}
	return t, nil
}

// Topic implements base.Topics.
func (c *Catalog) Topic(name string) (base.Topic, error) {
	t, err := c.Get(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// TopicNames returns the names of the open topics, sorted.
func (c *Catalog) TopicNames() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return sortedKeys(c.mu.topics)
}

// Each calls fn for every open topic, in name order.
func (c *Catalog) Each(fn func(*Topic)) {
	c.mu.RLock()
	topics := make([]*Topic, 0, len(c.mu.topics))
	for _, name := range sortedKeys(c.mu.topics) {
		topics = append(topics, c.mu.topics[name])
	}
	c.mu.RUnlock()
	for _, t := range topics {
		fn(t)
	}
}

// Close closes every partition's log (each records a clean shutdown). Calls after it return ErrClosed.
func (c *Catalog) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return base.ErrClosed
	}
	c.mu.closed = true
	c.mu.Unlock()
	return c.closeTopics()
}

func (c *Catalog) closeTopics() error {
	c.mu.Lock()
	topics := c.mu.topics
	c.mu.topics = map[string]*Topic{}
	c.mu.Unlock()
	var errs []error
	for _, t := range topics {
		for _, l := range t.Logs() {
			if err := l.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	// The clean states the logs saved without sync (wal.Options.DeferSync), with one synced commit.
	if len(topics) > 0 {
		if err := c.syncIndex(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
