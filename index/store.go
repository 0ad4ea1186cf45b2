package index

import (
	"errors"
	"fmt"
	"github.com/mqlog/mqlog/internal/fsutil"
	"log/slog"
	"os"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Errors returned by the Store. Test for them with errors.Is; the errors returned carry the key, name or
// number that caused them.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("mqlog/index: store closed")
	// ErrReadOnly is returned by every write to a Store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("mqlog/index: store opened read-only")
	// ErrCorruptValue reports a stored value that cannot be decoded (wrong length, out of range).
	ErrCorruptValue = errors.New("mqlog/index: corrupt value")
	// ErrCorruptKey reports a stored key that does not follow the key layout.
	ErrCorruptKey = errors.New("mqlog/index: corrupt key")
	// ErrInvalidTopic reports a topic name outside Kafka's rule: [a-zA-Z0-9._-], 1 to 249 characters,
	// not "." or "..".
	ErrInvalidTopic = errors.New("mqlog/index: invalid topic name")
	// ErrInvalidGroup reports an empty group name or one that contains 0x00.
	ErrInvalidGroup = errors.New("mqlog/index: invalid group name")
	// ErrInvalidPartition reports a negative partition.
	ErrInvalidPartition = errors.New("mqlog/index: invalid partition")
	// ErrInvalidOffset reports a negative offset or position where one is stored.
	ErrInvalidOffset = errors.New("mqlog/index: invalid offset")
	// ErrOffsetMetadataTooLarge reports a commit's metadata over MaxOffsetMetadataBytes.
	ErrOffsetMetadataTooLarge = errors.New("mqlog/index: offset metadata too large")
)

// Pebble tuning for a small metadata store: a small memtable and block cache, few open files. The
// default format major version may change between Pebble releases, so it is pinned.
const (
	memTableSize       = 4 << 20
	cacheSize          = 4 << 20
	maxOpenFiles       = 64
	formatMajorVersion = pebble.FormatValueSeparation
)

// Options configures Open. The zero value is valid.
type Options struct {
	// FS is the filesystem for every file of the store. Nil means vfs.Default.
	FS vfs.FS
	// Logger receives Pebble's log messages. Nil means silent.
	Logger *slog.Logger
	// ReadOnly opens an existing store without writing, creating or recovering anything on disk; the
	// store's write methods return ErrReadOnly.
	ReadOnly bool
}

// Store is the Pebble-backed index of one data directory. Its methods are safe for concurrent use.
type Store struct {
	dir      string
	readOnly bool

	mu struct {
		// RLock is held by every operation on db, Lock by Close, so that Close waits for operations
		// in flight and none starts on a closed Pebble DB (which panics).
		sync.RWMutex
		db *pebble.DB // nil once closed
	}
}

// Open opens the store in dir, normally <data>/index. Unless opts.ReadOnly is set, it creates dir and any
// missing parent (Pebble does the MkdirAll and fsyncs each parent it created) and an empty store in it.
// Read-only, it fails when dir holds no store.
func Open(dir string, opts Options) (*Store, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	watch := newDiskFullWatch()
	pebbleOpts := &pebble.Options{
		FS:                 markerOrderFS{FS: fs, watch: watch},
		Logger:             newPebbleLogger(opts.Logger),
		MemTableSize:       memTableSize,
		CacheSize:          cacheSize,
		MaxOpenFiles:       maxOpenFiles,
		FormatMajorVersion: formatMajorVersion,
		ReadOnly:           opts.ReadOnly,
		EventListener:      &pebble.EventListener{},
	}
	watch.listen(pebbleOpts.EventListener, pebbleOpts.Logger)
	if opts.ReadOnly {
		// A higher version than the store's would make Open ratchet it, which is a write.
		pebbleOpts.FormatMajorVersion = pebble.FormatMinSupported
		pebbleOpts.FS = readOnlyLockFS{pebbleOpts.FS}
	}
	if !opts.ReadOnly {
		if err := createIfMissing(fs, dir, pebbleOpts); err != nil {
			return nil, fmt.Errorf("mqlog/index: create %s: %w", dir, err)
		}
		// The store's directory entry, and its siblings', may be only in the page cache of a process that
		// was killed: make them durable before anything is recorded in the store that relies on them.
		if err := fsutil.SyncDir(fs, fs.PathDir(dir)); err != nil {
			return nil, fmt.Errorf("mqlog/index: %w", err)
		}
		if err := checkSpace(fs, dir); err != nil {
			return nil, fmt.Errorf("mqlog/index: open %s: %w", dir, err)
		}
	}
	db, err := openWithWatch(dir, pebbleOpts, watch)
	if err != nil {
		return nil, fmt.Errorf("mqlog/index: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, readOnly: opts.ReadOnly}
	s.mu.db = db
	return s, nil
}

// createIfMissing creates an empty store in dir, atomically, when dir does not exist: Pebble's own creation
// of a new store is not crash-safe (a crash part-way can leave a manifest marker whose manifest's directory
// entry was never synced, and Pebble then refuses to open the directory). So the store is built in
// dir+".tmp", closed, synced and renamed into place, and the parent directory is synced; a leftover
// dir+".tmp" is the trace of a crash during creation and is removed.
func createIfMissing(fs vfs.FS, dir string, pebbleOpts *pebble.Options) error {
	if _, err := fs.Stat(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp := dir + fsutil.TempSuffix
	if err := fs.RemoveAll(tmp); err != nil {
		return err
	}
	db, err := pebble.Open(tmp, pebbleOpts)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := fsutil.SyncDir(fs, tmp); err != nil {
		return err
	}
	if err := fs.Rename(tmp, dir); err != nil {
		return err
	}
	return fsutil.SyncDir(fs, fs.PathDir(dir))
}

// Close closes the store, waiting for operations in flight. Unsynced sparse entries are flushed to
// Pebble's log but not fsynced. Calling Close again returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.db == nil {
		return ErrClosed
	}
	err := s.mu.db.Close()
	s.mu.db = nil
	if err != nil {
		return fmt.Errorf("mqlog/index: close %s: %w", s.dir, err)
	}
	return nil
}

// acquire returns the open DB with the read lock held; release must follow when err is nil.
func (s *Store) acquire() (*pebble.DB, error) {
	s.mu.RLock()
	if s.mu.db == nil {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.mu.db, nil
}

// acquireForWrite is acquire for the methods that write.
func (s *Store) acquireForWrite() (*pebble.DB, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	return s.acquire()
}

func (s *Store) release() { s.mu.RUnlock() }

// get returns a copy of the value of key, or ok false when the key is absent.
func get(db *pebble.DB, key []byte) (value []byte, ok bool, err error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("mqlog/index: get %q: %w", key, err)
	}
	value = slices.Clone(v)
	if value == nil {
		value = []byte{}
	}
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("mqlog/index: get %q: %w", key, err)
	}
	return value, true, nil
}

