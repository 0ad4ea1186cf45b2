package wal

import (
	"sync/atomic"
	"time"
)

type metricsCounters struct {
	appends, batches, records, bytes, writes, syncs, syncNanos, rolls, preallocs, preallocFailures atomic.Uint64
}

// Metrics are counters since the log was opened.
type Metrics struct {
	Appends  uint64        // Append calls queued
	Batches  uint64        // batches written
	Records  uint64        // records written
	Bytes    uint64        // segment bytes written
	Writes   uint64        // write calls (one per flush and segment)
	Syncs    uint64        // fsyncs of segment data
	SyncTime time.Duration // total time spent in those fsyncs
	Rolls    uint64        // segments rolled
	// Preallocations counts the fallocate steps taken ahead of the write position, PreallocFailures those
	// that failed (ENOSPC, an error of the filesystem): the segment then grows as it is written.
	Preallocations   uint64
	PreallocFailures uint64
}

// Metrics returns the log's counters.
func (l *Log) Metrics() Metrics {
	m := &l.metrics
	return Metrics{
		Appends: m.appends.Load(), Batches: m.batches.Load(), Records: m.records.Load(), Bytes: m.bytes.Load(),
		Writes: m.writes.Load(), Syncs: m.syncs.Load(), SyncTime: time.Duration(m.syncNanos.Load()), Rolls: m.rolls.Load(),
		Preallocations: m.preallocs.Load(), PreallocFailures: m.preallocFailures.Load(),
	}
}
