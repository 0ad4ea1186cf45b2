package peers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog/bench"
)

// TestWritePartitionsChart draws the chart of two saved reports, one of which could not create its
// largest count, and checks that it is an SVG with both runs' names and the caption on the missing count.
func TestWritePartitionsChart(t *testing.T) {
	dir := t.TempDir()
	res := func(n int, failed bool) bench.PartitionsResult {
		r := bench.PartitionsResult{Partitions: n, Created: n, CreateMS: float64(n), OpenMS: 1 + float64(n)/10,
			RSSAfterBytes: 24<<20 + int64(n)<<14, FDsAfter: 20 + 2*n, GoroutinesAfter: 10 + n,
			ReservedOpenBytes: int64(n) << 26, ReservedCreatedBytes: int64(n) << 26}
		if failed {
			r.Created, r.CreateError, r.OpenMS = n/4, "no space left on device", 0
		}
		return r
	}
	for name, failLast := range map[string]bool{"partitions-before": true, "partitions-after": false} {
		rep := &bench.PartitionsReport{Version: bench.ReportVersion, Started: time.Now(), Segment: 64 << 20,
			Results: []bench.PartitionsResult{res(1, false), res(100, false), res(1000, failLast)}}
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var runs []PartitionsRun
	for _, name := range []string{"partitions-before", "partitions-after"} {
		run, err := ReadPartitionsRun(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	path := filepath.Join(dir, "partitions.svg")
	if err := WritePartitionsChart(path, runs); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "partitions-before", "partitions-after", "1000 not created", "goroutines"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if _, err := ReadPartitionsRun(filepath.Join(dir, "partitions.svg")); err == nil {
		t.Error("an SVG file was read as a partitions report")
	}
}
