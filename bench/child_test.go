package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// childEnv makes this test binary serve one spec as a child process (see TestMain).
const childEnv = "MQLOG_BENCH_TEST_CHILD"

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

func testChild(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// TestRunNewWorkloads runs cold consume, end-to-end, commits, the compaction hook and extra sync
// policies, every run in a child process of its own.
func TestRunNewWorkloads(t *testing.T) {
	cfg := Config{
		Preset: "test", BaseDir: t.TempDir(), Rounds: 1,
		Sizes: []int{100}, Batches: []int{4},
		Limits:      Limits{Messages: 64, Duration: 200 * time.Millisecond},
		ConsumeSize: 512, ConsumeMessages: 300, ConsumeCold: true,
		SyncPolicies: []mqlog.SyncPolicy{mqlog.SyncAlways, mqlog.SyncNever},
		EndToEnd:     true, Committers: []int{1, 4}, Compaction: true,
		Child: testChild,
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rep.Results {
		got[r.Workload]++
		what := r.Workload + " " + string(r.System) + " " + r.Sync
		if r.MsgsPerSec <= 0 || r.PeakRSSMiB <= 0 {
			t.Errorf("%s: %.0f msgs/s, peak RSS %.1f MiB", what, r.MsgsPerSec, r.PeakRSSMiB)
		}
		if strings.HasPrefix(r.Workload, WorkloadConsume) && (r.DiskPerPayload < 1 || r.FileBytesPerPayload < 1) {
			t.Errorf("%s: disk bytes per payload byte %.2f, files %.2f; want at least 1", what, r.DiskPerPayload, r.FileBytesPerPayload)
		}
		if (r.Workload == WorkloadEndToEnd || r.Workload == WorkloadCommit) && (r.Latency == nil || r.Latency.Count == 0) {
			t.Errorf("%s: no latency", what)
		}
		if r.Workload == WorkloadCommit && r.Producers == 4 && r.RatioOneProducer == nil {
			t.Errorf("commit: no ratio of 4 committers to 1")
		}
	}
	want := map[string]int{WorkloadAppend: 4, WorkloadConsume: 2, WorkloadConsumeCold: 2, WorkloadEndToEnd: 2, WorkloadCommit: 2, WorkloadCompaction: 1}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%d %s results, want %d", got[w], w, n)
		}
	}
	var table, js bytes.Buffer
	if err := rep.WriteWideTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"consume-cold", "end-to-end", "commit", "compaction", "RSS MiB", "never"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config  map[string]any   `json:"config"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Config["child_processes"] != true || doc.Config["consume_cold"] != true {
		t.Errorf("config summary: %v", doc.Config)
	}
}

func TestEndToEndNeedsTimestampRoom(t *testing.T) {
	_, err := EndToEndMQLog(context.Background(), AppendConfig{BaseDir: t.TempDir(), Size: 4, Batch: 1, Producers: 1, Limits: Limits{Messages: 1}})
	if err == nil {
		t.Error("an end-to-end run with 4-byte messages was accepted")
	}
}

func TestServeChildBadSpec(t *testing.T) {
	if err := ServeChild(context.Background(), strings.NewReader("{not json"), &bytes.Buffer{}); err == nil {
		t.Error("a bad spec was accepted")
	}
}

// TestEndToEndAndCommitInProcess runs the concurrent workloads in this process, for the race detector.
func TestEndToEndAndCommitInProcess(t *testing.T) {
	m, err := EndToEndMQLog(context.Background(), AppendConfig{BaseDir: t.TempDir(), Size: 64, Batch: 4, Producers: 1, Limits: Limits{Messages: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Messages != 200 || m.Latency.TotalCount() != 200 {
		t.Errorf("end-to-end: %d messages produced, %d latencies recorded; want 200", m.Messages, m.Latency.TotalCount())
	}
	m, err = CommitMQLog(context.Background(), CommitConfig{BaseDir: t.TempDir(), Committers: 4, Limits: Limits{Messages: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Messages != 100 {
		t.Errorf("commit: %d commits, want 100", m.Messages)
	}
}

func TestRunRecovery(t *testing.T) {
	cfg := RecoveryConfig{
		BaseDir: t.TempDir(), LogBytes: []int64{256 << 10}, MessageSize: 1024,
		Modes: []string{RecoveryClean, RecoveryKill}, Child: testChild,
	}
	rep, err := RunRecovery(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		// A SIGKILL leaves what was written in the page cache: nothing is lost in either mode.
		if r.Messages != 256 || r.Recovered != 256 || r.OpenColdMS <= 0 || r.OpenWarmMS <= 0 || r.DiskPerPayload < 1 {
			t.Errorf("%s: %+v", r.Mode, r)
		}
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "open cold ms") || !strings.Contains(b.String(), "kill") {
		t.Errorf("recovery table:\n%s", b.String())
	}
}
