package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/internal/lock"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Errors returned by the Store, for errors.Is.
var (
	// ErrNonMonotonic is returned by StoreLogs for entries that do not follow the last index one by one
	// (the store is a raft.MonotonicLogStore; raft never writes such entries to one).
	ErrNonMonotonic = errors.New("mqlog/raftstore: log entries not contiguous with the log")
	// ErrMiddleRange is returned by DeleteRange for a range that is neither a prefix nor a suffix of the
	// log (raft deletes only those: compaction at the head, a conflicting tail).
	ErrMiddleRange = errors.New("mqlog/raftstore: only a prefix or a suffix of the log may be deleted")
	// ErrBadEntry is returned by GetLog for a record that is not the raft entry it should be.
	ErrBadEntry = errors.New("mqlog/raftstore: bad log entry")
	// ErrClosed is returned by calls on a closed Store.
	ErrClosed = errors.New("mqlog/raftstore: store closed")
	// ErrKeyNotFound is returned by Get for a key that was never Set. Its text is exactly "not found",
	// unlike this package's other errors: hashicorp/raft compares err.Error() with "not found" when it
	// reads its stable values at start (as raft.InmemStore and raft-boltdb return).
	ErrKeyNotFound = errors.New("not found")
)

// Options configure Open.
type Options struct {
	// FS is the filesystem of every file of the store. Nil means vfs.Default.
	FS vfs.FS
	// Dir is the store's directory: <Dir>/LOCK, <Dir>/index (Pebble), <Dir>/log (segments).
	Dir string
	// SegmentBytes is the size of a log segment (wal.DefaultSegmentBytes when 0): DeleteRange at the head
	// frees disk by whole segments.
	SegmentBytes int64
	// MaxEntryBytes bounds an entry's Data (with its key and extensions), 0 for the segment default
	// (segment.DefaultMaxMessageBytes, 1 MiB). StoreLogs of a larger entry fails, so a caller that
	// proposes large commands raises it (package cluster does, to carry a Kafka batch of up to 16 MiB).
	MaxEntryBytes int
	// Logger receives recovery notes. Nil is silent.
	Logger *slog.Logger
}

// Store is a raft.LogStore (also raft.MonotonicLogStore) on an mqlog segment log and a raft.StableStore on
// Pebble, both in one directory. It is safe for concurrent use.
type Store struct {
	dir   string
	lk    io.Closer
	idx   *index.Store
	log   *wal.Log
	close sync.Once

	// write serializes StoreLogs and DeleteRange: each checks the log's ends and then changes them.
	write sync.Mutex

	reader struct {
		sync.Mutex
		r *wal.Reader // kept between GetLog calls: raft's replication reads index after index
	}
}

var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
)

// logName is the partition name of the raft log in the store's own Pebble: the wal's durable state and
// sparse index live under it (index's 'l' and 'x' keys), the stable values under 'r' keys.
const (
	logName      = "raft"
	logPartition = 0
)

// Open opens (creating when missing) the store in opts.Dir and recovers its log as mqlog recovers a
// partition (wal.Open): a torn tail is cut, damage is reported, a committed cut is finished. It takes the
// directory's writer lock.
func Open(opts Options) (*Store, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := fsutil.MkdirAllSynced(fs, opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("mqlog/raftstore: create %s: %w", opts.Dir, err)
	}
	lk, err := lock.Exclusive(fs, opts.Dir)
	if err != nil {
		return nil, err
	}
	idx, err := index.Open(fs.PathJoin(opts.Dir, "index"), index.Options{FS: fs, Logger: opts.Logger})
	if err != nil {
		lk.Close()
		return nil, err
	}
	l, err := wal.Open(wal.Options{
		FS: fs, Dir: fs.PathJoin(opts.Dir, "log"), Index: base.PartitionIndex{Store: idx, Topic: logName, Partition: logPartition},
		SegmentBytes: opts.SegmentBytes, Logger: logger, Limits: entryLimits(opts.MaxEntryBytes),
	})
	if err != nil {
		idx.Close()
		lk.Close()
		return nil, err
	}
	return &Store{dir: opts.Dir, lk: lk, idx: idx, log: l}, nil
}

