package wal

// Direct writes (BENCH.md, phase 3). An appender encodes its batch into a buffer of its own (framePool) and
// used to copy it into the log's queue (l.mu.pending) under the lock, for the commit to write from there:
// a second copy of every payload byte, 18 µs per batch of 256 × 1 KiB. When the appender will lead the
// commit itself with nothing else queued (no commit in progress, no group forming), the queue would hold
// its frames alone, so the commit writes the encoding buffer as it is. Appends that queue while that
// commit runs go to l.mu.pending as before, and the next commit writes them from there. What is written,
// and when it is reported durable, does not change: the same one write and one fsync per commit.
//
// Only buffers the log owns go this way (Append, AppendBatches): AppendFrame's frame is its caller's, and
// vfs.File.Write may modify the buffer it is given, so it is still copied.

// commitsAloneLocked reports whether an appender that is about to queue would lead the commit of its own
// frames with nothing else in it (l.mu held): nothing queued, no commit in progress, no group forming.
func (l *Log) commitsAloneLocked() bool {
	return len(l.mu.frames) == 0 && len(l.mu.pending) == 0 && !l.mu.flushing && !l.groupCommitLocked()
}

// commitAloneLocked commits the frames just noted in l.mu.frames from own, their bytes, as
// commitOrLeaveLocked's own-commit case does from the queue, and releases l.mu. The caller checked
// commitsAloneLocked under the same hold of l.mu and did not copy own into the queue.
func (l *Log) commitAloneLocked(own []byte) {
	l.startBackgroundLocked()
	l.flushQueuedFrom(own)
}
