package wal

import (
	"github.com/mqlog/mqlog/internal/fsutil"
)

// Preallocation steps. The active segment is preallocated (fallocate mode 0, so that the fdatasyncs of
// writes inside it commit no size change) in steps ahead of the write position rather than whole: the
// first step is PreallocStep, and each step a segment uses up doubles the next one, up to SegmentBytes, so
// that a hot partition soon preallocates in large steps while an idle one reserves nothing (its segment is
// preallocated on its first write) and a partition that wrote a little reserves at most PreallocStep past
// its end. A roll keeps the step the partition had reached (it is hot).
//
// Preallocation is an optimization and never fails a write, an Open or a roll: when fallocate fails
// (ENOSPC, a filesystem that refuses it) the log says so once (a warning, Metrics.PreallocFailures) and
// the segment grows as it is written, until the next roll tries again. The zeros past the written end are
// what recovery already treats as preallocated space (tail.go), whatever their length.
const PreallocStep = 1 << 20

// fallocate is fsutil.Preallocate; tests replace it to make it fail.
var fallocate = fsutil.Preallocate

// preallocation is the flusher's view of the active segment's preallocated space.
type preallocation struct {
	end    int64 // the file is preallocated up to end (0: not known to be)
	step   int64 // the next step (0: PreallocStep)
	failed bool  // fallocate failed in this segment: it grows as written
}

// reset forgets the segment's preallocated space (a new active segment); the step is kept.
func (p *preallocation) reset() {
	p.end, p.failed = 0, false
}

// preallocateFor makes sure, when it can, that the active segment is preallocated past end (the write
// position once the next write is done). It never fails: a failed fallocate is logged and counted, and
// turns preallocation off for the rest of the segment. Called by the flusher's owner.
func (l *Log) preallocateFor(end int64) {
	f := &l.flusher
	p := &f.prealloc
	if l.opts.NoPreallocate || p.failed || (end < p.end) || f.file == nil {
		return
	}
	limit := l.segmentBytes.Load()
	if p.step <= 0 {
		p.step = min(int64(PreallocStep), limit)
	} else if p.end > 0 {
		p.step = min(p.step*2, limit) // a step used up: this partition is hot
	}
	target := p.end + p.step
	if target < end {
		target = end + p.step
	}
	target = min(target, limit)
	if target <= end {
		target = end // a frame larger than the segment (allowed at position 0) or a segment past its size
	}
	if target <= 0 {
		return
	}
	if err := fallocate(f.file, target); err != nil {
		p.failed = true
		l.metrics.preallocFailures.Add(1)
		l.opts.Logger.Warn("mqlog/wal: preallocation failed; the segment grows as it is written",
			"segment", f.active.path, "size", target, "err", err)
		return
	}
	p.end = target
	l.metrics.preallocs.Add(1)
}
