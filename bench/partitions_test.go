package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestRunPartitions creates, closes and opens topics of 1 and 40 partitions in child processes, and checks
// that every figure is there and grows with the count.
func TestRunPartitions(t *testing.T) {
	cfg := PartitionsConfig{BaseDir: t.TempDir(), Counts: []int{1, 40}, SegmentBytes: 1 << 20,
		HotAppend: 20 * time.Millisecond, Child: testChild}
	rep, err := RunPartitions(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Created != r.Partitions || r.CreateError != "" || r.OpenError != "" {
			t.Errorf("%d partitions: created %d, errors %q %q", r.Partitions, r.Created, r.CreateError, r.OpenError)
		}
		if r.CreateMS <= 0 || r.OpenMS <= 0 || r.RSSAfterBytes <= 0 || r.FDsAfter <= r.FDsBefore ||
			r.GoroutinesAfter <= r.GoroutinesBefore || r.HotAppendMsgsPerSec <= 0 || r.PeakRSSBytes <= 0 {
			t.Errorf("%d partitions: figures missing: %+v", r.Partitions, r)
		}
		// An idle partition reserves nothing (preallocation starts at the first write, in steps of
		// wal.PreallocStep): far less than a segment each, whatever the count.
		if r.Partitions > 1 && r.ReservedOpenBytes >= int64(r.Partitions)*cfg.SegmentBytes {
			t.Errorf("%d partitions: %d bytes reserved open, %d after creation", r.Partitions, r.ReservedOpenBytes, r.ReservedCreatedBytes)
		}
	}
	// Idle partitions hold no descriptor and no goroutine: 40 cost no more of them than 1.
	if one, many := rep.Results[0], rep.Results[1]; many.FDsAfter-one.FDsAfter > 4 || many.GoroutinesAfter-one.GoroutinesAfter > 4 {
		t.Errorf("fds or goroutines grow with idle partitions: 1: %+v, 40: %+v", one, many)
	}
	if left, err := listDir(cfg.BaseDir); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v, %v", left, err)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"create ms", "open ms", "goroutines", "reserved MiB", "RSS KiB/p", "hot msgs/s"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	checkWidth(t, table.String(), 100)
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc PartitionsReport
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Version != ReportVersion || len(doc.Results) != 2 {
		t.Errorf("JSON: %v, %+v", err, doc)
	}
}

// TestRunPartitionsOverBudget gives the run a disk budget that a topic of 30 partitions passes: the
// creation stops with ErrDiskBudget's message naming the partition it reached, topic creation being all
// or nothing leaves no partition directory, nothing is opened and nothing is left behind. (Partitions
// preallocate nothing until written, so the test's free space counts 1 MiB per segment file created.)
func TestRunPartitionsOverBudget(t *testing.T) {
	cfg := PartitionsConfig{BaseDir: t.TempDir(), Counts: []int{30}, SegmentBytes: 4 << 20, DiskBudget: 10 << 20}
	// The free space of a shared disk moves with what others write: count only what this test allocates.
	defer func(f func(string) (int64, error)) { freeSpace = f }(freeSpace)
	freeSpace = func(string) (int64, error) {
		allocated, _, err := DiskUsage(cfg.BaseDir)
		segments, _ := filepath.Glob(filepath.Join(cfg.BaseDir, "*", "topics", "*", "*.log"))
		return 1<<40 - allocated - int64(len(segments))<<20, err
	}
	rep, err := RunPartitions(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if !strings.Contains(r.CreateError, ErrDiskBudget.Error()) || !strings.Contains(r.CreateError, "partition") || r.Created != 0 || r.OpenMS != 0 {
		t.Errorf("over budget: %+v", r)
	}
	if left, err := listDir(cfg.BaseDir); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v, %v", left, err)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "creation stopped") {
		t.Errorf("table has no note on the failed creation:\n%s", table.String())
	}
}

func TestBudgetFS(t *testing.T) {
	dir := t.TempDir()
	fs := newBudgetFS(dir, 1<<62) // more free space than any disk has: every create refused
	if _, err := fs.Create(dir+"/x", vfs.WriteCategoryUnspecified); !errors.Is(err, ErrDiskBudget) {
		t.Errorf("create under the floor: %v", err)
	}
	fs = newBudgetFS(dir, 0)
	f, err := fs.Create(dir+"/x", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fs.peakDrop() < 0 {
		t.Error("negative drop of free space")
	}
}

func TestWrap(t *testing.T) {
	got := Wrap("aaa bbb ccc dddddddddd e", 7)
	if want := "aaa bbb\nccc\ndddddddddd\ne\n"; got != want {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
}

// TestRunPartitionsChildFails runs the partitions run with a child command that fails at once: each count
// is a row with the error, not a failed run.
func TestRunPartitionsChildFails(t *testing.T) {
	failing := func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "false") }
	rep, err := RunPartitions(context.Background(), PartitionsConfig{BaseDir: t.TempDir(), Counts: []int{1, 2}, Child: failing})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.CreateError == "" || r.OpenMS != 0 {
			t.Errorf("%d partitions: %+v, want the child's failure as the creation's error", r.Partitions, r)
		}
	}
}
