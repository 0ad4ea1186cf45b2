package wal

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

func newLog(opts Options, readOnly bool) *Log {
	l := &Log{opts: opts, readOnly: readOnly}
	l.mu.cond.L = &l.mu.Mutex
	l.mu.gen = newFlushGeneration()
	l.notify.ch = make(chan struct{})
	l.maxCommitDelay = maxCommitDelay
	l.segmentBytes.Store(opts.SegmentBytes)
	l.compacted.Store(opts.Compacted)
	return l
}

// Open opens the log in opts.Dir for writing, creating it when it is missing, and recovers it: after a
// crash it re-validates the frames past the durable point recorded in the index and cuts a torn tail
// (see recover). It raises the write epoch and records it, synced, before anything is written under it.
// The caller must hold the data directory's lock: a log has one writer.
func Open(opts Options) (*Log, error) {
	if opts.FS == nil || opts.Index == nil {
		return nil, errors.New("mqlog/wal: Open needs Options.FS and Options.Index")
	}
	o := opts.withDefaults()
	l := newLog(o, false)
	// (A directory that exists is synced by recovery after a crash: syncDirsAfterCrash.)
	if _, err := o.FS.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		if err := fsutil.MkdirAllSynced(o.FS, o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("mqlog/wal: create %s: %w", o.Dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("mqlog/wal: open %s: %w", o.Dir, err)
	}
	blob, err := o.Index.LoadState()
	if err != nil {
		return nil, fmt.Errorf("mqlog/wal: load state of %s: %w", o.Dir, err)
	}
	var st durableState
	if blob != nil {
		if st, err = decodeState(blob); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Dir, err)
		}
	}
	// A replacement committed in the state is finished before the directory is read (swap.go).
	if err := l.finishSwap(st.swap); err != nil {
		return nil, err
	}
	// So is a committed cut (truncate.go).
	if err := l.finishCut(st); err != nil {
		return nil, err
	}
	bases, err := listSegments(o.FS, o.Dir, true, o.Logger)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(o.FS, o.Dir, bases); err != nil {
		return nil, err
	}
	r, err := l.recover(st, blob != nil, bases)
	if err != nil {
		return nil, err
	}
	// Derived index entries past the recovered end describe data that is gone.
	if err := l.deleteEntriesFrom(r.nextOffset, blob != nil && st.clean); err != nil {
		return nil, err
	}
	if len(r.entries) > 0 {
		if err := o.Index.AddEntries(r.entries); err != nil {
			return nil, err
		}
	}

	l.epoch = st.epoch + 1
	startOffset := st.startOffset
	if len(r.closed) > 0 {
		startOffset = max(startOffset, r.closed[0].base)
	} else {
		startOffset = max(startOffset, r.activeBase)
	}
	l.startOffset.Store(startOffset)
	l.flusher.nextOffset = r.nextOffset
	l.flusher.maxTimestamp = r.maxTs
	l.mu.nextOffset = r.nextOffset
	l.state.Lock()
	err = l.saveStateDeferrableLocked(durableState{activeBase: r.activeBase, position: r.position, nextOffset: r.nextOffset,
		startOffset: startOffset, closed: r.closed})
	l.state.Unlock()
	if err != nil {
		return nil, err
	}
	if err := l.openSegments(r); err != nil {
		l.closeSegments()
		return nil, err
	}
	return l, nil
}

// openSegments lists the segments, their files not opened (segmentFile.handle opens a read handle on the
// first read). The write handle of the active segment is opened on the first write (openWriter), unless the
// file holds bytes past the valid end that Close must trim (preallocated space found after a crash): an
// idle partition holds no descriptor.
func (l *Log) openSegments(r recovery) error {
	for _, c := range r.closed {
		s, err := l.openSegmentFile(c.base)
		if err != nil {
			return err
		}
		s.closed.Store(true)
		s.readableEnd.Store(c.size)
		s.nextOffset.Store(c.nextOffset)
		s.maxTimestamp.Store(c.maxTimestamp)
		l.segs.list = append(l.segs.list, s)
	}
	active, err := l.openSegmentFile(r.activeBase)
	if err != nil {
		return err
	}
	l.segs.list = append(l.segs.list, active)
	l.publish(active, r.position, r.nextOffset, r.maxTs)
	f := &l.flusher
	// No preallocation here: an idle partition reserves nothing; the first write takes the first step.
	f.prealloc.reset()
	f.active = active
	f.writer = segment.NewWriter(nil, r.position) // (no file until openWriter)
	f.lastEntryPos = r.position - int64(l.opts.IndexIntervalBytes)
	info, err := l.opts.FS.Stat(active.path)
	if err != nil {
		return fmt.Errorf("mqlog/wal: open segment: %w", err)
	}
	if info.Size() != r.position {
		if err := l.openWriter(); err != nil {
			return err
		}
	}
	return nil
}

// openWriter opens the write handle of the active segment. Before the first write into an empty segment
// (a new partition's, created unsynced by recovery, or one found empty after a crash), the file is
// preallocated and it, its directory and the directory's parent are fsynced: the file, or the partition
// directory itself, may exist only in the page cache. Called by the flusher's owner.
func (l *Log) openWriter() error {
	f := &l.flusher
	fs, path := l.opts.FS, f.active.path
	wf, err := fsutil.OpenRegularReadWrite(fs, path)
	if err != nil {
		return failStop("open", path, err)
	}
	f.file, f.writer = wf, segment.NewWriter(wf, f.writer.Pos())
	if f.writer.Pos() > 0 {
		return nil
	}
	l.preallocateFor(0)
	if err := wf.Sync(); err != nil {
		return failStop("fsync", path, err)
	}
	if err := fsutil.SyncDir(fs, l.opts.Dir); err != nil {
		return failStop("fsync directory", l.opts.Dir, err)
	}
	if parent := fs.PathDir(l.opts.Dir); parent != l.opts.Dir {
		if err := fsutil.SyncDir(fs, parent); err != nil {
			return failStop("fsync directory", parent, err)
		}
	}
	return nil
}

