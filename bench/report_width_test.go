package bench

import (
	"strings"
	"testing"
)

// TestTableWidthWithWideFigures: the table stays within 100 columns with the widest figures a loaded
// machine gives (a test run met a 101-column row of 64 producers with p99 in tens of milliseconds).
func TestTableWidthWithWideFigures(t *testing.T) {
	ratio, one := 17.52, 123.45
	lat := &Latency{P50: 123456, P99: 9876543}
	rep := &Report{Results: []Result{
		{Workload: WorkloadAppendConcurrent, System: SystemMQLog, Size: 1024, Batch: 256, Producers: 64,
			Sync: "interval", MsgsPerSec: 12345678, Latency: lat, RatioRaw: &ratio, RatioPrealloc: &ratio,
			RatioOneProducer: &one, RatioIdeal: &ratio},
		{Workload: WorkloadAppendConcurrent, System: SystemRawPrealloc, Size: 1024, Batch: 256, Producers: 64,
			Sync: "fdatasync", MsgsPerSec: 12345678, Latency: lat},
	}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, b.String(), 100)
}
