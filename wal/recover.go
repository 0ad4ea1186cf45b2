package wal

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// listSegments returns the base offsets of the segment files in dir, sorted. With removeTemps it removes
// the temporary files a crash left behind (a replacement that was never renamed into place, or a
// compaction's ".cleaned" output whose swap was never committed: Open finishes committed ones first); any other
// file is ErrUnexpectedFile. It does not look at what the names are: checkRegular does.
func listSegments(fs vfs.FS, dir string, removeTemps bool, logger interface{ Info(string, ...any) }) ([]int64, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("mqlog/wal: list %s: %w", dir, err)
	}
	var bases []int64
	for _, name := range names {
		if base, ok := segment.ParseFileName(name); ok {
			bases = append(bases, base)
			continue
		}
		if strings.HasSuffix(name, fsutil.TempSuffix) || strings.HasSuffix(name, cleanedSuffix) {
			if removeTemps {
				path := fs.PathJoin(dir, name)
				if err := fsutil.RemoveSynced(fs, path); err != nil {
					return nil, fmt.Errorf("mqlog/wal: remove leftover %s: %w", path, err)
				}
				logger.Info("mqlog: removed leftover temporary file", "path", path)
			}
			continue
		}
		return nil, fmt.Errorf("%w: %s", ErrUnexpectedFile, fs.PathJoin(dir, name))
	}
	slices.Sort(bases)
	return bases, nil
}

// checkRegular returns an error wrapping ErrNotRegular, naming the file, for the first of the segments that
// is not a regular file: a symbolic link is never followed (it could point outside the data directory),
// and a directory named like a segment is not one.
func checkRegular(fs vfs.FS, dir string, bases []int64) error {
	for _, b := range bases {
		if _, err := fsutil.CheckRegular(fs, fs.PathJoin(dir, segment.FileName(b))); err != nil {
			return fmt.Errorf("mqlog/wal: segment %w", err)
		}
	}
	return nil
}

// recovery is the outcome of validating the segments on disk against the saved state.
type recovery struct {
	closed     []closedSegment // segments that take no more writes, oldest first
	activeBase int64
	position   int64 // valid end of the active segment
	nextOffset int64
	maxTs      int64
	entries    []IndexEntry // sparse index entries of the batches scanned
	cut        bool         // a torn tail was cut
	adopted    bool         // bytes past the recorded durable point were taken into the log (and fsynced)
}

