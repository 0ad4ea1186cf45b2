package mqlog

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
	"github.com/mqlog/mqlog/internal/cleaner"
	"github.com/mqlog/mqlog/internal/dedup"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/internal/groups"
	"github.com/mqlog/mqlog/internal/lock"
	"github.com/mqlog/mqlog/internal/workqueue"
)

// DB is an open data directory: its topics, their partitions' logs and the Pebble index of consumer state.
// It is safe for concurrent use.
//
// A DB is the facade over the rooms that do the work (internal/catalog: topics and partitions;
// internal/groups: consumer groups and their commits; internal/workqueue: work-queue groups;
// internal/cleaner: retention and compaction), wired together here.
type DB struct {
	dir      string
	opts     Options
	readOnly bool
	closed   atomic.Bool

	lock    io.Closer    // nil when read-only
	store   *index.Store // nil when read-only
	catalog *catalog.Catalog
	groups  *groups.Coordinator // nil when read-only
	queues  *workqueue.Registry // nil when read-only
	cleaner *cleaner.Cleaner    // nil when read-only

	producers producerRegistry // idempotent producers' state (raw.go)

	commitLatency latencyRecorder // of every append (metrics_latency.go)
	dedup         *dedup.Registry // nil when read-only

	// queueStore is the work queues' store: the index, or a replicator's (queue_replication.go).
	queueStore     queueStore
	deadLetterNext atomic.Uint64 // round robin of keyless replicated dead letters
}

// Open opens the data directory dir for reading and writing, creating it when it is missing. It takes the
// directory's exclusive lock first (ErrLocked if another writer has it), opens the Pebble index and every
// partition's log, recovering each after a crash, and finishes what a crash interrupted (a topic
// deletion; consumer state past the end of a log under a relaxed sync policy).
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if err := fsutil.MkdirAllSynced(o.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("mqlog: create %s: %w", dir, err)
	}
	held, err := lock.Exclusive(o.FS, dir)
	if err != nil {
		return nil, err
	}
	lock.RecordHolder(held)
	osFS := servesFiles(o.FS)
	if o.FS == vfs.Default {
		o.FS = fsutil.NotWorldWritable(o.FS) // whatever the umask, nobody else may rewrite the data
	}
	db := &DB{dir: dir, opts: o, lock: held}
	if osFS {
		db.removeStaleServingFile() // serving.go
	}
	if err := db.open(); err != nil {
		return nil, errors.Join(err, db.closeAll())
	}
	db.cleaner.Start()
	return db, nil
}

func (db *DB) open() error {
	o := &db.opts
	store, err := index.Open(o.FS.PathJoin(db.dir, IndexDirName), index.Options{FS: o.FS, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("mqlog: open index: %w", err)
	}
	db.store = store
	db.catalog, err = catalog.Open(catalog.Options{FS: o.FS, Dir: db.dir, Index: store, Log: o.logOptions(), Logger: o.Logger})
	if err != nil {
		return err
	}
	db.groups = groups.New(store, db.catalog, o.Logger)
	db.queueStore.Store = store
	db.queues = workqueue.New(&db.queueStore, db.catalog, deadLetterAppender{db}, o.Logger)
	db.dedup = dedup.New()
	db.catalog.AddObserver(db.groups)
	db.catalog.AddObserver(db.queues)
	db.catalog.AddObserver(db.dedup)
	// Before anything is appended: offsets past a log's end would name new messages.
	if err := db.groups.ClampToLogs(); err != nil {
		return err
	}
	if err := db.queues.ClampToLogs(); err != nil {
		return err
	}
	db.cleaner = cleaner.New(db.catalog, []cleaner.FloorSource{db.groups, db.queues}, []cleaner.Observer{db.queues},
		cleaner.Options{Interval: o.RetentionCheckInterval, MapBytes: o.CompactionMapBytes, BytesPerSecond: o.CompactionBytesPerSecond, Logger: o.Logger})
	return nil
}

// OpenReadOnly opens dir for reading only: no lock, no Pebble, nothing written or created. Topics and
// partitions are found from the directory; each partition's segments are read directly, and Follow picks
// up what a writer in another process appends. Consumer groups, which live in Pebble, are not available
// (ErrReadOnly).
func OpenReadOnly(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if _, err := o.FS.Stat(dir); err != nil {
		return nil, fmt.Errorf("mqlog: open %s: %w", dir, err)
	}
	cat, err := catalog.OpenReadOnly(catalog.Options{FS: o.FS, Dir: dir, Log: o.logOptions(), Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &DB{dir: dir, opts: o, readOnly: true, catalog: cat}, nil
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// ReadOnly reports whether db was opened with OpenReadOnly.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Close closes every partition's log (each records a clean shutdown), the index and the lock. It waits for
// appends in flight.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if db.cleaner != nil {
		db.cleaner.Stop()
	}
	return facade(db.closeAll())
}

func (db *DB) closeAll() error {
	var errs []error
	if db.catalog != nil {
		if err := db.catalog.Close(); err != nil && !errors.Is(err, base.ErrClosed) {
			errs = append(errs, err)
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

// writable returns ErrReadOnly on a read-only DB and ErrClosed on a closed one.
func (db *DB) writable() error {
	if db.readOnly {
		return ErrReadOnly
	}
	if db.closed.Load() {
		return ErrClosed
	}
	return nil
}
