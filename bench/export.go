package bench

import (
	"context"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Drive runs producers goroutines, each calling op with a batch of batch messages until limits are reached
// or ctx is done, and times every call in an HDR histogram of nanoseconds: the harness of every append
// workload, exported for the peers comparison (bench/peers). Calls by one producer do not overlap.
func Drive(ctx context.Context, producers, batch int, limits Limits, op func(producer int) error) (Measurement, error) {
	return drive(ctx, producers, batch, limits, op)
}

// NewLatencyHistogram returns an empty histogram of nanoseconds with the bounds every workload uses (1 ns
// to 60 s, three significant digits).
func NewLatencyHistogram() *hdrhistogram.Histogram { return newLatencyHistogram() }

// LatencyOf summarizes a histogram of nanoseconds in microseconds; nil when it is empty.
func LatencyOf(h *hdrhistogram.Histogram) *Latency { return latencyOf(h) }

// Median returns the median of xs (the mean of the middle two for an even count), 0 for none.
func Median(xs []float64) float64 { return median(xs) }

// WarmupBatches is how many batches every append run writes, untimed, before its timed part.
const WarmupBatches = warmupBatches

// MachineInfo describes the machine and the filesystem of baseDir ("" is os.TempDir()) for a report.
func MachineInfo(baseDir string) Machine { return machineInfo(baseDir) }

// PeakRSS returns the peak resident set size of this process's address space since exec (VmHWM of
// /proc/self/status), in bytes; 0 where it cannot be read. A child process reports it at its end.
func PeakRSS() int64 { return peakRSS() }