// recover validates the log directory (DESIGN.md decision 6, docs/FORMAT.md "Recovery"):
//
//  1. Closed segments recorded in the state must exist with exactly their recorded size; they are trusted
//     and not read. Segment files older than the first recorded one are leftovers of a retention delete
//     that a crash interrupted, and are removed. Without a saved state, a segment that holds data is
//     reported (ErrNoState), never cut or adopted.
//  2. The active segment's bytes up to the recorded position are trusted. Frames past it are re-validated
//     (CRC, length, offset continuity, the recorded epoch), and so are the frames of any later segment (one
//     created by a roll whose state was not yet saved). The last sparse index entry past the recorded
//     position moves the durable point up to the batch it names: entries are stored only after the fsync
//     that covers their batch (flush.go).
//  3. The first invalid frame past the durable point is the end of the log when nothing valid follows it
//     (tailScan): it and everything after it are cut. A bad frame before the durable point, or followed by
//     valid frames of the tail's epoch, is damage: a *segment.CorruptionError, and nothing is cut. So is
//     any bad frame when a later segment holds data (a roll makes the segment before it durable first).
//  4. Every file whose bytes past the recorded point were taken into the log is fsynced, and the directory
//     too, before the caller records the new state: the bytes may have been only in the page cache of a
//     process that was killed before its fsync.
func (l *Log) recover(st durableState, hasState bool, bases []int64) (recovery, error) {
	fs, dir := l.opts.FS, l.opts.Dir
	var r recovery
	present := make(map[int64]bool, len(bases))
	for _, b := range bases {
		present[b] = true
	}

	// 1. Closed segments.
	recorded := make(map[int64]bool, len(st.closed))
	for _, c := range st.closed {
		recorded[c.base] = true
		path := fs.PathJoin(dir, segment.FileName(c.base))
		if !present[c.base] {
			return r, &segment.CorruptionError{Path: path, Offset: 0, Err: ErrMissingSegment}
		}
		info, err := fs.Stat(path)
		if err != nil {
			return r, err
		}
		if info.Size() != c.size {
			return r, &segment.CorruptionError{Path: path, Offset: min(info.Size(), c.size),
				Err: fmt.Errorf("%w: closed segment is %d bytes, recorded %d", segment.ErrTruncated, info.Size(), c.size)}
		}
		r.maxTs = max(r.maxTs, c.maxTimestamp)
	}
	r.closed = slices.Clone(st.closed)

	start := int64(0)
	r.position, r.nextOffset, r.activeBase = 0, st.startOffset, st.startOffset
	epoch := int32(anyEpoch)
	if hasState {
		r.activeBase, r.position, r.nextOffset, epoch = st.activeBase, st.position, st.nextOffset, st.epoch
		start = st.activeBase
		if len(st.closed) > 0 {
			start = st.closed[0].base
		}
	} else {
		for _, b := range bases {
			path := fs.PathJoin(dir, segment.FileName(b))
			if blank, err := l.isBlank(path); err != nil {
				return r, err
			} else if !blank {
				return r, &segment.CorruptionError{Path: path, Offset: 0, Err: ErrNoState}
			}
		}
		if len(bases) > 0 {
			// Blank segments only: the leftovers of a log created by a crash before its first state was saved.
			r.activeBase, r.nextOffset = bases[0], bases[0]
		}
	}
	var tail []int64
	for _, b := range bases {
		switch {
		case recorded[b]:
		case hasState && b < start:
			path := fs.PathJoin(dir, segment.FileName(b))
			if err := fsutil.RemoveSynced(fs, path); err != nil {
				return r, err
			}
			l.opts.Logger.Info("mqlog: removed segment left by an interrupted delete", "path", path)
		case b < r.activeBase:
			return r, &segment.CorruptionError{Path: fs.PathJoin(dir, segment.FileName(b)), Offset: 0,
				Err: fmt.Errorf("%w: segment not recorded between closed segments", segment.ErrBadOffset)}
		default:
			tail = append(tail, b)
		}
	}
	if hasState && (len(tail) == 0 || tail[0] != st.activeBase) {
		if st.position > 0 || st.nextOffset > st.activeBase {
			return r, &segment.CorruptionError{Path: fs.PathJoin(dir, segment.FileName(st.activeBase)), Offset: 0, Err: ErrMissingSegment}
		}
		if len(tail) == 0 {
			// An empty active segment not created yet, or lost by a crash: created now, unsynced (the first
			// write makes it and its directory entries durable, openWriter).
			return r, l.createEmptySegment(st.activeBase)
		}
		// The active segment was never created durably (a crash right after a roll's state was saved).
		tail = append([]int64{st.activeBase}, tail...)
		if err := l.createSegmentFile(st.activeBase); err != nil {
			return r, err
		}
	}
	if len(tail) == 0 {
		// A new, empty log: its first segment is created without any fsync (an empty file lost by a crash is
		// created again); the first write makes it and its directory entries durable (openWriter).
		return r, l.createEmptySegment(r.activeBase)
	}
	durable, err := l.durablePoint(st, hasState, tail)
	if err != nil {
		return r, err
	}

	// 2. Re-validate the tail.
	pos := r.position
	for i, base := range tail {
		path := fs.PathJoin(dir, segment.FileName(base))
		if i > 0 {
			if base != r.nextOffset && (!l.opts.Compacted || base < r.nextOffset) {
				if err := l.removeBlankSegments(tail[i:]); err != nil {
					return r, &segment.CorruptionError{Path: path, Offset: 0,
						Err: fmt.Errorf("%w: segment starts at %d, log ends at %d", segment.ErrBadOffset, base, r.nextOffset)}
				}
				break
			}
			// The previous segment ended cleanly: it is closed now (trimmed and fsynced).
			if err := fsutil.TrimFile(fs, fs.PathJoin(dir, segment.FileName(r.activeBase)), pos); err != nil {
				return r, err
			}
			r.closed = append(r.closed, closedSegment{base: r.activeBase, size: pos, nextOffset: r.nextOffset, maxTimestamp: r.maxTs})
			r.activeBase, pos = base, 0
			r.adopted = true
		}
		res, err := l.scanTail(path, pos, r.nextOffset, epoch, durable.in(i), &r)
		if err != nil {
			return r, err
		}
		if res.validEnd > pos {
			r.adopted = true
		}
		pos = res.validEnd
		if res.batches > 0 {
			r.nextOffset = res.lastOffset + 1
			r.maxTs = max(r.maxTs, res.maxTimestamp)
		}
		for _, b := range res.badEpochs {
			l.opts.Logger.Warn("mqlog: batch with a damaged epoch field kept (its records are intact)", "path", b.Path, "offset", b.Position, "epoch", b.Epoch, "expected", b.Previous)
		}
		if res.damage != nil {
			return r, res.damage
		}
		if i == durable.segment && pos <= durable.position && res.end == nil {
			// The segment ends cleanly before the batch that the index says was fsynced: durable data is gone.
			return r, &segment.CorruptionError{Path: path, Offset: pos, Err: fmt.Errorf(
				"%w: valid data ends at byte %d, but the batch of offset %d at byte %d was recorded durable", segment.ErrTruncated, pos, durable.offset, durable.position)}
		}
		if res.end == nil {
			continue
		}
		// 3. The end of what was written, unless a later segment holds data (a roll makes the segment before
		// it durable first, so a torn frame can only be followed by empty or zeroed segments).
		if i < durable.segment {
			return r, res.end
		}
		for _, later := range tail[i+1:] {
			if blank, err := l.isBlank(fs.PathJoin(dir, segment.FileName(later))); err != nil || !blank {
				return r, res.end
			}
		}
		l.opts.Logger.Info("mqlog: cutting torn tail", "path", path, "offset", pos, "reason", res.end)
		if err := fsutil.TrimFile(fs, path, pos); err != nil {
			return r, err
		}
		if err := l.removeBlankSegments(tail[i+1:]); err != nil {
			return r, err
		}
		r.cut = true
		break
	}
	r.position = pos
	// 4. Make durable what was taken in: the active segment (the closed ones were trimmed, and so synced).
	if r.adopted && !r.cut {
		if err := syncFile(fs, fs.PathJoin(dir, segment.FileName(r.activeBase))); err != nil {
			return r, err
		}
	}
	return r, l.syncDirsAfterCrash(st, hasState)
}

