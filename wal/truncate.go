package wal

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// Cutting a log at either end by offset, for a replicated log (package raftstore): a consensus library
// overwrites a conflicting tail (TruncateFrom) and drops what a snapshot covers (DeleteBefore). Neither
// rewrites the middle of a segment: the tail cut truncates one segment at a frame boundary and removes the
// later ones whole; the head cut raises the start offset and removes only the segments wholly below it.

// ErrNotBatchBoundary is returned by TruncateFrom for an offset that lies inside a batch: a cut is made
// between batches only (a log whose every batch holds one record, as raftstore's, can be cut anywhere).
var ErrNotBatchBoundary = errors.New("mqlog/wal: offset is inside a batch")

// errStopScan ends the boundary scan of TruncateFrom early.
var errStopScan = errors.New("stop")

// TruncateFrom removes every record at and after offset, durably, so that the next Append gets offset. offset
// must lie between StartOffset and the next offset (ErrOutOfRange otherwise) and start a batch
// (ErrNotBatchBoundary); at the next offset it changes nothing.
//
// The cut is crash safe by a committed marker, like compaction's swap: (1) the state, synced, with the
// segment holding offset as the active one, its position at the cut, the next offset = offset, the later
// segments dropped, and cutPending set (the commit point); (2) the sparse index entries from offset
// deleted, the later segment files removed, the holding segment trimmed to the cut and fsynced, the
// directory fsynced; (3) the state without the marker, synced. Open finishes a pending cut before it
// recovers (finishCut), so a crash leaves the log as it was or cut, never the old tail under the new state.
//
// TruncateFrom takes the writer's role: it waits until no group commit runs and nothing is queued, then
// holds the append lock until it is done, so that an Append racing it gets its offset either before the
// cut (and is cut with the rest when it lies past offset) or after it. Readers positioned past the cut see
// the log end there; a Reader that was inside a removed or cut segment positions itself again by offset.
// Under continuous appends it may wait long: it is meant for a log with one writer (a raft log). A failure
// once the marker is saved is fail-stop (the log's sticky error; Open finishes the cut).
func (l *Log) TruncateFrom(offset int64) error {
	if l.readOnly {
		return ErrReadOnly
	}
	l.maintenance.Lock()
	defer l.maintenance.Unlock()
	if err := l.lockIdleWriter(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	f := &l.flusher
	if offset < l.StartOffset() || offset > f.nextOffset {
		return fmt.Errorf("%w: cut at offset %d, log holds [%d, %d)", ErrOutOfRange, offset, l.StartOffset(), f.nextOffset)
	}
	if offset == f.nextOffset {
		return nil
	}
	l.segs.RLock()
	list := slices.Clone(l.segs.list)
	l.segs.RUnlock()
	i := len(list) - 1
	for i > 0 && list[i].base > offset {
		i--
	}
	target := list[i]
	pos, maxTs, err := l.batchBoundary(target, offset)
	if err != nil {
		return err
	}
	for _, s := range list[:i] {
		maxTs = max(maxTs, s.maxTimestamp.Load())
	}

	// (1) The commit point.
	l.state.Lock()
	st := l.state.saved
	st.closed = slices.DeleteFunc(slices.Clone(st.closed), func(c closedSegment) bool { return c.base >= target.base })
	st.activeBase, st.position, st.nextOffset, st.clean, st.cutPending = target.base, pos, offset, false, true
	err = l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		return err // nothing changed on disk
	}
	fail := func(err error) error {
		if l.mu.err == nil {
			l.mu.err = err
		}
		return err
	}
	// (2) Finish it.
	l.segs.Lock()
	l.segs.list = slices.Clone(list[:i])
	l.segs.Unlock()
	for _, s := range list[i:] {
		s.retire()
	}
	if f.file != nil {
		cerr := f.file.Close()
		f.file = nil
		if cerr != nil {
			return fail(failStop("close", f.active.path, cerr))
		}
	}
	if err := target.cutMapping(pos); err != nil { // (mmap.go: before the trim, which would fault its readers)
		return fail(err)
	}
	if err := l.cutFiles(target.base, pos, offset, list[i+1:]); err != nil {
		return fail(err)
	}
	// (3) The cut is done.
	l.state.Lock()
	st.cutPending = false
	err = l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		return fail(failStop("record cut", target.path, err))
	}
	if err := l.reopenActive(target.base, pos, offset, maxTs); err != nil {
		return fail(err)
	}
	keep := func(es []IndexEntry) []IndexEntry {
		return slices.DeleteFunc(es, func(e IndexEntry) bool { return e.Offset >= offset })
	}
	f.entries, f.unsyncedEntries = keep(f.entries), keep(f.unsyncedEntries)
	l.mu.nextOffset = offset
	return nil
}

