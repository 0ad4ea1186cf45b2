package wal

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/mqlog/mqlog/segment"
)

// OpenReadOnly opens the log in opts.Dir for reading only (DESIGN.md decision 8): it takes no lock, writes
// nothing, creates nothing and needs no index. It reads segments directly: closed segments are taken as
// they are, and the last one is scanned to find where its valid frames end; an incomplete or invalid last
// frame is taken as not yet written. Refresh follows a writer that appends in another process.
func OpenReadOnly(opts Options) (*Log, error) {
	if opts.FS == nil {
		return nil, errors.New("mqlog/wal: OpenReadOnly needs Options.FS")
	}
	o := opts.withDefaults()
	o.Index = nil
	l := newLog(o, true)
	if err := l.Refresh(); err != nil {
		l.closeSegments()
		return nil, err
	}
	return l, nil
}

// Refresh brings a read-only log up to date with the files on disk: segments added or removed by the
// writer and frames appended to the last segment. It wakes readers when the high watermark moves.
func (l *Log) Refresh() error {
	if !l.readOnly {
		return nil
	}
	bases, err := listSegments(l.opts.FS, l.opts.Dir, false, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	l.segs.Lock()
	defer l.segs.Unlock()
	// Drop segments that retention removed.
	for len(l.segs.list) > 0 && (len(bases) == 0 || l.segs.list[0].base < bases[0]) {
		l.segs.list[0].retire()
		l.segs.list = l.segs.list[1:]
	}
	var known int64 = -1
	if n := len(l.segs.list); n > 0 {
		known = l.segs.list[n-1].base
	}
	opening := len(l.segs.list) == 0
	for _, b := range bases {
		if b <= known {
			continue
		}
		s, err := l.openSegmentFile(b)
		if err != nil {
			return err
		}
		s.nextOffset.Store(b)
		if n := len(l.segs.list); n > 0 {
			last := l.segs.list[n-1]
			if opening {
				// A segment found at open with a later one after it is closed: readable to its size, and its
				// frames are checked as they are read (CRC, offsets), not scanned now.
				if err := l.takeClosedReadOnly(last, b); err != nil {
					return err
				}
			} else if err := l.closeReadOnly(last); err != nil {
				// The writer rolled since the last refresh: the rest of its last segment is complete.
				return err
			}
		}
		l.segs.list = append(l.segs.list, s)
	}
	if len(l.segs.list) == 0 {
		return nil
	}
	l.startOffset.Store(l.segs.list[0].base)
	last := l.segs.list[len(l.segs.list)-1]
	if err := l.advanceReadOnly(last); err != nil {
		return err
	}
	// A last segment without a valid batch yet (a roll that met ENOSPC, or a kill between a roll and its
	// first write) still says where the log ends: the segments before it hold everything below its base.
	if next := last.nextOffset.Load(); next > l.highWatermark.Load() {
		l.highWatermark.Store(next)
		l.wakeReaders()
	}
	return nil
}

// takeClosedReadOnly marks s, found at open before the segment starting at nextBase, as closed and readable
// to its size.
func (l *Log) takeClosedReadOnly(s *segmentFile, nextBase int64) error {
	info, err := s.stat()
	if err != nil {
		return err
	}
	s.readableEnd.Store(info.Size())
	s.nextOffset.Store(nextBase)
	s.closed.Store(true)
	return nil
}

// closeReadOnly marks s closed after the writer rolled past it. The bytes after its readable end are durable
// now and must all be valid frames; where they stop being valid, readers get the corruption once they have
// read what comes before it. Epochs are not checked: the data is durable (DESIGN.md decision 6).
func (l *Log) closeReadOnly(s *segmentFile) error {
	info, err := s.stat()
	if err != nil {
		return err
	}
	from := s.readableEnd.Load()
	expect := s.nextOffset.Load()
	res, err := segment.Scan(s, from, info.Size(), segment.ScanOptions{
		Path: s.path, Limits: l.opts.Limits, NextOffset: expect, Contiguous: !l.opts.Compacted, IgnoreEpochs: true,
	}, nil)
	if err != nil {
		return fmt.Errorf("mqlog/wal: scan %s: %w", s.path, err)
	}
	if res.Batches > 0 {
		l.publish(s, res.ValidEnd, res.LastOffset+1, max(s.maxTimestamp.Load(), res.MaxTimestamp))
	}
	var ce *segment.CorruptionError
	switch {
	case res.Stop == nil:
	case errors.As(res.Stop, &ce):
		s.damage.Store(ce)
	default: // zeros where a closed segment must hold frames
		s.damage.Store(&segment.CorruptionError{Path: s.path, Offset: res.ValidEnd, Err: res.Stop})
	}
	s.closed.Store(true)
	return nil
}

// lastSegmentDamage returns the damage a read-only opener found in the last segment, or nil.
func (l *Log) lastSegmentDamage() *segment.CorruptionError {
	if !l.readOnly {
		return nil
	}
	l.segs.RLock()
	defer l.segs.RUnlock()
	if n := len(l.segs.list); n > 0 {
		return l.segs.list[n-1].damage.Load()
	}
	return nil
}

// advanceReadOnly scans s from its readable end to its current size and publishes what is valid there. The
// frames are judged as recovery judges a tail (tailScan), reading through epochs (which say nothing about
// a frame's validity): an incomplete, zeroed or invalid frame with nothing valid after it is not yet
// written (a writer may be in the middle of it); a bad frame followed by valid ones is damage, which
// readers get once they have read what comes before it.
func (l *Log) advanceReadOnly(s *segmentFile) error {
	if s.damage.Load() != nil {
		return nil
	}
	info, err := s.stat()
	if err != nil {
		return err
	}
	from := s.readableEnd.Load()
	if info.Size() <= from {
		return nil
	}
	next := s.nextOffset.Load()
	expect := next
	if l.opts.Compacted || from == 0 {
		expect = -1
	}
	res, err := tailScan(s, from, info.Size(), tailOptions{
		path: s.path, limits: l.opts.Limits, nextOffset: expect, contiguous: !l.opts.Compacted, epoch: anyEpoch, ignoreEpochs: true,
	})
	if err != nil {
		return fmt.Errorf("mqlog/wal: scan %s: %w", s.path, err)
	}
	if res.batches > 0 {
		l.publish(s, res.validEnd, res.lastOffset+1, max(s.maxTimestamp.Load(), res.maxTimestamp))
	}
	if res.damage != nil {
		s.damage.Store(res.damage)
		l.wakeReaders()
	}
	return nil
}