// saveStateLocked records st, with this open's epoch, as the durable state, synced (DESIGN.md decision 6),
// and remembers it as the last saved. l.state is held.
func (l *Log) saveStateLocked(st durableState) error {
	st.epoch = l.epoch
	if err := l.opts.Index.SaveState(st.encode()); err != nil {
		return fmt.Errorf("mqlog/wal: save state of %s: %w", l.opts.Dir, err)
	}
	l.state.saved = st
	return nil
}

// startBackgroundLocked starts the flusher goroutine, and the syncer under SyncInterval, at the first
// append (l.mu held): an idle partition has no goroutine.
// saveStateDeferrableLocked is saveStateLocked, without the sync under Options.DeferSync (Open and Close
// only: the caller syncs the index for many logs at once).
func (l *Log) saveStateDeferrableLocked(st durableState) error {
	d, ok := l.opts.Index.(DeferredIndex)
	if !l.opts.DeferSync || !ok {
		return l.saveStateLocked(st)
	}
	st.epoch = l.epoch
	if err := d.SaveStateNoSync(st.encode()); err != nil {
		return fmt.Errorf("mqlog/wal: save state of %s: %w", l.opts.Dir, err)
	}
	l.state.saved = st
	return nil
}

// deleteEntriesFrom is Index.DeleteEntriesFrom, without the sync under Options.DeferSync (Open only), and
// only when there may be an entry to delete: a range deletion per partition at every open (most find nothing)
// piles up range tombstones in Pebble that every later lookup pays for.
func (l *Log) deleteEntriesFrom(offset int64, clean bool) error {
	if clean {
		return nil // Close stored entries only of batches below the offset it recorded
	}
	if e, ok, err := l.opts.Index.FloorEntry(math.MaxInt64); err != nil {
		return fmt.Errorf("mqlog/wal: read the index of %s: %w", l.opts.Dir, err)
	} else if !ok || e.Offset < offset {
		return nil
	}
	if d, ok := l.opts.Index.(DeferredIndex); l.opts.DeferSync && ok {
		return d.DeleteEntriesFromNoSync(offset)
	}
	return l.opts.Index.DeleteEntriesFrom(offset)
}

func (l *Log) startBackgroundLocked() {
	if l.mu.started {
		return
	}
	l.mu.started = true
	l.flusherDone = make(chan struct{})
	go l.flushLoop()
	if l.opts.Sync == SyncInterval {
		l.syncerStop, l.syncerDone = make(chan struct{}), make(chan struct{})
		go l.syncLoop()
	}
}

// syncLoop asks the flusher for an fsync every SyncInterval (SyncInterval policy only).
func (l *Log) syncLoop() {
	defer close(l.syncerDone)
	t := time.NewTicker(l.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.syncerStop:
			return
		case <-t.C:
			l.mu.Lock()
			l.mu.syncRequested = true
			l.mu.cond.Signal()
			l.mu.Unlock()
		}
	}
}

// Close waits for queued appends, then trims the active segment's preallocated space, fsyncs it and
// records a clean shutdown, so that the next Open scans nothing. After a fail-stop error it records
// nothing: the next Open recovers.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.mu.closed, l.mu.closing = true, true
	l.mu.cond.Broadcast()
	started := l.mu.started
	l.mu.Unlock()
	defer l.wakeReaders()
	if l.readOnly {
		return l.closeSegments()
	}
	if started {
		if l.syncerStop != nil {
			close(l.syncerStop)
			<-l.syncerDone
		}
		<-l.flusherDone
	}
	// Wait for a retention or compaction in progress (it stops early once closing is set).
	l.maintenance.Lock()
	defer l.maintenance.Unlock()

	l.mu.Lock()
	err := l.mu.err
	l.mu.Unlock()
	f := &l.flusher
	if err == nil {
		err = l.finishActive()
		if err == nil {
			// The entries appender-led commits left for later (flushQueued), and those of batches the sync
			// above just made durable, are stored before the clean state.
			f.synced()
			err = l.flushEntries()
		}
		if err == nil {
			l.state.Lock()
			st := l.state.saved
			st.activeBase, st.position, st.nextOffset, st.clean = f.active.base, f.writer.Pos(), f.nextOffset, true
			err = l.saveStateDeferrableLocked(st)
			l.state.Unlock()
		}
	}
	if f.file != nil {
		if cerr := f.file.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := l.closeSegments(); err == nil {
		err = cerr
	}
	return err
}

// finishActive trims the active segment to its written end and fsyncs it.
func (l *Log) finishActive() error {
	f := &l.flusher
	if f.file == nil {
		return nil // nothing written in this open, and the file is its valid bytes (openSegments)
	}
	handled, err := fsutil.Truncate(f.file, f.writer.Pos())
	if !handled {
		err = f.file.Sync()
	}
	if err != nil {
		return failStop("sync", f.active.path, err)
	}
	return nil
}

// isClosing reports whether Close has begun: long maintenance work stops early.
func (l *Log) isClosing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.closing
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.closed
}
