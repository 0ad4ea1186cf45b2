package bench

import (
	"testing"
	"time"
)

func TestLatencyPercentiles(t *testing.T) {
	h := newLatencyHistogram()
	for i := 1; i <= 10000; i++ { // 1 µs to 10 ms, evenly
		recordLatency(h, time.Duration(i)*time.Microsecond)
	}
	recordLatency(h, 2*time.Minute) // clamped to the histogram's range, not dropped
	l := latencyOf(h)
	if l.Count != 10001 {
		t.Fatalf("count %d, want 10001", l.Count)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("%s = %.1f µs, want about %.1f", name, got, want)
		}
	}
	near("p50", l.P50, 5000)
	near("p99", l.P99, 9900)
	near("p99.9", l.P999, 9990)
	near("max", l.Max, 60e6)
	if !(l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("percentiles out of order: %+v", l)
	}
	if latencyOf(newLatencyHistogram()) != nil {
		t.Error("an empty histogram has a latency summary")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
