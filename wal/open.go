package wal

import (
	"errors"
	"fmt"
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
	if err := o.Index.DeleteEntriesFrom(r.nextOffset); err != nil {
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
	err = l.saveStateLocked(durableState{activeBase: r.activeBase, position: r.position, nextOffset: r.nextOffset,
		startOffset: startOffset, closed: r.closed})
	l.state.Unlock()
	if err != nil {
		return nil, err
	}
	if err := l.openSegments(r); err != nil {
		l.closeSegments()
		return nil, err
	}
	l.startBackground()
	return l, nil
}

// openSegments opens a read handle on every segment and the write handle on the active one.
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
	wf, err := fsutil.OpenRegularReadWrite(l.opts.FS, active.path)
	if err != nil {
		return fmt.Errorf("mqlog/wal: open segment: %w", err)
	}
	if !l.opts.NoPreallocate {
		if err := fsutil.Preallocate(wf, l.segmentBytes.Load()); err != nil {
			wf.Close()
			return fmt.Errorf("mqlog/wal: preallocate %s: %w", active.path, err)
		}
	}
	l.flusher.active = active
	l.flusher.file = wf
	l.flusher.writer = segment.NewWriter(wf, r.position)
	l.flusher.lastEntryPos = r.position - int64(l.opts.IndexIntervalBytes)
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

func (l *Log) startBackground() {
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
	l.mu.Unlock()
	defer l.wakeReaders()
	if l.readOnly {
		return l.closeSegments()
	}
	if l.syncerStop != nil {
		close(l.syncerStop)
		<-l.syncerDone
	}
	<-l.flusherDone
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
			l.state.Lock()
			st := l.state.saved
			st.activeBase, st.position, st.nextOffset, st.clean = f.active.base, f.writer.Pos(), f.nextOffset, true
			err = l.saveStateLocked(st)
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
