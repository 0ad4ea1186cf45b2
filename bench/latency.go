package bench

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Bounds of the latency histograms: 1 ns to 60 s, three significant digits.
const (
	minLatency     = 1
	maxLatency     = int64(60 * time.Second)
	latencySigFigs = 3
)

// newLatencyHistogram returns an empty histogram of nanoseconds.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(minLatency, maxLatency, latencySigFigs)
}

// recordLatency adds d to h, clamped to the histogram's range.
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	v := min(max(int64(d), minLatency), maxLatency)
	_ = h.RecordValue(v) // cannot fail: v is within the histogram's range
}

// Latency is a latency distribution in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
}

// latencyOf summarizes a histogram of nanoseconds; nil when it is empty.
func latencyOf(h *hdrhistogram.Histogram) *Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return &Latency{
		Count: h.TotalCount(),
		P50:   us(h.ValueAtQuantile(50)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}
