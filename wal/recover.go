package wal

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// listSegments returns the base offsets of the segment files in dir, sorted. With removeTemps it removes
// the temporary files a crash left behind (a replacement that was never renamed into place, or a
// compaction's ".cleaned" output whose swap was never committed: Open finishes committed ones first); any other
// file is ErrUnexpectedFile.
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

// recovery is the outcome of validating the segments on disk against the saved state.
type recovery struct {
	closed     []closedSegment // segments that take no more writes, oldest first
	activeBase int64
	position   int64 // valid end of the active segment
	nextOffset int64
	maxTs      int64
	entries    []IndexEntry // sparse index entries of the batches scanned
	cut        bool         // a torn tail was cut
}

// recover validates the log directory (DESIGN.md decision 6, docs/FORMAT.md "Recovery"):
//
//  1. Closed segments recorded in the state must exist with exactly their recorded size; they are trusted
//     and not read. Segment files older than the first recorded one are leftovers of a retention delete
//     that a crash interrupted, and are removed.
//  2. The active segment's bytes up to the recorded position are trusted. Frames past it are re-validated
//     (CRC, length, offset continuity, epoch not older than the state's), and so are the frames of any
//     later segment (one created by a roll whose state was not yet saved).
//  3. The first invalid frame ends the log: it and everything after it are cut, even valid-looking
//     frames, which are stale. But if a later segment still holds a valid batch, the damage is not a torn
//     tail: it is reported as a *segment.CorruptionError and nothing is cut.
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
	minEpoch := int32(0)
	if hasState {
		r.activeBase, r.position, r.nextOffset, minEpoch = st.activeBase, st.position, st.nextOffset, st.epoch
		start = st.activeBase
		if len(st.closed) > 0 {
			start = st.closed[0].base
		}
	} else if len(bases) > 0 {
		r.activeBase, r.nextOffset = bases[0], bases[0]
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
		// The active segment was never created durably (a crash right after the state was saved).
		tail = append([]int64{st.activeBase}, tail...)
		if err := l.createSegmentFile(st.activeBase); err != nil {
			return r, err
		}
	}
	if len(tail) == 0 {
		return r, nil // a new, empty log
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
			// The previous segment ended cleanly: it is closed now.
			if err := fsutil.TrimFile(fs, fs.PathJoin(dir, segment.FileName(r.activeBase)), pos); err != nil {
				return r, err
			}
			r.closed = append(r.closed, closedSegment{base: r.activeBase, size: pos, nextOffset: r.nextOffset, maxTimestamp: r.maxTs})
			r.activeBase, pos = base, 0
		}
		res, err := l.scanTail(path, pos, r.nextOffset, minEpoch, &r)
		if err != nil {
			return r, err
		}
		pos = res.ValidEnd
		if res.Batches > 0 {
			r.nextOffset = res.LastOffset + 1
			r.maxTs = max(r.maxTs, res.MaxTimestamp)
			minEpoch = res.LastEpoch
		}
		if res.Stop == nil || errors.Is(res.Stop, segment.ErrZeroTail) {
			continue
		}
		// 3. A bad frame: a torn tail, unless a later segment holds data (a roll makes the segment before it
		// durable first, so a torn frame can only be followed by empty or zeroed segments).
		for _, later := range tail[i+1:] {
			if blank, err := l.isBlank(fs.PathJoin(dir, segment.FileName(later))); err != nil || !blank {
				return r, res.Stop
			}
		}
		l.opts.Logger.Info("mqlog: cutting torn tail", "path", path, "offset", pos, "reason", res.Stop)
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
	return r, nil
}

// scanTail validates path from pos and collects sparse index entries for what it reads.
func (l *Log) scanTail(path string, pos, nextOffset int64, minEpoch int32, r *recovery) (segment.ScanResult, error) {
	fs := l.opts.FS
	f, err := fs.Open(path)
	if err != nil {
		return segment.ScanResult{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return segment.ScanResult{}, err
	}
	if info.Size() < pos {
		return segment.ScanResult{}, &segment.CorruptionError{Path: path, Offset: info.Size(),
			Err: fmt.Errorf("%w: segment is %d bytes, %d recorded durable", segment.ErrTruncated, info.Size(), pos)}
	}
	expect := nextOffset
	if l.opts.Compacted {
		expect = -1
	}
	last := pos - int64(l.opts.IndexIntervalBytes)
	maxTs := r.maxTs
	return segment.Scan(f, pos, info.Size(), segment.ScanOptions{
		Path: path, Limits: l.opts.Limits, NextOffset: expect, Contiguous: !l.opts.Compacted, MinEpoch: minEpoch,
	}, func(p int64, h segment.BatchHeader) error {
		maxTs = max(maxTs, h.MaxTimestamp)
		if p-last >= int64(l.opts.IndexIntervalBytes) {
			r.entries = append(r.entries, IndexEntry{Offset: h.BaseOffset, Position: p, Timestamp: maxTs})
			last = p
		}
		return nil
	})
}

// isBlank reports whether the file at path is empty or holds only zero bytes (a segment created, and maybe
// preallocated, by a roll that wrote nothing into it).
func (l *Log) isBlank(path string) (bool, error) {
	f, err := l.opts.FS.Open(path)
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
func (l *Log) createSegmentFile(base int64) error {
	fs := l.opts.FS
	path := fs.PathJoin(l.opts.Dir, segment.FileName(base))
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
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