// cutFiles is step (2) of a cut, also run by Open for a pending one: index entries from offset deleted,
// the segments after base removed, base's file trimmed to pos and fsynced, the directory fsynced.
func (l *Log) cutFiles(base, pos, offset int64, later []*segmentFile) error {
	fs, dir := l.opts.FS, l.opts.Dir
	if err := l.opts.Index.DeleteEntriesFrom(offset); err != nil {
		return fmt.Errorf("mqlog/wal: delete index entries from %d: %w", offset, err)
	}
	for _, s := range later {
		if err := fs.Remove(s.path); err != nil {
			return failStop("remove", s.path, err)
		}
	}
	path := l.segmentPath(base)
	if err := fsutil.TrimFile(fs, path, pos); err != nil {
		return failStop("trim", path, err)
	}
	if err := fsutil.SyncDir(fs, dir); err != nil {
		return failStop("fsync directory", dir, err)
	}
	return nil
}

// finishCut completes, at Open, a cut that the state records as committed (TruncateFrom): the segments
// after the active one are removed and the active one is trimmed to the recorded position. It is
// idempotent: a crash inside it leaves the marker, and the next Open does it again.
func (l *Log) finishCut(st durableState) error {
	if !st.cutPending {
		return nil
	}
	bases, err := listSegments(l.opts.FS, l.opts.Dir, false, l.opts.Logger)
	if err != nil {
		return err
	}
	if err := checkRegular(l.opts.FS, l.opts.Dir, bases); err != nil {
		return err
	}
	var later []*segmentFile
	found := false
	for _, b := range bases {
		switch {
		case b > st.activeBase:
			later = append(later, &segmentFile{base: b, path: l.segmentPath(b)})
		case b == st.activeBase:
			found = true
		}
	}
	if !found && st.position == 0 && len(st.closed) == 0 {
		// A reset (Reset): the segment at the new base may not have been created yet.
		l.opts.Logger.Info("mqlog: finishing a committed reset", "path", l.segmentPath(st.activeBase), "offset", st.nextOffset)
		return l.resetFiles(st.activeBase, later)
	}
	if !found {
		return &segment.CorruptionError{Path: l.segmentPath(st.activeBase), Offset: 0, Err: ErrMissingSegment}
	}
	info, err := l.opts.FS.Stat(l.segmentPath(st.activeBase))
	if err != nil {
		return err
	}
	if info.Size() < st.position {
		return &segment.CorruptionError{Path: l.segmentPath(st.activeBase), Offset: info.Size(),
			Err: fmt.Errorf("%w: segment is %d bytes, a cut at byte %d was recorded", segment.ErrTruncated, info.Size(), st.position)}
	}
	l.opts.Logger.Info("mqlog: finishing a committed cut", "path", l.segmentPath(st.activeBase), "position", st.position, "offset", st.nextOffset)
	return l.cutFiles(st.activeBase, st.position, st.nextOffset, later)
}

