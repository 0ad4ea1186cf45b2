package wal

import (
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// flusherState is owned by the flusher goroutine while it runs, and by Open and Close around it.
type flusherState struct {
	active       *segmentFile
	file         vfs.File // write handle of the active segment
	writer       *segment.Writer
	nextOffset   int64 // offset after the last written record
	maxTimestamp int64
	lastEntryPos int64 // position of the last sparse index entry in the active segment
	entries      []IndexEntry
	unsynced     bool // written since the last fsync
	spare        []byte
	spareFrames  []pendingFrame

	// prealloc is how far ahead of the write position the active segment is preallocated (prealloc.go).
	prealloc preallocation

	// unsyncedEntries are the sparse index entries of batches written but not yet fsynced (SyncInterval,
	// SyncNever); synced moves them to entries. An entry is stored only after the fsync that covers its
	// batch, so that the last stored entry is a durable point recovery can trust (recover.go): the durable
	// point advances with the entries the flush stores anyway, unsynced, at no cost to the append path.
	unsyncedEntries []IndexEntry
}

// flushLoop is the flusher: it takes everything queued, writes it with one write per segment, fsyncs once
// and releases every appender waiting on that generation. A failure is sticky. An appender that finds no
// flush in progress does the same work itself (Append), sparse index entries included.
func (l *Log) flushLoop() {
	defer close(l.flusherDone)
	for {
		l.mu.Lock()
		for l.mu.flushing || (len(l.mu.frames) == 0 && !l.mu.syncRequested && !l.mu.closing) {
			l.mu.cond.Wait()
		}
		if len(l.mu.frames) == 0 && !l.mu.syncRequested {
			l.mu.Unlock()
			return // closing, nothing queued, no flush in progress
		}
		if l.waitForGroupLocked(); l.mu.flushing {
			l.mu.Unlock() // a Roll took the writer's role meanwhile
			continue
		}
		l.flushQueued()
	}
}

// Adaptive commit delay (BENCH.md, phase 1 item 3). Under SyncAlways, once a commit has carried more than
// one append, the next appenders do not commit by themselves: they queue and the flusher, before it
// commits, waits until as many appends are queued as the previous commit carried, or until the delay has
// passed: half the last fsync's duration, at most maxCommitDelay. So concurrent producers' appends merge
// into groups about their number rather than half of it, and the wait stays well within the latency goal
// (an append waits at most the delay plus its own commit). A lone producer's commits carry one append: it
// never waits. What is durable when does not change: an append returns after the fsync that covers it.
const maxCommitDelay = 200 * time.Microsecond

// groupCommitLocked reports whether an appender that finds no commit in progress should leave the commit to
// the flusher (l.mu held).
func (l *Log) groupCommitLocked() bool {
	return l.opts.Sync == SyncAlways && l.mu.lastGroup > 1 && l.commitDelay() > 0
}

// commitDelay is the longest the flusher waits for a group: half the last fsync, at most maxCommitDelay.
func (l *Log) commitDelay() time.Duration {
	return min(time.Duration(l.lastSyncNanos.Load())/2, l.maxCommitDelay)
}

// waitForGroupLocked is the flusher's wait for a group (l.mu held; it may release it while it waits). It
// returns at once unless the previous commit carried several appends and fewer are queued.
func (l *Log) waitForGroupLocked() {
	target := l.mu.lastGroup
	if l.opts.Sync != SyncAlways || target <= 1 || len(l.mu.frames) == 0 || len(l.mu.frames) >= target || l.mu.closing {
		return
	}
	delay := l.commitDelay()
	if delay <= 0 {
		return
	}
	l.mu.groupWait++
	wait := l.mu.groupWait
	l.mu.groupTarget, l.mu.groupTimedOut = target, false
	timer := time.AfterFunc(delay, func() {
		l.mu.Lock()
		if l.mu.groupWait == wait {
			l.mu.groupTimedOut = true
			l.mu.cond.Signal()
		}
		l.mu.Unlock()
	})
	for len(l.mu.frames) < target && !l.mu.groupTimedOut && !l.mu.closing && !l.mu.flushing && l.mu.err == nil {
		l.mu.cond.Wait()
	}
	timer.Stop()
	l.mu.groupWait++ // (a timer that fires late finds another wait, or none)
	l.mu.groupTarget, l.mu.groupTimedOut = 0, false
}

// flushQueued is one group commit. Called with l.mu held and no flush in progress, it takes everything
// queued, releases l.mu, writes and syncs what it took, releases the appenders waiting on it, and then
// stores the sparse index entries of what it published (derived data, DESIGN.md decision 2: after the
// waiters are released, so that they do not wait for it). Whoever leads the commit stores them: the
// flusher goroutine, or an appender that found no commit in progress.
// An appender used to hand its entries to the flusher goroutine instead, and that cost a lone producer
// more than the store it moved (docs/BENCH.md, "Round 5"): the flusher was woken after almost every
// commit, since the entries stayed pending while the next commit held the writer's role, and each
// wake-up took a core from the producer.
func (l *Log) flushQueued() {
	l.flushQueuedFrom(nil)
}

// flushQueuedFrom is flushQueued where the queued frames' bytes are own rather than l.mu.pending when own
// is not nil: an appender leading its own commit with nothing else queued writes its encoding buffer as it
// is, without copying it into the queue (directwrite.go). l.mu.pending is then empty and stays the queue.
func (l *Log) flushQueuedFrom(own []byte) {
	f := &l.flusher
	l.mu.flushing = true
	buf, frames, gen := l.mu.pending, l.mu.frames, l.mu.gen
	syncRequested := l.mu.syncRequested
	if own != nil {
		buf = own
		l.mu.frames, l.mu.syncRequested = f.spareFrames[:0], false
	} else {
		l.mu.pending, l.mu.frames, l.mu.syncRequested = f.spare[:0], f.spareFrames[:0], false
	}
	l.mu.gen = newFlushGeneration()
	if len(frames) > 0 {
		l.mu.lastGroup = len(frames)
	}
	err := l.mu.err
	l.mu.Unlock()

	if err == nil && (len(frames) > 0 || syncRequested) { // (a wake-up to close writes nothing)
		if err = l.flush(buf, frames, syncRequested); err != nil {
			l.setErr(err)
		}
	}
	gen.err = err
	close(gen.done)
	if own == nil {
		f.spare = buf[:0]
	}
	f.spareFrames = frames[:0]
	if err == nil {
		if err := l.flushEntries(); err != nil {
			l.setErr(err)
		}
	}
	l.mu.Lock()
	l.mu.flushing = false
	// Wake the flusher goroutine only when it has work (BENCH.md, phase 2 item 1: a wake-up after every
	// commit cost a lone producer 9-11 µs per append): appends queued meanwhile or a sync asked for.
	if len(l.mu.frames) > 0 || l.mu.syncRequested || l.mu.closing {
		l.mu.cond.Signal()
	}
	l.mu.Unlock()
}

// flush writes queued frames, rolling the segment where the next frame would pass SegmentBytes, syncs as
// the policy says and publishes the new high watermark.
func (l *Log) flush(buf []byte, frames []pendingFrame, syncRequested bool) error {
	f := &l.flusher
	if f.file == nil {
		if len(frames) == 0 {
			return nil // a sync asked for with nothing written in this open
		}
		if err := l.openWriter(); err != nil {
			return err
		}
	}
	runStart, off := 0, 0
	for _, fr := range frames {
		runBytes := int64(off - runStart)
		if pos := f.writer.Pos() + runBytes; pos > 0 && pos+int64(fr.size) > l.segmentBytes.Load() {
			if err := l.write(buf[runStart:off]); err != nil {
				return err
			}
			if err := l.roll(fr.base); err != nil {
				return err
			}
			runStart = off
		}
		l.noteFrame(fr, f.writer.Pos()+int64(off-runStart))
		off += fr.size
	}
	if err := l.write(buf[runStart:off]); err != nil {
		return err
	}
	if l.opts.Sync == SyncAlways || (syncRequested && f.unsynced) {
		if err := l.syncActive(); err != nil {
			return err
		}
	}
	l.publish(f.active, f.writer.Pos(), f.nextOffset, f.maxTimestamp)
	return nil
}

// setErr makes err the log's sticky error.
func (l *Log) setErr(err error) {
	l.mu.Lock()
	l.mu.err = err
	l.mu.Unlock()
}

// noteFrame accounts for a frame about to be written at pos of the active segment.
func (l *Log) noteFrame(fr pendingFrame, pos int64) {
	f := &l.flusher
	f.nextOffset = fr.next
	f.maxTimestamp = max(f.maxTimestamp, fr.maxTimestamp)
	if pos-f.lastEntryPos >= int64(l.opts.IndexIntervalBytes) {
		f.unsyncedEntries = append(f.unsyncedEntries, IndexEntry{Offset: fr.base, Position: pos, Timestamp: f.maxTimestamp})
		f.lastEntryPos = pos
	}
	l.metrics.batches.Add(1)
	l.metrics.records.Add(uint64(fr.next - fr.base))
}

func (l *Log) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	f := &l.flusher
	l.preallocateFor(f.writer.Pos() + int64(len(b)))
	if err := f.writer.Write(b); err != nil {
		return failStop("write", f.active.path, err)
	}
	f.unsynced = true
	l.metrics.bytes.Add(uint64(len(b)))
	l.metrics.writes.Add(1)
	return nil
}