// Close closes the log (clean shutdown), then Pebble, then releases the lock.
func (s *Store) Close() error {
	err := ErrClosed
	s.close.Do(func() {
		err = s.log.Close()
		if cerr := s.idx.Close(); err == nil {
			err = cerr
		}
		if cerr := s.lk.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// Log returns the segment log under the store (for inspection and tests; write only through the Store).
func (s *Store) Log() *wal.Log { return s.log }

// The raft index of the entry at offset o is o+1: a log that starts empty at offset 0 takes index 1 there.
func indexOf(offset int64) uint64 { return uint64(offset) + 1 }
func offsetOf(index uint64) int64 { return int64(index) - 1 }

// bounds returns the first and last index held, 0 and 0 when the log is empty.
func (s *Store) bounds() (first, last uint64) {
	start, hw := s.log.StartOffset(), s.log.HighWatermark()
	if hw <= start {
		return 0, 0
	}
	return indexOf(start), indexOf(hw - 1)
}

// FirstIndex implements raft.LogStore: the first index held, 0 for an empty log.
func (s *Store) FirstIndex() (uint64, error) {
	if s.log.Closed() {
		return 0, ErrClosed
	}
	first, _ := s.bounds()
	return first, nil
}

// LastIndex implements raft.LogStore: the last index held, 0 for an empty log.
func (s *Store) LastIndex() (uint64, error) {
	if s.log.Closed() {
		return 0, ErrClosed
	}
	_, last := s.bounds()
	return last, nil
}

// GetLog implements raft.LogStore: the entry at index, or raft.ErrLogNotFound outside the log.
func (s *Store) GetLog(idx uint64, out *raft.Log) error {
	first, last := s.bounds()
	if first == 0 || idx < first || idx > last {
		if s.log.Closed() {
			return ErrClosed
		}
		return raft.ErrLogNotFound
	}
	s.reader.Lock()
	defer s.reader.Unlock()
	off := offsetOf(idx)
	r := s.reader.r
	var err error
	switch {
	case r == nil:
		r, err = s.log.NewReader(off, true)
	case r.Offset() != off:
		err = r.SetOffset(off)
	}
	if err != nil {
		s.reader.r = nil
		if errors.Is(err, wal.ErrOutOfRange) {
			return raft.ErrLogNotFound // (deleted meanwhile)
		}
		return fmt.Errorf("mqlog/raftstore: read index %d: %w", idx, err)
	}
	s.reader.r = r
	rec, err := r.Next()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, wal.ErrOutOfRange):
		s.reader.r = nil
		return raft.ErrLogNotFound // (cut meanwhile)
	case err != nil:
		s.reader.r = nil
		return fmt.Errorf("mqlog/raftstore: read index %d: %w", idx, err)
	case rec.Offset != off:
		s.reader.r = nil
		return fmt.Errorf("%w: read index %d, found offset %d", ErrBadEntry, idx, rec.Offset)
	}
	return decodeEntry(rec, idx, out)
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: the entries, which must follow the last index one by one, are
// appended as one batch each in one group commit, so they cost one fsync together. On an empty log the
// first entry may have any index: the log is first reset to it (wal.Log.Reset, a synced state save), as
// after raft installs a snapshot.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.write.Lock()
	defer s.write.Unlock()
	for i := 1; i < len(logs); i++ {
		if logs[i].Index != logs[i-1].Index+1 {
			return fmt.Errorf("%w: index %d after %d in one call", ErrNonMonotonic, logs[i].Index, logs[i-1].Index)
		}
	}
	if logs[0].Index == 0 {
		return fmt.Errorf("%w: index 0", ErrNonMonotonic)
	}
	want := offsetOf(logs[0].Index)
	if next := s.log.HighWatermark(); want != next {
		if first, _ := s.bounds(); first != 0 {
			return fmt.Errorf("%w: index %d after last index %d", ErrNonMonotonic, logs[0].Index, indexOf(next-1))
		}
		if err := s.log.Reset(want); err != nil {
			return fmt.Errorf("mqlog/raftstore: start the empty log at index %d: %w", logs[0].Index, err)
		}
	}
	batches := make([][]segment.Record, len(logs))
	recs := make([]segment.Record, len(logs))
	for i, l := range logs {
		recs[i] = encodeEntry(l)
		batches[i] = recs[i : i+1 : i+1]
	}
	base, err := s.log.AppendBatches(batches)
	if err != nil {
		return fmt.Errorf("mqlog/raftstore: store indexes %d to %d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	if base != want {
		return fmt.Errorf("%w: stored index %d at offset %d", ErrBadEntry, logs[0].Index, base) // (cannot happen under s.write)
	}
	return nil
}

// DeleteRange implements raft.LogStore, for a prefix or a suffix of the log (ErrMiddleRange otherwise):
//   - a prefix (min at or below the first index) raises the log's start past max (wal.Log.DeleteBefore),
//     synced, and removes the segments wholly below it; a range reaching past the last index empties the
//     log, which stays at its next index until StoreLogs starts it anew;
//   - a suffix (max at or past the last index) cuts the log at min (wal.Log.TruncateFrom): one segment
//     trimmed at a batch boundary, the later ones removed, committed by a synced marker.
func (s *Store) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	s.write.Lock()
	defer s.write.Unlock()
	if s.log.Closed() {
		return ErrClosed
	}
	first, last := s.bounds()
	switch {
	case first == 0 || max < first || min > last:
		return nil
	case min <= first:
		end := offsetOf(last) + 1
		if max < last {
			end = offsetOf(max) + 1
		}
		if _, err := s.log.DeleteBefore(end); err != nil {
			return fmt.Errorf("mqlog/raftstore: delete indexes %d to %d: %w", first, indexOf(end-1), err)
		}
	case max >= last:
		if err := s.log.TruncateFrom(offsetOf(min)); err != nil {
			return fmt.Errorf("mqlog/raftstore: delete indexes %d to %d: %w", min, last, err)
		}
	default:
		return fmt.Errorf("%w: [%d, %d] of [%d, %d]", ErrMiddleRange, min, max, first, last)
	}
	return nil
}

// IsMonotonic implements raft.MonotonicLogStore: entries must follow each other without gaps, so raft
// deletes the whole log after installing a snapshot instead of leaving a gap.
func (s *Store) IsMonotonic() bool { return true }

// Set implements raft.StableStore, synced.
func (s *Store) Set(key, val []byte) error { return s.idx.PutRaftStable(key, val) }

// Get implements raft.StableStore: ErrKeyNotFound (text "not found") for a key never set.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, ok, err := s.idx.RaftStable(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrKeyNotFound
	}
	return v, nil
}

// SetUint64 implements raft.StableStore: val as 8 bytes big endian.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore: 0 and no error for a key never set (as raft.InmemStore and
// raft-wal do); a value that is not 8 bytes is ErrBadEntry.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, ok, err := s.idx.RaftStable(key)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: stable value %q has %d bytes, not a uint64", ErrBadEntry, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// entryLimits are the segment limits of a log whose records are entries of up to max bytes (0: the
// defaults). A batch holds one entry and its framing.
func entryLimits(max int) segment.Limits {
	if max <= 0 {
		return segment.Limits{}
	}
	return segment.Limits{MaxMessageBytes: max, MaxBatchBytes: max + 64<<10}
}
