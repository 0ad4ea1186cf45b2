package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// tinyConfig runs every workload end to end, a few dozen messages each.
func tinyConfig(t *testing.T) Config {
	return Config{
		Preset:          "test",
		BaseDir:         t.TempDir(),
		Rounds:          2,
		Sizes:           []int{100},
		Batches:         []int{1, 16},
		Producers:       4,
		Limits:          Limits{Messages: 64, Duration: 200 * time.Millisecond},
		ConsumeSize:     1024,
		ConsumeMessages: 300,
	}
}

func TestRunEndToEnd(t *testing.T) {
	cfg := tinyConfig(t)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 append cases x 3 systems, 1 concurrent case x 5 variants (the last the ideal, raw-prealloc at
	// batch 4), 1 consume case x 2 systems.
	if len(rep.Results) != 13 {
		t.Fatalf("%d results, want 13", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.MsgsPerSec <= 0 || r.MBPerSec <= 0 || r.Messages <= 0 || r.Rounds != 2 {
			t.Errorf("%s %s batch %d: empty figures %+v", r.Workload, r.System, r.Batch, r)
		}
		isMQLog := r.System == SystemMQLog
		if (r.RatioRaw != nil) != isMQLog {
			t.Errorf("%s %s: ratio to raw present = %v", r.Workload, r.System, r.RatioRaw != nil)
		}
		if r.Workload != WorkloadConsume && r.Latency == nil {
			t.Errorf("%s %s: no latency", r.Workload, r.System)
		}
		if r.Workload == WorkloadAppendConcurrent && r.Producers > 1 && (r.RatioOneProducer == nil || r.RatioIdeal == nil) {
			t.Errorf("concurrent: no ratio to one producer or to the ideal")
		}
		if r.Workload == WorkloadAppendConcurrent && r.System == SystemRawPrealloc && r.Batch == cfg.Producers && r.Producers != 1 {
			t.Errorf("the ideal row has %d producers, want 1", r.Producers)
		}
		if r.Workload == WorkloadConsume && r.Messages != cfg.ConsumeMessages {
			t.Errorf("consume %s read %d messages, want %d", r.System, r.Messages, cfg.ConsumeMessages)
		}
	}
	var table, wide bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"append-concurrent", "raw-prealloc", "consume", "p99 µs", "vs pre", "×"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	checkWidth(t, table.String(), 100)
	if err := rep.WriteWideTable(&wide); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99.9 µs", "vs prealloc", "msgs/fsync", "RSS MiB"} {
		if !strings.Contains(wide.String(), want) {
			t.Errorf("wide table lacks %q:\n%s", want, wide.String())
		}
	}
}

// checkWidth fails the test when a line of text is wider than width columns.
func checkWidth(t *testing.T, text string, width int) {
	t.Helper()
	for line := range strings.Lines(text) {
		if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > width {
			t.Errorf("a line of %d columns, want at most %d:\n%s", n, width, line)
		}
	}
}

func TestRunSelectsWorkloads(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Rounds, cfg.Workloads = 1, []string{WorkloadAppendConcurrent, WorkloadConsume}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Workload != WorkloadAppendConcurrent && r.Workload != WorkloadConsume {
			t.Errorf("a %s result, not selected", r.Workload)
		}
	}
	if len(rep.Results) != 5+2 {
		t.Errorf("%d results, want 5 concurrent and 2 consume", len(rep.Results))
	}
	cfg.Workloads = []string{"apend"}
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "apend") {
		t.Errorf("an unknown workload: %v", err)
	}
}

func TestRunRemovesItsDirectories(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Rounds, cfg.Batches, cfg.Producers, cfg.Limits.Messages = 1, []int{16}, 0, 32
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	left, err := listDir(cfg.BaseDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left behind in the base directory: %v", left)
	}
}

func TestReportJSONHasVersion(t *testing.T) {
	rep := &Report{Version: ReportVersion, Machine: machineInfo(t.TempDir()), Results: []Result{{Workload: WorkloadAppend, System: SystemMQLog}}}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != float64(1) {
		t.Errorf(`"version" = %v, want 1`, doc["version"])
	}
	m, _ := doc["machine"].(map[string]any)
	if m["goos"] == "" || m["cpus"] == nil || m["go_version"] == nil {
		t.Errorf("machine info missing: %v", m)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, tinyConfig(t)); err == nil {
		t.Error("a cancelled run did not fail")
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{Quick(), Full()} {
		if err := c.Check(); err != nil {
			t.Errorf("%s: %v", c.Preset, err)
		}
	}
	bad := Quick()
	bad.Batches = []int{0}
	if bad.Check() == nil {
		t.Error("batch size 0 accepted")
	}
}

func listDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
