package mqlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/wal"
)

// Directory layout inside a data directory.
const (
	IndexDirName  = "index"  // Pebble
	TopicsDirName = "topics" // one directory per partition: <topic>-<partition>
)

// DB is an open data directory: its topics, their partitions' logs and the Pebble index of consumer state.
// It is safe for concurrent use.
type DB struct {
	dir      string
	opts     Options
	readOnly bool
	lock     io.Closer    // nil when read-only
	store    *index.Store // nil when read-only

	mu struct {
		sync.RWMutex
		closed bool
		topics map[string]*topic
	}
	groups groupRegistry
	// cleaner applies retention and compaction in the background (retention.go).
	cleaner cleaner
	queues  queueRegistry // work-queue groups (queue.go)

	producers producerRegistry // idempotent producers' state (raw.go)
}

// Open opens the data directory dir for reading and writing, creating it when it is missing. It takes the
// directory's exclusive lock first (ErrLocked if another writer has it), opens the Pebble index and every
// partition's log, recovering each after a crash.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if err := fsutil.MkdirAllSynced(o.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("mqlog: create %s: %w", dir, err)
	}
	lock, err := lockDir(o.FS, dir)
	if err != nil {
		return nil, err
	}
	if o.FS == vfs.Default {
		o.FS = fsutil.NotWorldWritable(o.FS) // whatever the umask, nobody else may rewrite the data
	}
	db := &DB{dir: dir, opts: o, lock: lock}
	db.mu.topics = make(map[string]*topic)
	db.groups.init()
	if err := db.open(); err != nil {
		db.closeAll()
		return nil, err
	}
	db.startCleaner()
	return db, nil
}

func (db *DB) open() error {
	fs := db.opts.FS
	store, err := index.Open(fs.PathJoin(db.dir, IndexDirName), index.Options{FS: fs, Logger: db.opts.Logger})
	if err != nil {
		return fmt.Errorf("mqlog: open index: %w", err)
	}
	db.store = store
	if err := fsutil.MkdirAllSynced(fs, db.topicsDir(), 0o755); err != nil {
		return err
	}
	names, err := store.Topics()
	if err != nil {
		return err
	}
	configs := make(map[string]TopicConfig, len(names))
	for _, name := range names {
		raw, _, err := store.Topic(name)
		if err != nil {
			return err
		}
		cfg, err := decodeTopicConfig(raw)
		if err != nil {
			return fmt.Errorf("mqlog: topic %s: %w", name, err)
		}
		configs[name] = cfg
	}
	// Partition directories the index does not know (an index that was lost) are adopted with defaults.
	found, err := listPartitionDirs(fs, db.topicsDir())
	if err != nil {
		return err
	}
	for name, parts := range found {
		if _, ok := configs[name]; !ok {
			cfg := TopicConfig{Partitions: parts}.withDefaults()
			if err := store.PutTopic(name, encodeTopicConfig(cfg)); err != nil {
				return err
			}
			configs[name] = cfg
			db.opts.Logger.Info("mqlog: adopted topic found on disk", "topic", name, "partitions", parts)
		}
	}
	for name, cfg := range configs {
		t, err := db.openTopic(name, cfg)
		if err != nil {
			return err
		}
		db.mu.topics[name] = t
	}
	return db.clampConsumerState() // groups.go
}

// OpenReadOnly opens dir for reading only (DESIGN.md decision 8): no lock, no Pebble, nothing written or
// created. Topics and partitions are found from the directory; each partition's segments are read
// directly, and Follow picks up what a writer in another process appends. Consumer groups, which live in
// Pebble, are not available (ErrReadOnly).
func OpenReadOnly(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if _, err := o.FS.Stat(dir); err != nil {
		return nil, fmt.Errorf("mqlog: open %s: %w", dir, err)
	}
	db := &DB{dir: dir, opts: o, readOnly: true}
	db.mu.topics = make(map[string]*topic)
	db.groups.init()
	found, err := listPartitionDirs(o.FS, db.topicsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for name, parts := range found {
		t, err := db.openTopic(name, TopicConfig{Partitions: parts}.withDefaults())
		if err != nil {
			db.closeAll()
			return nil, err
		}
		db.mu.topics[name] = t
	}
	return db, nil
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// ReadOnly reports whether db was opened with OpenReadOnly.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Close closes every partition's log (each records a clean shutdown), the index and the lock. It waits for
// appends in flight.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.mu.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.mu.closed = true
	db.mu.Unlock()
	db.stopCleaner()
	return db.closeAll()
}

func (db *DB) closeAll() error {
	var errs []error
	db.mu.Lock()
	topics := db.mu.topics
	db.mu.topics = map[string]*topic{}
	db.mu.Unlock()
	for _, t := range topics {
		for _, p := range t.partitions {
			if err := p.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	if db.store != nil {
		errs = append(errs, db.store.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
	}
	return errors.Join(errs...)
}

func (db *DB) topicsDir() string { return db.opts.FS.PathJoin(db.dir, TopicsDirName) }

// Topics returns the names of the topics, sorted.
func (db *DB) Topics() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	names := make([]string, 0, len(db.mu.topics))
	for name := range db.mu.topics {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// listPartitionDirs maps each topic found under topicsDir to its partition count.
func listPartitionDirs(fs vfs.FS, topicsDir string) (map[string]int, error) {
	names, err := fs.List(topicsDir)
	if err != nil {
		return nil, err
	}
	found := make(map[string]int)
	for _, n := range names {
		name, p, ok := parsePartitionDir(n)
		if !ok {
			return nil, fmt.Errorf("mqlog: unexpected entry %s in %s", n, topicsDir)
		}
		found[name] = max(found[name], int(p)+1)
	}
	return found, nil
}