// batchBoundary returns the byte position in seg of the batch that starts at offset (offset lies in seg,
// before the log's next offset), and the largest timestamp of the batches before it. It starts from the
// sparse index entry at or below offset when that entry lies in seg, else from the segment's start.
func (l *Log) batchBoundary(seg *segmentFile, offset int64) (int64, int64, error) {
	if offset == seg.base {
		return 0, -1, nil
	}
	maxTs := int64(-1)
	from, next := int64(0), int64(-1)
	// (A hint only: the timestamp of the bytes it skips comes from the entry, which stores the running max.)
	if e, ok, err := l.opts.Index.FloorEntry(offset); err == nil && ok && e.Offset >= seg.base && e.Position < seg.readableEnd.Load() {
		from, next, maxTs = e.Position, e.Offset, e.Timestamp
	}
	for {
		found, foundTs := int64(-1), maxTs
		res, err := segment.Scan(seg, from, seg.readableEnd.Load(), segment.ScanOptions{
			Path: seg.path, Limits: l.opts.Limits, NextOffset: next, IgnoreEpochs: true,
		}, func(p int64, h segment.BatchHeader) error {
			if h.LastOffset() < offset {
				foundTs = max(foundTs, h.MaxTimestamp)
				return nil
			}
			if h.BaseOffset < offset {
				return fmt.Errorf("%w: offset %d is inside the batch [%d, %d] at byte %d of %s", ErrNotBatchBoundary, offset, h.BaseOffset, h.LastOffset(), p, seg.path)
			}
			found = p
			return errStopScan
		})
		switch {
		case errors.Is(err, errStopScan):
			return found, foundTs, nil
		case err != nil:
			return 0, 0, err
		case from != 0:
			from, next, maxTs = 0, -1, -1 // the hint did not hold: scan the whole segment
			continue
		case res.Stop != nil && !errors.Is(res.Stop, segment.ErrZeroTail):
			return 0, 0, res.Stop
		}
		return 0, 0, fmt.Errorf("%w: no batch at offset %d in %s", ErrNotBatchBoundary, offset, seg.path)
	}
}

// reopenActive makes the segment at base, whose valid bytes end at pos with the next offset next, the
// log's active segment again, with a fresh read handle (readers of the old one position themselves again by
// offset) and a write handle at pos, preallocated a step ahead when it can be, and publishes its end as the high watermark.
func (l *Log) reopenActive(base, pos, next, maxTs int64) error {
	f := &l.flusher
	s, err := l.openSegmentFile(base)
	if err != nil {
		return failStop("open", l.segmentPath(base), err)
	}
	s.nextOffset.Store(next)
	wf, err := fsutil.OpenRegularReadWrite(l.opts.FS, s.path)
	if err != nil {
		s.retire()
		return failStop("open", s.path, err)
	}
	l.segs.Lock()
	l.segs.list = append(l.segs.list, s)
	l.segs.Unlock()
	f.active, f.file, f.writer = s, wf, segment.NewWriter(wf, pos)
	f.prealloc.reset()
	l.preallocateFor(pos) // the next step past pos, never fatal (prealloc.go)
	f.nextOffset, f.maxTimestamp, f.unsynced = next, maxTs, false
	f.lastEntryPos = pos - int64(l.opts.IndexIntervalBytes)
	l.publish(s, pos, next, maxTs)
	return nil
}

// idleWriterWaitStep bounds each wait of lockIdleWriter for a group commit in progress.
const idleWriterWaitStep = time.Millisecond

// lockIdleWriter returns with l.mu held, no group commit in progress and nothing queued, or with an error
// (and l.mu released) when the log is closing or stopped. While it waits it watches the high watermark
// (which every commit moves) with a short timeout, as Roll does.
func (l *Log) lockIdleWriter() error {
	l.mu.Lock()
	for (l.mu.flushing || len(l.mu.frames) > 0) && !l.mu.closing && l.mu.err == nil {
		changed := l.Changed()
		l.mu.Unlock()
		select {
		case <-changed:
		case <-time.After(idleWriterWaitStep):
		}
		l.mu.Lock()
	}
	switch {
	case l.mu.closing:
		l.mu.Unlock()
		return ErrClosed
	case l.mu.err != nil:
		err := l.mu.err
		l.mu.Unlock()
		return err
	}
	return nil
}