func (l *Log) syncActive() error {
	f := &l.flusher
	start := time.Now()
	if err := f.file.SyncData(); err != nil {
		return failStop("fsync", f.active.path, err)
	}
	took := time.Since(start)
	l.metrics.syncs.Add(1)
	l.metrics.syncNanos.Add(uint64(took))
	l.lastSyncNanos.Store(int64(took))
	f.synced()
	return nil
}

// synced notes that everything written to the active segment is durable: its entries may be stored.
func (f *flusherState) synced() {
	f.unsynced = false
	f.entries = append(f.entries, f.unsyncedEntries...)
	f.unsyncedEntries = f.unsyncedEntries[:0]
}

// flushEntries stores the sparse index entries of what was just published.
func (l *Log) flushEntries() error {
	f := &l.flusher
	if len(f.entries) == 0 {
		return nil
	}
	err := l.opts.Index.AddEntries(f.entries)
	f.entries = f.entries[:0]
	if err != nil {
		return failStop("index", l.opts.Dir, err)
	}
	return nil
}

// roll closes the active segment and starts one at newBase (DESIGN.md decision 7): trim the old segment to
// its written end and fsync it; create the new one, preallocate its first step (never fatal), fsync it and
// the directory; then record
// the new state, synced. A crash between any two steps leaves a log that recover accepts.
func (l *Log) roll(newBase int64) error {
	f := &l.flusher
	old, size := f.active, f.writer.Pos()
	if err := l.finishActive(); err != nil {
		return err
	}
	f.synced()
	if f.file != nil {
		err := f.file.Close()
		f.file = nil // closed even when Close failed: never close it twice
		if err != nil {
			return failStop("close", old.path, err)
		}
	}
	if err := l.flushEntries(); err != nil {
		return err
	}

	path := l.opts.FS.PathJoin(l.opts.Dir, segment.FileName(newBase))
	wf, err := fsutil.CreateNew(l.opts.FS, path) // (a file or link already there is never written through)
	if err != nil {
		return failStop("create", path, err)
	}
	f.file = wf
	f.prealloc.reset()
	// A roll means the partition is written to: its first step is taken now, before the fsync (one
	// fsync for the new file's size and its blocks). A failure only turns preallocation off for it.
	l.preallocateFor(0)
	if err := wf.Sync(); err != nil {
		return failStop("fsync", path, err)
	}
	if err := fsutil.SyncDir(l.opts.FS, l.opts.Dir); err != nil {
		return failStop("fsync directory", l.opts.Dir, err)
	}
	l.state.Lock()
	st := l.state.saved
	st.closed = append(slices.Clone(st.closed), closedSegment{base: old.base, size: size, nextOffset: f.nextOffset, maxTimestamp: f.maxTimestamp})
	st.activeBase, st.position, st.nextOffset, st.clean = newBase, 0, f.nextOffset, false
	err = l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		return failStop("record roll", path, err)
	}
	next, err := l.openSegmentFile(newBase)
	if err != nil {
		return failStop("open", path, err)
	}
	next.nextOffset.Store(newBase)
	l.segs.Lock()
	l.segs.list = append(l.segs.list, next)
	l.segs.Unlock()
	old.closed.Store(true)
	l.publish(old, size, f.nextOffset, f.maxTimestamp)

	f.active = next
	f.writer = segment.NewWriter(wf, 0)
	f.lastEntryPos = -int64(l.opts.IndexIntervalBytes)
	l.metrics.rolls.Add(1)
	return nil
}
