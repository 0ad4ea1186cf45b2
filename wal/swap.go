package wal

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// cleanedSuffix ends the name of a compacted segment written beside the one it replaces:
// "<base>.log.cleaned". Before its swap is committed such a file is a leftover (Open removes it); after,
// Open renames it into place.
const cleanedSuffix = ".cleaned"

func (l *Log) segmentPath(base int64) string {
	return l.opts.FS.PathJoin(l.opts.Dir, segment.FileName(base))
}

func (l *Log) cleanedPath(base int64) string { return l.segmentPath(base) + cleanedSuffix }

// swapSegments replaces the closed segments old (a prefix of the closed list, unchanged since the caller
// took it) with replacement, whose files have been written as "<base>.log.cleaned", fsynced, and their
// directory fsynced. The protocol (docs/FORMAT.md "Recovery", "Segment replacement"; DESIGN.md decision 7):
//
//  1. Commit: save the state, synced, with the new closed list and the pending swap (the bases whose
//     .cleaned file replaces the segment, and the old bases to remove). Before this point a crash leaves the
//     old segments (Open removes the .cleaned files); after it, the new ones (Open finishes the swap).
//  2. Rename each .cleaned file over its segment, remove the old segments not replaced, fsync the directory.
//  3. Swap the read handles (readers move to the new files by offset) and save the state without the
//     pending swap.
//
// Appends go on throughout: the state lock is held only for each of the two state saves, and only a roll
// (which saves the state too) waits for it. An error at or after
// the commit point stops the log (fail-stop): the next Open finishes the swap if the commit is durable.
func (l *Log) swapSegments(old, replacement []closedSegment) error {
	if d, ok := l.opts.Index.(EntryRangeDeleter); ok && len(old) > 0 {
		// Before the commit: the old segments lose their entries (reads scan them from their start), and
		// a crash at any later point leaves no entry pointing into a replaced file.
		if err := d.DeleteEntriesBetween(old[0].base, old[len(old)-1].nextOffset); err != nil {
			return fmt.Errorf("mqlog/wal: delete index entries of compacted segments: %w", err)
		}
	}
	if err := l.pinHandles(len(old)); err != nil { // (before the commit: an error here changes nothing)
		return err
	}
	l.state.Lock()
	saved := l.state.saved
	if len(saved.closed) < len(old) || !slices.Equal(saved.closed[:len(old)], old) {
		l.state.Unlock()
		return errors.New("mqlog/wal: closed segments changed during compaction")
	}
	st := saved
	st.clean = false
	st.closed = append(slices.Clone(replacement), saved.closed[len(old):]...)
	kept := make(map[int64]bool, len(replacement))
	for _, c := range replacement {
		st.swap.renamed = append(st.swap.renamed, c.base)
		kept[c.base] = true
	}
	for _, c := range old {
		if !kept[c.base] {
			st.swap.removed = append(st.swap.removed, c.base)
		}
	}
	err := l.saveStateLocked(st)
	l.state.Unlock()
	if err != nil {
		// The commit may or may not be durable: stop, keep the .cleaned files, and let Open decide from
		// the state it finds (finish the swap, or remove them).
		return l.stop(failStop("commit swap", l.opts.Dir, err))
	}
	// From here a roll may save the state again: it keeps the pending swap, which is still true, until
	// the save below clears it. Retention, the only other writer of the closed list's prefix, waits for
	// the maintenance lock that the caller holds.
	if err := l.finishSwap(st.swap); err != nil {
		return l.stop(failStop("swap segments", l.opts.Dir, err))
	}
	if err := l.replaceHandles(old, replacement); err != nil {
		return l.stop(failStop("open compacted segment", l.opts.Dir, err))
	}
	l.state.Lock()
	done := l.state.saved
	done.swap = pendingSwap{}
	err = l.saveStateLocked(done)
	l.state.Unlock()
	if err != nil {
		return l.stop(failStop("record swap", l.opts.Dir, err))
	}
	return nil
}

// finishSwap carries out a committed swap on disk; it is idempotent, so Open calls it again after a crash
// at any point of it. A .cleaned file that is gone was renamed already; a segment to remove that is gone
// was removed already.
func (l *Log) finishSwap(p pendingSwap) error {
	if p.empty() {
		return nil
	}
	fs := l.opts.FS
	for _, base := range p.renamed {
		if _, err := fs.Stat(l.cleanedPath(base)); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := fs.Rename(l.cleanedPath(base), l.segmentPath(base)); err != nil {
			return err
		}
	}
	for _, base := range p.removed {
		if err := fs.Remove(l.segmentPath(base)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := fsutil.SyncDir(fs, l.opts.Dir); err != nil {
		return err
	}
	l.opts.Logger.Info("mqlog: segment replacement done", "dir", l.opts.Dir, "replaced", len(p.renamed), "removed", len(p.removed))
	return nil
}

// replaceHandles puts read handles on the replacement segments in place of old's in the segment list and
// retires old's (readers move over by offset; the old files close when their last reader lets go).
func (l *Log) replaceHandles(old, replacement []closedSegment) error {
	fresh := make([]*segmentFile, 0, len(replacement))
	for _, c := range replacement {
		s, err := l.openSegmentFile(c.base)
		if err != nil {
			for _, f := range fresh {
				f.retire()
			}
			return err
		}
		s.closed.Store(true)
		s.readableEnd.Store(c.size)
		s.nextOffset.Store(c.nextOffset)
		s.maxTimestamp.Store(c.maxTimestamp)
		fresh = append(fresh, s)
	}
	l.segs.Lock()
	defer l.segs.Unlock()
	if len(l.segs.list) < len(old) {
		return fmt.Errorf("mqlog/wal: %d segments open, %d to replace", len(l.segs.list), len(old))
	}
	gone := l.segs.list[:len(old)]
	l.segs.list = append(fresh, l.segs.list[len(old):]...)
	for _, s := range gone {
		s.retire()
	}
	return nil
}

// stop makes err the log's sticky error (fail-stop) and returns it.
func (l *Log) stop(err error) error {
	l.mu.Lock()
	if l.mu.err == nil {
		l.mu.err = err
	}
	l.mu.Unlock()
	return err
}
