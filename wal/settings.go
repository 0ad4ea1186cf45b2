package wal

// SetSegmentBytes changes the size at which the active segment rolls; it applies from the next roll check
// (the active segment keeps the space already preallocated for it).
func (l *Log) SetSegmentBytes(n int64) {
	if n <= 0 {
		n = DefaultSegmentBytes
	}
	l.segmentBytes.Store(n)
}

// SetCompacted turns key compaction on or off for this log. Turning it on allows Compact; recovery of the
// active segment accepts offset gaps only when the log was opened with Options.Compacted, which compaction
// never creates there (it rewrites closed segments only).
func (l *Log) SetCompacted(on bool) { l.compacted.Store(on) }

// Compacted reports whether the log is key-compacted.
func (l *Log) Compacted() bool { return l.compacted.Load() }