// DeleteBefore removes every record below offset, durably: the start offset is raised to offset (records
// below it are never read again: ErrOutOfRange) and the closed segments wholly below it are deleted, as
// retention deletes them (DeleteSegments: the state first, synced, then the files); a segment that
// straddles offset stays until a later call passes its end. An offset past the next offset empties the
// log and makes the next Append get offset (Kafka's truncateFullyAndStartAt: a raft follower that
// installed a snapshot past its log): a new empty segment at offset is created and fsynced with its
// directory, then the state naming it the only segment is saved, synced (the commit point: Open removes
// segments below the recorded start), then the old files are removed. That case takes the writer's role as
// TruncateFrom does.
func (l *Log) DeleteBefore(offset int64) (DeleteResult, error) {
	if l.readOnly {
		return DeleteResult{}, ErrReadOnly
	}
	l.maintenance.Lock()
	defer l.maintenance.Unlock()
	if l.isClosing() {
		return DeleteResult{}, ErrClosed
	}
	if err := l.Err(); err != nil {
		return DeleteResult{}, err
	}
	if offset <= l.StartOffset() {
		return DeleteResult{StartOffset: l.StartOffset()}, nil
	}
	// A start past the next offset of the saved state needs that state moved up to the durable end too (a
	// state's start never passes its next offset): that takes the writer's role, as does a reset.
	l.state.Lock()
	savedNext := l.state.saved.nextOffset
	l.state.Unlock()
	writer := offset > l.HighWatermark() || offset > savedNext
	if writer {
		if err := l.lockIdleWriter(); err != nil {
			return DeleteResult{}, err
		}
		unlocked := false
		unlock := func() {
			if !unlocked {
				unlocked = true
				l.mu.Unlock()
			}
		}
		defer unlock()
		f := &l.flusher
		if offset > f.nextOffset {
			return l.resetLocked(offset)
		}
		if f.unsynced { // (SyncInterval, SyncNever: what the state will trust must be on disk)
			if err := l.syncActive(); err != nil {
				if l.mu.err == nil {
					l.mu.err = err
				}
				return DeleteResult{}, err
			}
			l.publish(f.active, f.writer.Pos(), f.nextOffset, f.maxTimestamp)
		}
		res, closed, err := l.raiseStart(offset, func(st *durableState) {
			st.activeBase, st.position, st.nextOffset = f.active.base, f.writer.Pos(), f.nextOffset
		})
		unlock()
		if err != nil {
			return DeleteResult{}, err
		}
		return res, l.removeOldest(closed, offset)
	}
	res, closed, err := l.raiseStart(offset, nil)
	if err != nil {
		return DeleteResult{}, err
	}
	return res, l.removeOldest(closed, offset)
}

// raiseStart saves the state, synced, with the start offset raised to offset and the closed segments wholly
// below it dropped (and, with update, what update changes), and returns what goes and the dropped segments.
func (l *Log) raiseStart(offset int64, update func(st *durableState)) (DeleteResult, []closedSegment, error) {
	l.state.Lock()
	defer l.state.Unlock()
	closed := slices.Clone(l.state.saved.closed)
	n := 0
	for n < len(closed) && closed[n].nextOffset <= offset {
		n++
	}
	res := l.deleteResult(closed, n)
	res.StartOffset = offset
	st := l.state.saved
	st.closed = slices.Clone(closed[n:])
	st.startOffset, st.clean = offset, false
	if update != nil {
		update(&st)
	}
	if err := l.saveStateLocked(st); err != nil {
		return DeleteResult{}, nil, err
	}
	l.startOffset.Store(offset)
	return res, closed[:n], nil
}

// removeOldest retires the n oldest segments (those of closed, already dropped from the saved state),
// removes their files, fsyncs the directory and deletes the sparse entries below start.
func (l *Log) removeOldest(closed []closedSegment, start int64) error {
	n := len(closed)
	l.segs.Lock()
	gone := l.segs.list[:n]
	l.segs.list = slices.Clone(l.segs.list[n:])
	l.segs.Unlock()
	for _, s := range gone {
		s.retire()
	}
	fs := l.opts.FS
	for _, c := range closed {
		if err := fs.Remove(l.segmentPath(c.base)); err != nil {
			return l.stop(failStop("remove", l.segmentPath(c.base), err))
		}
	}
	if n > 0 {
		if err := fsutil.SyncDir(fs, l.opts.Dir); err != nil {
			return l.stop(failStop("fsync directory", l.opts.Dir, err))
		}
	}
	if trim, ok := l.opts.Index.(EntryTrimmer); ok {
		if err := trim.DeleteEntriesBefore(start); err != nil {
			return fmt.Errorf("mqlog/wal: delete index entries below %d: %w", start, err)
		}
	}
	return nil
}

