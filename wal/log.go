package wal

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// Log is one partition's log: an ordered list of segment files, the last of which (the active segment)
// takes appends. It is safe for concurrent use: any number of goroutines may Append and read at once.
//
// Appends are group-committed: appenders queue encoded batches under mu, one flusher goroutine writes
// everything queued with one write, fsyncs once (under SyncAlways) and releases every waiter. The high
// watermark (the offset after the last readable record) advances only after the fsync that covers it, and
// readers never pass it.
type Log struct {
	opts     Options
	readOnly bool
	epoch    int32 // write epoch of this open, stamped in every batch's partitionLeaderEpoch

	segs struct {
		sync.RWMutex
		list []*segmentFile // by base offset; the last one is the active segment
	}
	startOffset   atomic.Int64
	highWatermark atomic.Int64
	notify        struct {
		sync.Mutex
		ch chan struct{} // closed and replaced when the high watermark advances or the log closes
	}

	mu struct {
		sync.Mutex
		cond          sync.Cond // signals the flusher: work queued, sync requested or closing
		err           error     // sticky: set by a failed write or sync, returned by every later Append
		closing       bool
		closed        bool
		syncRequested bool
		flushing      bool // a group commit is in progress (the flusher's, or an appender's own)
		// started says the flusher goroutine (and the syncer, under SyncInterval) runs: they start with
		// the first append, so that an idle partition has none.
		started bool
		// lastGroup is how many appends the last commit carried; groupTarget, while the flusher waits for
		// a group (waitForGroupLocked), how many it waits for; groupWait numbers the waits, groupTimedOut
		// ends the current one.
		lastGroup     int
		groupTarget   int
		groupWait     uint64
		groupTimedOut bool
		nextOffset    int64 // offset the next queued batch gets
		pending       []byte
		frames        []pendingFrame
		gen           *flushGeneration // the generation that pending will be flushed in
	}

	// state is the durable state as last saved. Every save goes through saveStateLocked with state held,
	// so that a roll (which adds a closed segment) and retention or compaction (which remove or replace
	// closed segments) never save over each other.
	state struct {
		sync.Mutex
		saved durableState
	}
	// maintenance serializes retention and compaction of this log (one at a time); appends never take it.
	maintenance sync.Mutex
	// settings that AlterTopic may change while the log is open.
	segmentBytes atomic.Int64
	compacted    atomic.Bool

	flusher     flusherState // owned by the flusher goroutine while it runs
	flusherDone chan struct{}
	syncerStop  chan struct{}
	syncerDone  chan struct{}

	metrics metricsCounters
	// lastSyncNanos is the duration of the last fsync of segment data; maxCommitDelay bounds the adaptive
	// commit delay (flush.go; tests change it).
	lastSyncNanos  atomic.Int64
	maxCommitDelay time.Duration
}

// segmentFile is one segment as the log sees it. Fields other than the atomics are fixed at creation.
type segmentFile struct {
	base int64
	path string
	fs   vfs.FS
	// fh is the read handle shared by readers, opened on the first read (handle): an idle segment holds
	// no descriptor. fmu serializes its opening and closing.
	fh  atomic.Pointer[fileHandle]
	fmu sync.Mutex
	// mm is the read-only mapping of a sealed segment, made on its first read and removed with fh (mmap.go);
	// noMap says the segment is not mapped (no descriptor, a failed mmap): it is read with pread.
	mm    atomic.Pointer[segMapping]
	noMap atomic.Bool

	readableEnd  atomic.Int64 // readers may read bytes [0, readableEnd)
	nextOffset   atomic.Int64 // offset after the last readable record
	maxTimestamp atomic.Int64
	closed       atomic.Bool // no more writes; readableEnd is the file size
	// damage is set by a read-only opener when a segment's frames stop being valid before its end (a closed
	// segment, or damage followed by valid frames in the last one): readers read up to readableEnd, then get
	// this *segment.CorruptionError.
	damage atomic.Pointer[segment.CorruptionError]

	// refs counts the holders of file: one for the log's segment list while the segment is in it, plus one
	// per reader in the middle of a read. The file is closed when it drops to zero (see refs.go).
	refs    atomic.Int64
	retired atomic.Bool // removed from the list (deleted by retention or replaced by compaction)
}

// pendingFrame describes one batch queued for the flusher.
type pendingFrame struct {
	base, next   int64 // first offset, and offset after the last record
	size         int
	maxTimestamp int64
}

// flushGeneration is the set of appends written and synced together. done is closed when they are durable
// (or failed, with err set before the close).
type flushGeneration struct {
	done chan struct{}
	err  error
}

func newFlushGeneration() *flushGeneration { return &flushGeneration{done: make(chan struct{})} }

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.opts.Dir }

// Epoch returns the write epoch of this open (0 for a read-only log).
func (l *Log) Epoch() int32 { return l.epoch }