// syncDirsAfterCrash fsyncs the partition directory and its parent unless the state records a clean close:
// after a crash the directory entries found (a segment created by a roll whose state was not saved, the
// partition directory itself) may be only in the page cache of the process that made them.
func (l *Log) syncDirsAfterCrash(st durableState, hasState bool) error {
	if hasState && st.clean {
		return nil
	}
	fs, dir := l.opts.FS, l.opts.Dir
	if err := fsutil.SyncDir(fs, dir); err != nil {
		return err
	}
	if parent := fs.PathDir(dir); parent != dir {
		return fsutil.SyncDir(fs, parent)
	}
	return nil
}

// durableMark is where the tail is known durable beyond the recorded position: up to and including the
// batch of offset offset at byte position of tail segment segment (-1: nowhere beyond the state).
type durableMark struct {
	segment  int
	position int64
	offset   int64
}

// in returns the byte of the i-th tail segment before which a bad frame is damage.
func (d durableMark) in(i int) int64 {
	switch {
	case d.segment < 0 || i > d.segment:
		return 0
	case i < d.segment:
		return math.MaxInt64
	}
	return d.position + 1
}

// durablePoint finds the last sparse index entry past the recorded durable point: the flusher stores an
// entry only after the fsync that covers its batch, so the batch it names, and everything before it, was
// acknowledged as durable.
func (l *Log) durablePoint(st durableState, hasState bool, tail []int64) (durableMark, error) {
	mark := durableMark{segment: -1}
	if !hasState {
		return mark, nil
	}
	e, ok, err := l.opts.Index.FloorEntry(math.MaxInt64)
	if err != nil {
		return mark, fmt.Errorf("mqlog/wal: read the index of %s: %w", l.opts.Dir, err)
	}
	if !ok || e.Offset < st.nextOffset || e.Offset < tail[0] {
		return mark, nil
	}
	for i, b := range tail {
		if b <= e.Offset {
			mark.segment = i
		}
	}
	if mark.segment == 0 && e.Position < st.position {
		return durableMark{segment: -1}, nil // (an entry that does not fit the state: derived data, ignored)
	}
	mark.position, mark.offset = e.Position, e.Offset
	return mark, nil
}