// Reset empties the log and makes the next Append get offset, which may lie anywhere (below the old start,
// inside the old log or past its end): a raft follower that installed a snapshot drops its whole log and
// goes on after the snapshot's index. It is committed like a cut (TruncateFrom): the state, synced, naming
// a segment at offset as the only one, empty, with cutPending set; then every other segment file is
// removed, the one named offset trimmed to zero or created, the sparse entries deleted, the directory
// fsynced; then the state without the marker, synced. It takes the writer's role as TruncateFrom does.
func (l *Log) Reset(offset int64) error {
	if l.readOnly {
		return ErrReadOnly
	}
	if offset < 0 {
		return fmt.Errorf("%w: reset to offset %d", ErrOutOfRange, offset)
	}
	l.maintenance.Lock()
	defer l.maintenance.Unlock()
	if err := l.lockIdleWriter(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	_, err := l.resetLocked(offset)
	return err
}

// resetLocked empties the log so that its next offset is offset. l.mu is held, no commit in progress.
func (l *Log) resetLocked(offset int64) (DeleteResult, error) {
	f := &l.flusher
	fail := func(err error) (DeleteResult, error) {
		if l.mu.err == nil {
			l.mu.err = err
		}
		return DeleteResult{}, err
	}
	l.segs.RLock()
	list := slices.Clone(l.segs.list)
	l.segs.RUnlock()
	res := DeleteResult{Segments: len(list), Offsets: f.nextOffset - l.StartOffset(), StartOffset: offset}
	for _, s := range list {
		res.Bytes += s.readableEnd.Load()
	}
	// (No swap is pending: compaction finishes its swap under the maintenance lock, which is held.)
	st := durableState{activeBase: offset, nextOffset: offset, startOffset: offset, cutPending: true}
	l.state.Lock()
	err := l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		return DeleteResult{}, err // nothing changed on disk
	}
	l.startOffset.Store(offset)
	l.segs.Lock()
	l.segs.list = nil
	l.segs.Unlock()
	for _, s := range list {
		s.retire()
	}
	if f.file != nil {
		cerr := f.file.Close()
		f.file = nil
		if cerr != nil {
			return fail(failStop("close", f.active.path, cerr))
		}
	}
	var others []*segmentFile
	for _, s := range list {
		if s.base != offset {
			others = append(others, s)
		} else if err := s.cutMapping(0); err != nil { // (mmap.go: it is trimmed to zero)
			return fail(err)
		}
	}
	if err := l.resetFiles(offset, others); err != nil {
		return fail(err)
	}
	st.cutPending = false
	l.state.Lock()
	err = l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		return fail(failStop("record reset", l.segmentPath(offset), err))
	}
	if err := l.reopenActive(offset, 0, offset, -1); err != nil {
		return fail(err)
	}
	f.entries, f.unsyncedEntries = f.entries[:0], f.unsyncedEntries[:0]
	l.mu.nextOffset = offset
	return res, nil
}

// resetFiles is the on-disk step of a reset: every sparse entry deleted, the other segments removed, the
// segment at base created when missing (durably), then cut to zero bytes as a cut does.
func (l *Log) resetFiles(base int64, others []*segmentFile) error {
	if err := l.opts.Index.DeleteEntriesFrom(0); err != nil {
		return fmt.Errorf("mqlog/wal: delete index entries: %w", err)
	}
	for _, s := range others {
		if err := l.opts.FS.Remove(s.path); err != nil && !oserrorNotExist(err) {
			return failStop("remove", s.path, err)
		}
	}
	if _, err := l.opts.FS.Stat(l.segmentPath(base)); oserrorNotExist(err) {
		if err := l.createSegmentFile(base); err != nil {
			return failStop("create", l.segmentPath(base), err)
		}
	}
	return l.cutFiles(base, 0, base, nil)
}

func oserrorNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