// commit applies b with the given write options and closes it.
func commit(b *pebble.Batch, opts *pebble.WriteOptions, what string) error {
	err := b.Commit(opts)
	if closeErr := b.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("mqlog/index: %s: %w", what, err)
	}
	return nil
}

// PutTopic stores the opaque configuration of topic, replacing any previous one, and syncs it.
func (s *Store) PutTopic(name string, config []byte) error {
	if err := checkTopic(name); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Set(topicKey(name), config, pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: put topic %q: %w", name, err)
	}
	return nil
}

// Topic returns the configuration stored by PutTopic, or ok false when the topic has none.
func (s *Store) Topic(name string) (config []byte, ok bool, err error) {
	if err := checkTopic(name); err != nil {
		return nil, false, err
	}
	db, err := s.acquire()
	if err != nil {
		return nil, false, err
	}
	defer s.release()
	return get(db, topicKey(name))
}

// Topics returns the names of the topics that have a configuration, sorted.
func (s *Store) Topics() ([]string, error) {
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	prefix := []byte{kindTopic}
	var names []string
	err = scan(db, prefix, prefixEnd(prefix), func(key, _ []byte) error {
		name, rest, ok := splitName(key[1:])
		if !ok || len(rest) != 0 {
			return corruptKey(key)
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// LogState returns the state saved by SaveLogState for a partition, or nil when there is none.
func (s *Store) LogState(topic string, partition int32) ([]byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if err := checkPartition(partition); err != nil {
		return nil, err
	}
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	state, _, err := get(db, logStateKey(topic, partition))
	return state, err
}

// SaveLogState stores the opaque durable state of a partition's log, replacing any previous one, and
// syncs it.
func (s *Store) SaveLogState(topic string, partition int32, state []byte) error {
	return s.saveLogState(topic, partition, state, pebble.Sync)
}

// saveLogState is SaveLogState and SaveLogStateNoSync, with the write options that tell them apart.
func (s *Store) saveLogState(topic string, partition int32, state []byte, opts *pebble.WriteOptions) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := checkPartition(partition); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Set(logStateKey(topic, partition), state, opts); err != nil {
		return fmt.Errorf("mqlog/index: save log state %s-%d: %w", topic, partition, err)
	}
	return nil
}

// scan calls fn for every key in [lower, upper) in order, stopping at the first error. The slices passed
// to fn are valid only during the call.
func scan(db *pebble.DB, lower, upper []byte, fn func(key, value []byte) error) error {
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("mqlog/index: scan %q: %w", lower, err)
	}
	for valid := iter.First(); valid; valid = iter.Next() {
		value, err := iter.ValueAndErr()
		if err != nil {
			_ = iter.Close()
			return fmt.Errorf("mqlog/index: read %q: %w", iter.Key(), err)
		}
		if err := fn(iter.Key(), value); err != nil {
			_ = iter.Close()
			return err
		}
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("mqlog/index: scan %q: %w", lower, err)
	}
	return nil
}
