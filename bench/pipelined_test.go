package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// With InFlight, every append case gets a pipelined mqlog row beside the serial one and the baselines,
// measured in the same rounds, with its ratios, its fsyncs counted and its name in both tables.
func TestRunPipelinedRow(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.InFlight = 2
	cfg.Workloads = []string{WorkloadAppend}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 append cases x (mqlog, raw, raw-prealloc, mqlog async 2).
	if len(rep.Results) != 8 {
		t.Fatalf("%d results, want 8", len(rep.Results))
	}
	pipelined := 0
	for _, r := range rep.Results {
		if r.InFlight == 0 {
			continue
		}
		pipelined++
		if r.InFlight != 2 || r.System != SystemMQLog || r.RatioRaw == nil || r.RatioPrealloc == nil ||
			r.MsgsPerSec <= 0 || r.MsgsPerSync <= 0 || r.Latency == nil || r.Messages != cfg.Limits.Messages {
			t.Errorf("pipelined row batch %d: %+v", r.Batch, r)
		}
	}
	if pipelined != 2 {
		t.Fatalf("%d pipelined rows, want 2", pipelined)
	}
	var table, wide bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteWideTable(&wide); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{table.String(), wide.String()} {
		if !strings.Contains(out, "mqlog async 2") {
			t.Errorf("table lacks the pipelined row:\n%s", out)
		}
	}
	checkWidth(t, table.String(), 100)
}

func TestPipelinedTakesOneProducer(t *testing.T) {
	_, err := AppendMQLog(context.Background(), AppendConfig{BaseDir: t.TempDir(), Size: 10, Batch: 1, Producers: 2, InFlight: 2})
	if err == nil {
		t.Fatal("pipelined appends with 2 producers: no error")
	}
}
