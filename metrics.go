package mqlog

import (
	"time"

	"github.com/mqlog/mqlog/internal/catalog"
)

// Metrics are counters summed over every partition since the DB was opened, the latency of its appends,
// and what the cleaner (retention, compaction, rolls by age) has done. The prommetrics package serves them
// to Prometheus, with the figures of the data's state (each group's lag, each queue's pending messages).
type Metrics struct {
	Appends  uint64        // Append calls queued to partition logs
	Batches  uint64        // batches written
	Records  uint64        // records written
	Bytes    uint64        // segment bytes written
	Writes   uint64        // write calls
	Syncs    uint64        // fsyncs of segment data
	SyncTime time.Duration // time spent in those fsyncs
	Rolls    uint64        // segments rolled
	// Preallocations are the fallocate steps taken ahead of the active segments' writes; PreallocFailures
	// those that failed (ENOSPC, a filesystem that refuses it): the segment then grows as it is written.
	Preallocations   uint64
	PreallocFailures uint64

	// The work queue's counters.
	QueueSaves              int64 // synced saves of work-queue state (acks and deliveries share them)
	QueueDeliveries         int64 // messages handed out by Queue.Next, redeliveries included
	QueueRedeliveries       int64 // deliveries of a message delivered before
	QueueDeadLettered       int64 // messages that reached MaxDeliver and went to their dead-letter topic
	QueueDeadLetterFailures int64 // failed dead-letter appends (each message is tried again later)
	QueueSkippedByRetention int64 // messages no work-queue group had finished when retention deleted them

	// CommitLatency is the time Append, AppendPartition and RawPartition.AppendBatch took, call by call:
	// under SyncAlways, from the call until its messages were on disk.
	CommitLatency LatencySummary

	// The cleaner's counters: its runs, active segments it rolled for their age (segment.ms), segments
	// retention deleted, bytes compaction read and bytes freed; and the run under way, if any, with the
	// bytes it has read of the closed bytes it looks at.
	CleanerRuns            int64
	CleanerRolls           int64
	CleanerSegmentsDeleted int64
	CompactionBytesRead    int64
	CleanerBytesReclaimed  int64
	CleanerRunning         bool
	CleanerRunBytesRead    int64
	CleanerRunBytesTotal   int64
}

// AvgBatchRecords is the mean number of records per written batch.
func (m Metrics) AvgBatchRecords() float64 {
	if m.Batches == 0 {
		return 0
	}
	return float64(m.Records) / float64(m.Batches)
}

// AppendsPerSync is the mean number of Append calls that shared one fsync (group commit at work).
func (m Metrics) AppendsPerSync() float64 {
	if m.Syncs == 0 {
		return 0
	}
	return float64(m.Appends) / float64(m.Syncs)
}

// Metrics returns the DB's counters.
func (db *DB) Metrics() Metrics {
	var m Metrics
	db.catalog.Each(func(t *catalog.Topic) {
		for _, l := range t.Logs() {
			w := l.Metrics()
			m.Appends += w.Appends
			m.Batches += w.Batches
			m.Records += w.Records
			m.Bytes += w.Bytes
			m.Writes += w.Writes
			m.Syncs += w.Syncs
			m.SyncTime += w.SyncTime
			m.Rolls += w.Rolls
			m.Preallocations += w.Preallocations
			m.PreallocFailures += w.PreallocFailures
		}
	})
	if db.queues != nil {
		q := db.queues.Metrics()
		m.QueueSaves, m.QueueDeliveries, m.QueueRedeliveries = q.Saves, q.Deliveries, q.Redeliveries
		m.QueueDeadLettered, m.QueueDeadLetterFailures, m.QueueSkippedByRetention = q.DeadLettered, q.DeadLetterFailures, q.SkippedByRetention
	}
	m.CommitLatency = db.commitLatency.summary()
	if db.cleaner != nil {
		c := db.cleaner.Metrics()
		m.CleanerRuns, m.CleanerRolls, m.CleanerSegmentsDeleted = c.Runs, c.Rolls, c.SegmentsDeleted
		m.CompactionBytesRead, m.CleanerBytesReclaimed = c.BytesRead, c.BytesReclaimed
		m.CleanerRunning, m.CleanerRunBytesRead, m.CleanerRunBytesTotal = c.Running, c.RunBytesRead, c.RunBytesTotal
	}
	return m
}
