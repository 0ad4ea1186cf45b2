package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mqlog/mqlog/bench"
)

// tinyConfig runs every workload end to end on a few systems, a few dozen messages each.
func tinyConfig(t *testing.T, names ...string) Config {
	sel, err := SelectSystems(names)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Preset: "test", BaseDir: t.TempDir(), Rounds: 2, Systems: sel,
		Sizes: []int{100}, Batches: []int{1, 8}, Producers: 3,
		Limits:      bench.Limits{Messages: 48, Duration: 200 * time.Millisecond},
		ConsumeSize: 512, ConsumeMessages: 300,
	}
}

func TestRunReport(t *testing.T) {
	cfg := tinyConfig(t, NameMQLog, NameRawPrealloc, NameBbolt)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 append cases, 1 concurrent, 2 consume; 4 systems each.
	if len(rep.Results) != 5*4 {
		t.Fatalf("%d results, want 20", len(rep.Results))
	}
	for _, r := range rep.Results {
		what := r.Workload + " " + r.System
		if r.MsgsPerSec <= 0 || r.Messages <= 0 || r.Rounds != 2 || len(r.RoundMsgsPerSec) != 2 {
			t.Errorf("%s: empty figures %+v", what, r)
		}
		if (r.RatioRaw == nil) != (r.System == NameRaw) {
			t.Errorf("%s: ratio to raw present = %v", what, r.RatioRaw != nil)
		}
		if (r.MQLogOver == nil) != (r.System == NameMQLog) {
			t.Errorf("%s: mqlog ratio present = %v", what, r.MQLogOver != nil)
		}
		consume := strings.HasPrefix(r.Workload, "consume")
		if consume != (r.Latency == nil) {
			t.Errorf("%s: latency present = %v", what, r.Latency != nil)
		}
		if consume && (r.DiskPerPayload < 1 || r.FileBytesPerPayload < 1) {
			t.Errorf("%s: disk bytes per payload byte %.2f (files %.2f), want at least 1", what, r.DiskPerPayload, r.FileBytesPerPayload)
		}
		if consume && r.Messages != cfg.ConsumeMessages {
			t.Errorf("%s: read %d messages, want %d", what, r.Messages, cfg.ConsumeMessages)
		}
	}

	var table, wide bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"append-concurrent", "consume-cold", "raw-prealloc", "bbolt", "p99 µs", "mqlog ×"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	for line := range strings.Lines(table.String()) {
		if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > 100 {
			t.Errorf("a table line of %d columns, want at most 100:\n%s", n, line)
		}
	}
	if err := rep.WriteWideTable(&wide); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99.9 µs", "vs prealloc", "RSS MiB"} {
		if !strings.Contains(wide.String(), want) {
			t.Errorf("wide table lacks %q:\n%s", want, wide.String())
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) != 2+5 || !strings.Contains(lines[0], "| mqlog | raw-prealloc | bbolt |") {
		t.Errorf("markdown table of %d lines, want 7 with a column per system:\n%s", len(lines), md.String())
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int `json:"version"`
		Systems []struct {
			Name, Durability string
		} `json:"systems"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != ReportVersion || len(doc.Systems) != 4 || len(doc.Results) != 20 {
		t.Errorf("JSON: version %d, %d systems, %d results", doc.Version, len(doc.Systems), len(doc.Results))
	}
	for _, key := range []string{"workload", "system", "msgs_per_sec", "mb_per_sec", "round_msgs_per_sec", "latency", "ratio_raw"} {
		if _, ok := doc.Results[0][key]; !ok {
			t.Errorf("JSON result lacks %q: %v", key, doc.Results[0])
		}
	}

	dir := t.TempDir()
	charts, err := rep.WriteCharts(dir)
	if err != nil {
		t.Fatal(err)
	}
	// One throughput chart per size, one latency chart per append case.
	if len(charts) != 1+2 {
		t.Errorf("charts %v, want 3", charts)
	}
	for _, name := range charts {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("mqlog")) {
			t.Errorf("%s is not an SVG chart with a mqlog line", name)
		}
	}
	left, _ := os.ReadDir(cfg.BaseDir)
	if len(left) > 0 {
		t.Errorf("%d entries left behind in the base directory", len(left))
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick()} {
		if err := c.Check(); err != nil {
			t.Errorf("%s: %v", c.Preset, err)
		}
	}
	bad := Default()
	bad.Systems = bad.Systems[:1] // mqlog without raw
	if bad.Check() == nil {
		t.Error("a config without the raw baseline was accepted")
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, tinyConfig(t, NameMQLog)); err == nil {
		t.Error("a cancelled run did not fail")
	}
}

func TestDropPageCache(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte{1}, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := bench.DropPageCache(dir); err != nil {
		t.Fatal(err)
	}
	alloc, size, err := bench.DiskUsage(dir)
	if err != nil || size != 1<<16 || alloc < size {
		t.Errorf("diskUsage = %d allocated, %d size, %v; want at least 65536 of 65536", alloc, size, err)
	}
}

// TestChartsOfAReportWithoutAppends checks that a run of the consume workloads only writes no chart
// (an empty logarithmic axis cannot be drawn) rather than fail.
func TestChartsOfAReportWithoutAppends(t *testing.T) {
	cfg := tinyConfig(t, NameMQLog)
	cfg.Rounds, cfg.Workloads = 1, []string{WorkloadConsumeWarm}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Errorf("%d results, want 2 (consume-warm on mqlog and raw)", len(rep.Results))
	}
	charts, err := rep.WriteCharts(t.TempDir())
	if err != nil || len(charts) != 0 {
		t.Errorf("charts %v, %v; want none", charts, err)
	}
}

func TestReadReport(t *testing.T) {
	rep := &Report{Version: ReportVersion, Results: []Result{{Workload: WorkloadAppend, System: NameMQLog, MsgsPerSec: 5}}}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(&b)
	if err != nil || len(got.Results) != 1 || got.Results[0].MsgsPerSec != 5 {
		t.Errorf("ReadReport = %+v, %v", got, err)
	}
	if _, err := ReadReport(strings.NewReader(`{"version": 99}`)); err == nil {
		t.Error("a report of another version was read")
	}
}

// TestChartsOfOnePoint checks charts whose axes span a single value (one batch size, one sample).
func TestChartsOfOnePoint(t *testing.T) {
	cfg := tinyConfig(t, NameMQLog)
	cfg.Rounds, cfg.Batches, cfg.Workloads, cfg.Limits = 1, []int{1}, []string{WorkloadAppend}, bench.Limits{Messages: 1}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	charts, err := rep.WriteCharts(t.TempDir())
	if err != nil || len(charts) != 2 {
		t.Errorf("charts %v, %v; want a throughput and a latency chart", charts, err)
	}
}

// childEnv makes this test binary serve one spec as a child process (see TestMain).
const childEnv = "MQLOG_PEERS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunInChildProcesses runs every workload on two systems, each run in a child process, and checks
// that the figures and the peak RSS come back.
func TestRunInChildProcesses(t *testing.T) {
	cfg := tinyConfig(t, NameMQLog, NameTidwallWAL)
	cfg.Rounds, cfg.Batches = 1, []int{4}
	cfg.Child = func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), childEnv+"=1")
		return cmd
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4*3 {
		t.Fatalf("%d results, want 12", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.MsgsPerSec <= 0 || r.PeakRSSMiB <= 0 {
			t.Errorf("%s %s: %.0f msgs/s, peak RSS %.1f MiB", r.Workload, r.System, r.MsgsPerSec, r.PeakRSSMiB)
		}
		if r.Workload == WorkloadAppend && (r.Latency == nil || r.Latency.Count == 0) {
			t.Errorf("%s %s: the latency histogram did not come back from the child", r.Workload, r.System)
		}
	}
	var table bytes.Buffer
	if err := rep.WriteWideTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "RSS MiB") {
		t.Errorf("table lacks the RSS column:\n%s", table.String())
	}
}
