package cleaner

import "sync/atomic"

// Metrics are the cleaner's counters since it was made, and the progress of the run under way.
type Metrics struct {
	Runs            int64 // runs started (background and on demand, dry runs left out)
	Rolls           int64 // active segments rolled for their age (segment.ms)
	SegmentsDeleted int64 // segments deleted by retention
	BytesRead       int64 // bytes compaction read
	BytesReclaimed  int64 // bytes retention and compaction freed
	// Running says a run is under way; RunBytesRead of its RunBytesTotal closed bytes are read so far
	// (an upper bound, as Request.Progress says).
	Running                     bool
	RunBytesRead, RunBytesTotal int64
}

// counters are the atomics behind Metrics.
type counters struct {
	runs, rolls, segmentsDeleted, bytesRead, bytesReclaimed atomic.Int64
	running                                                 atomic.Int32
	runRead, runTotal                                       atomic.Int64
}

// Metrics returns the cleaner's counters.
func (c *Cleaner) Metrics() Metrics {
	m := &c.counters
	return Metrics{
		Runs: m.runs.Load(), Rolls: m.rolls.Load(), SegmentsDeleted: m.segmentsDeleted.Load(),
		BytesRead: m.bytesRead.Load(), BytesReclaimed: m.bytesReclaimed.Load(),
		Running: m.running.Load() > 0, RunBytesRead: m.runRead.Load(), RunBytesTotal: m.runTotal.Load(),
	}
}
