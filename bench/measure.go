package bench

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Measurement is what one run of a workload on one system measured.
type Measurement struct {
	Messages int64         // messages written or read
	Bytes    int64         // payload bytes of those messages
	Elapsed  time.Duration // wall time of the measured part
	// Latency holds one sample per timed operation (an Append call, a batch write and fdatasync), in
	// nanoseconds; nil where single operations are not timed (consume).
	Latency *hdrhistogram.Histogram
	Syncs   uint64 // fsyncs of log data during the measured part (mqlog's Metrics.Syncs; one per raw batch)

	DiskBytes     int64 // consume: bytes allocated on disk to the log's files once written (du)
	DiskFileBytes int64 // consume: the sum of those files' sizes
	PeakRSS       int64 // bytes; measured only when the run had a child process of its own

	Partitions *PartitionsResult // the partitions run's figures (its child workloads only)
}

// MsgsPerSec is the measured message rate.
func (m Measurement) MsgsPerSec() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Messages) / m.Elapsed.Seconds()
}

// MBPerSec is the measured payload rate in MB/s (10^6 bytes).
func (m Measurement) MBPerSec() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Bytes) / 1e6 / m.Elapsed.Seconds()
}

// Limits says how long a run lasts: until Messages have been written or Duration has passed, whichever
// comes first. Zero fields are unlimited, but not both.
type Limits struct {
	Messages int64
	Duration time.Duration
}

// warmupBatches are appended before the timed part of every append run, untimed.
const warmupBatches = 4

// drive runs producers goroutines, each calling op with a batch of batch messages until limits are reached
// or ctx is done, and times every call. op is called with the producer's number; calls by one producer do
// not overlap.
func drive(ctx context.Context, producers, batch int, limits Limits, op func(producer int) error) (Measurement, error) {
	if limits.Messages <= 0 && limits.Duration <= 0 {
		limits.Messages = 1000
	}
	var (
		claimed  atomic.Int64
		stopped  atomic.Bool
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	hists := make([]*hdrhistogram.Histogram, producers)
	start := time.Now()
	var deadline time.Time
	if limits.Duration > 0 {
		deadline = start.Add(limits.Duration)
	}
	for p := range producers {
		hists[p] = newLatencyHistogram()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped.Load() && ctx.Err() == nil {
				if limits.Messages > 0 && claimed.Add(int64(batch)) > limits.Messages {
					return
				}
				t0 := time.Now()
				err := op(p)
				t1 := time.Now()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					stopped.Store(true)
					return
				}
				recordLatency(hists[p], t1.Sub(t0))
				if !deadline.IsZero() && !t1.Before(deadline) {
					stopped.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Measurement{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	h := hists[0]
	for _, o := range hists[1:] {
		h.Merge(o)
	}
	return Measurement{Messages: h.TotalCount() * int64(batch), Elapsed: elapsed, Latency: h}, nil
}

// Payloads returns n payloads of size bytes each, random (so incompressible) and the same on every call.
func Payloads(n, size int) [][]byte {
	r := rand.New(rand.NewChaCha8([32]byte{'m', 'q', 'l', 'o', 'g'}))
	buf := make([]byte, n*size)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return out
}

// tempDir makes a fresh directory under base (os.TempDir() when empty) and a function that removes it.
func tempDir(base string) (string, func(), error) {
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "mqlog-bench-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// sink keeps what the read workloads compute from every payload alive, so that touching it is not
// optimized away.
var sink atomic.Uint64
