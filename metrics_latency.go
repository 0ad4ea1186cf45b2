package mqlog

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Commit latency is recorded in an HDR histogram of microseconds, from 1 µs to an hour, with two
// significant figures (each percentile within 1 %), split in shards so that concurrent appenders rarely
// meet on one lock; a snapshot merges them.
const (
	latencyShards  = 8
	latencyMaxUs   = int64(time.Hour / time.Microsecond)
	latencySigFigs = 2
)

// LatencySummary describes the latencies recorded since the DB was opened: how many, their sum, and
// percentiles (zero when none was recorded).
type LatencySummary struct {
	Count               int64
	Sum                 time.Duration
	P50, P90, P99, P999 time.Duration
	Max                 time.Duration
}

// latencyRecorder records durations into sharded HDR histograms. Its zero value is ready.
type latencyRecorder struct {
	next   atomic.Uint32
	shards [latencyShards]latencyShard
}

type latencyShard struct {
	mu struct {
		sync.Mutex
		hist *hdrhistogram.Histogram // created at the first record
		sum  time.Duration
	}
	_ [64]byte // (keeps shards' locks off one cache line)
}

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, latencyMaxUs, latencySigFigs)
}

// since records the time from start until now.
func (r *latencyRecorder) since(start time.Time) { r.record(time.Since(start)) }

// record records d (clamped to the histogram's range).
func (r *latencyRecorder) record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), latencyMaxUs)
	s := &r.shards[r.next.Add(1)%latencyShards]
	s.mu.Lock()
	if s.mu.hist == nil {
		s.mu.hist = newLatencyHistogram()
	}
	_ = s.mu.hist.RecordValue(us) // (cannot fail: us is within the range)
	s.mu.sum += d
	s.mu.Unlock()
}

// summary merges the shards.
func (r *latencyRecorder) summary() LatencySummary {
	all := newLatencyHistogram()
	var sum time.Duration
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		if s.mu.hist != nil {
			all.Merge(s.mu.hist)
			sum += s.mu.sum
		}
		s.mu.Unlock()
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	if all.TotalCount() == 0 {
		return LatencySummary{}
	}
	return LatencySummary{
		Count: all.TotalCount(), Sum: sum,
		P50: us(all.ValueAtQuantile(50)), P90: us(all.ValueAtQuantile(90)),
		P99: us(all.ValueAtQuantile(99)), P999: us(all.ValueAtQuantile(99.9)),
		Max: us(all.Max()),
	}
}
