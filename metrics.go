package mqlog

import (
	"time"
)

// Metrics are counters summed over every partition since the DB was opened.
type Metrics struct {
	Appends  uint64        // Append calls queued to partition logs
	Batches  uint64        // batches written
	Records  uint64        // records written
	Bytes    uint64        // segment bytes written
	Writes   uint64        // write calls
	Syncs    uint64        // fsyncs of segment data
	SyncTime time.Duration // time spent in those fsyncs
	Rolls    uint64        // segments rolled
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
	db.mu.RLock()
	defer db.mu.RUnlock()
	var m Metrics
	for _, t := range db.mu.topics {
		for _, l := range t.partitions {
			w := l.Metrics()
			m.Appends += w.Appends
			m.Batches += w.Batches
			m.Records += w.Records
			m.Bytes += w.Bytes
			m.Writes += w.Writes
			m.Syncs += w.Syncs
			m.SyncTime += w.SyncTime
			m.Rolls += w.Rolls
		}
	}
	return m
}
