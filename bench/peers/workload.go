package peers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog/bench"
)

// Workload names.
const (
	WorkloadAppend           = "append"
	WorkloadAppendConcurrent = "append-concurrent"
	WorkloadConsumeWarm      = "consume-warm"
	WorkloadConsumeCold      = "consume-cold"
)

// loadBatch is the batch size the consume workloads load their log with (not measured).
const loadBatch = 256

// run is one measured run of a workload on a system.
type run struct {
	bench.Measurement
	diskBytes     int64 // bytes allocated on disk to the system's files after loading (consume only)
	diskFileBytes int64 // their apparent size (st_size) summed
	peakRSS       int64 // bytes, of the run's own child process; 0 in process
}

// appendRun measures durable appends: producers goroutines each appending batches of batch payloads of
// size bytes to a fresh queue in a temporary directory under baseDir, until limits.
func appendRun(ctx context.Context, sys System, baseDir string, size, batch, producers int, limits bench.Limits) (r run, err error) {
	dir, cleanup, err := tempDir(baseDir)
	if err != nil {
		return r, err
	}
	defer cleanup()
	q, err := sys.Open(dir, true)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, q.Close()) }()
	payloads := bench.Payloads(batch, size)
	for range bench.WarmupBatches {
		if err := q.Append(payloads); err != nil {
			return r, err
		}
	}
	m, err := bench.Drive(ctx, producers, batch, limits, func(int) error { return q.Append(payloads) })
	if err != nil {
		return r, err
	}
	m.Bytes = m.Messages * int64(size)
	return run{Measurement: m}, nil
}

// consumeRun loads a log of messages payloads of size bytes into a fresh queue (not durable per append,
// synced at Close), then reads it back whole through a newly opened queue and measures that. With cold,
// every file's pages are dropped from the page cache first (fsync, then posix_fadvise DONTNEED) and the
// measured time includes opening the queue, since opening may read what the scan then finds cached.
func consumeRun(ctx context.Context, sys System, baseDir string, size int, messages int64, cold bool) (r run, err error) {
	dir, cleanup, err := tempDir(baseDir)
	if err != nil {
		return r, err
	}
	defer cleanup()
	if err := load(sys, dir, size, messages); err != nil {
		return r, err
	}
	if r.diskBytes, r.diskFileBytes, err = bench.DiskUsage(dir); err != nil {
		return r, err
	}
	if cold {
		if err := bench.DropPageCache(dir); err != nil {
			return r, err
		}
	}
	var sum atomic.Uint64
	start := time.Now()
	q, err := sys.Open(dir, false)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, q.Close()) }()
	if !cold {
		start = time.Now()
	}
	var bytes int64
	n, err := q.Scan(ctx, func(p []byte) {
		if len(p) > 0 {
			sum.Add(uint64(p[0]))
		}
		bytes += int64(len(p))
	})
	r.Elapsed = time.Since(start)
	if err != nil {
		return r, err
	}
	if n != messages {
		return r, fmt.Errorf("mqlog/bench/peers: %s read %d messages back, wrote %d", sys.Name, n, messages)
	}
	r.Messages, r.Bytes = n, n*int64(size)
	return r, nil
}

// load writes messages payloads of size bytes to a new queue in dir in batches of loadBatch and closes it.
func load(sys System, dir string, size int, messages int64) (err error) {
	q, err := sys.Open(dir, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, q.Close()) }()
	batch := bench.Payloads(loadBatch, size)
	for left := messages; left > 0; left -= int64(len(batch)) {
		if left < int64(len(batch)) {
			batch = batch[:left]
		}
		if err := q.Append(batch); err != nil {
			return err
		}
	}
	return nil
}

// tempDir makes a fresh directory under base (os.TempDir() when empty) and a function that removes it.
func tempDir(base string) (string, func(), error) {
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "mqlog-peers-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