// scanTail validates path from pos with tailScan and collects sparse index entries for what it reads.
func (l *Log) scanTail(path string, pos, nextOffset int64, epoch int32, durable int64, r *recovery) (tailResult, error) {
	fs := l.opts.FS
	f, err := fsutil.OpenRegular(fs, path)
	if err != nil {
		return tailResult{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return tailResult{}, err
	}
	if info.Size() < pos {
		return tailResult{}, &segment.CorruptionError{Path: path, Offset: info.Size(),
			Err: fmt.Errorf("%w: segment is %d bytes, %d recorded durable", segment.ErrTruncated, info.Size(), pos)}
	}
	expect := nextOffset
	if l.opts.Compacted {
		expect = -1
	}
	last := pos - int64(l.opts.IndexIntervalBytes)
	maxTs := r.maxTs
	return tailScan(f, pos, info.Size(), tailOptions{
		path: path, limits: l.opts.Limits, nextOffset: expect, contiguous: !l.opts.Compacted, epoch: epoch, durable: durable,
		onBatch: func(p int64, h segment.BatchHeader) error {
			maxTs = max(maxTs, h.MaxTimestamp)
			if p-last >= int64(l.opts.IndexIntervalBytes) {
				r.entries = append(r.entries, IndexEntry{Offset: h.BaseOffset, Position: p, Timestamp: maxTs})
				last = p
			}
			return nil
		},
	})
}

// syncFile fsyncs the regular file at path.
func syncFile(fs vfs.FS, path string) error {
	f, err := fsutil.OpenRegularReadWrite(fs, path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mqlog/wal: fsync %s: %w", path, err)
	}
	return nil
}

// isBlank reports whether the file at path is empty or holds only zero bytes (a segment created, and maybe
// preallocated, by a roll that wrote nothing into it).
func (l *Log) isBlank(path string) (bool, error) {
	f, err := fsutil.OpenRegular(l.opts.FS, path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := f.ReadAt(buf, off)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// removeBlankSegments removes segments past the end of the log, each of which must be blank; it removes
// nothing and fails if one is not.
func (l *Log) removeBlankSegments(bases []int64) error {
	for _, b := range bases {
		path := l.opts.FS.PathJoin(l.opts.Dir, segment.FileName(b))
		if blank, err := l.isBlank(path); err != nil {
			return err
		} else if !blank {
			return fmt.Errorf("mqlog/wal: segment %s past the end of the log holds data", path)
		}
	}
	for _, b := range bases {
		path := l.opts.FS.PathJoin(l.opts.Dir, segment.FileName(b))
		l.opts.Logger.Info("mqlog: removing empty segment past the end of the log", "path", path)
		if err := fsutil.RemoveSynced(l.opts.FS, path); err != nil {
			return err
		}
	}
	return nil
}

// createSegmentFile creates an empty segment durably: the file, then its directory entry.
// createEmptySegment creates the empty segment file named base, without fsync: a partition that is never
// written costs no sync (openWriter syncs before the first write into an empty segment).
func (l *Log) createEmptySegment(base int64) error {
	fs := l.opts.FS
	path := fs.PathJoin(l.opts.Dir, segment.FileName(base))
	f, err := fsutil.CreateNew(fs, path)
	if err != nil {
		return fmt.Errorf("mqlog/wal: create segment: %w", err)
	}
	return f.Close()
}

func (l *Log) createSegmentFile(base int64) error {
	fs := l.opts.FS
	path := fs.PathJoin(l.opts.Dir, segment.FileName(base))
	f, err := fsutil.CreateNew(fs, path)
	if err != nil {
		return fmt.Errorf("mqlog/wal: create segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsutil.SyncDir(fs, l.opts.Dir)
}