// HighWatermark returns the offset after the last readable record: durable under SyncAlways, written
// under the other policies. Readers never read at or past it.
func (l *Log) HighWatermark() int64 { return l.highWatermark.Load() }

// StartOffset returns the first offset the log still holds.
func (l *Log) StartOffset() int64 { return l.startOffset.Load() }

// Changed returns a channel that is closed the next time the high watermark advances or the log closes.
// Take it before checking HighWatermark, so that no advance is missed.
func (l *Log) Changed() <-chan struct{} {
	l.notify.Lock()
	defer l.notify.Unlock()
	return l.notify.ch
}

func (l *Log) wakeReaders() {
	l.notify.Lock()
	close(l.notify.ch)
	l.notify.ch = make(chan struct{})
	l.notify.Unlock()
}

// publish makes records up to next readable in seg (whose readable bytes now end at end).
func (l *Log) publish(seg *segmentFile, end, next, maxTimestamp int64) {
	seg.readableEnd.Store(end)
	seg.nextOffset.Store(next)
	seg.maxTimestamp.Store(maxTimestamp)
	l.highWatermark.Store(next)
	l.wakeReaders()
}

// Segments describes the log's segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.segs.RLock()
	defer l.segs.RUnlock()
	out := make([]SegmentInfo, len(l.segs.list))
	for i, s := range l.segs.list {
		out[i] = SegmentInfo{
			Path:         s.path,
			BaseOffset:   s.base,
			NextOffset:   s.nextOffset.Load(),
			Size:         s.readableEnd.Load(),
			MaxTimestamp: s.maxTimestamp.Load(),
			Active:       !s.closed.Load(),
		}
	}
	return out
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Path         string
	BaseOffset   int64
	NextOffset   int64 // offset after its last readable record
	Size         int64 // readable bytes
	MaxTimestamp int64
	Active       bool
}

// segmentFor returns the segment that holds offset: the last one whose base is <= offset.
func (l *Log) segmentFor(offset int64) (*segmentFile, int) {
	l.segs.RLock()
	defer l.segs.RUnlock()
	list := l.segs.list
	i := sort.Search(len(list), func(i int) bool { return list[i].base > offset }) - 1
	if i < 0 {
		return nil, -1
	}
	return list[i], i
}

// segmentAfter returns the segment following seg, or nil.
func (l *Log) segmentAfter(seg *segmentFile) *segmentFile {
	l.segs.RLock()
	defer l.segs.RUnlock()
	for i, s := range l.segs.list {
		if s == seg && i+1 < len(l.segs.list) {
			return l.segs.list[i+1]
		}
	}
	return nil
}

// openSegmentFile returns the segment named base, its file not opened yet (handle opens it on first use).
func (l *Log) openSegmentFile(base int64) (*segmentFile, error) {
	path := l.opts.FS.PathJoin(l.opts.Dir, segment.FileName(base))
	s := &segmentFile{base: base, path: path, fs: l.opts.FS}
	s.refs.Store(1)
	return s, nil
}

// fileHandle is an open read handle of a segment.
type fileHandle struct{ vfs.File }

// handle returns the segment's read handle, opening it on first use. The caller holds a reference (or is
// the log's opener): the handle is closed only when the last reference goes (release).
func (s *segmentFile) handle() (vfs.File, error) {
	if h := s.fh.Load(); h != nil {
		return h.File, nil
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if h := s.fh.Load(); h != nil {
		return h.File, nil
	}
	if s.refs.Load() <= 0 {
		return nil, fmt.Errorf("mqlog/wal: segment %s: %w", s.path, ErrClosed)
	}
	f, err := fsutil.OpenRegular(s.fs, s.path)
	if err != nil {
		return nil, fmt.Errorf("mqlog/wal: open segment: %w", err)
	}
	s.fh.Store(&fileHandle{f})
	return f, nil
}

// closeHandle closes the read handle, if it was opened.
func (s *segmentFile) closeHandle() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	uerr := s.unmapLocked()
	if h := s.fh.Swap(nil); h != nil {
		return errors.Join(uerr, h.Close())
	}
	return uerr
}

// ReadAt reads the segment through its read handle (opened on first use): segment.Reader reads this.
func (s *segmentFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := s.handle()
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

// stat returns the segment file's metadata through its read handle.
func (s *segmentFile) stat() (os.FileInfo, error) {
	f, err := s.handle()
	if err != nil {
		return nil, err
	}
	return f.Stat()
}

func (l *Log) closeSegments() error {
	l.segs.Lock()
	defer l.segs.Unlock()
	var first error
	for _, s := range l.segs.list {
		if err := s.retire(); err != nil && first == nil {
			first = err
		}
	}
	l.segs.list = nil
	return first
}

// ReadOnly reports whether the log was opened with OpenReadOnly.
func (l *Log) ReadOnly() bool { return l.readOnly }
