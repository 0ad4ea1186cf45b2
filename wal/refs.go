package wal

// Segment handles are reference counted, so that retention and compaction never pull a file from under a
// reader. The log's segment list holds one reference on each of its segments; a Reader takes one for the
// duration of each batch read (acquire, read, release) and holds none between calls. Removing a segment
// from the list (retire) drops the list's reference; the file is closed by whoever drops the last one. A
// Reader whose segment was retired between two calls finds it by the retired flag and positions itself
// again by offset: on the replacement segment after a compaction (offsets are preserved), or, after a
// retention delete below its offset, with ErrOutOfRange.

// acquire takes a reference on s, unless its file is already closed (refs at zero); it reports whether it
// did.
func (s *segmentFile) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference taken by acquire, closing the file when it was the last one.
func (s *segmentFile) release() error {
	if s.refs.Add(-1) == 0 {
		return s.closeHandle()
	}
	return nil
}

// retire marks s as gone from the log's list and drops the list's reference. The caller has removed s from
// l.segs.list under l.segs' lock.
func (s *segmentFile) retire() error {
	if s.retired.Swap(true) {
		return nil
	}
	return s.release()
}

// pinHandles opens the read handles of the first n segments of the list that are not open yet (they open
// lazily, segmentFile.handle), before their files are removed or renamed over: a reader holding one of
// them goes on reading the file it found, never what takes its path.
func (l *Log) pinHandles(n int) error {
	l.segs.RLock()
	defer l.segs.RUnlock()
	for _, s := range l.segs.list[:min(n, len(l.segs.list))] {
		if _, err := s.handle(); err != nil {
			return err
		}
	}
	return nil
}
