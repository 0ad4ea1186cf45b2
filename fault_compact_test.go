package mqlog

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestFaultDuringCompaction fails the k-th write operation on segment files (create, write, sync, rename,
// remove, directory sync) of a compaction, for every k (TESTING.md item 6): Compact returns the error or
// the log stops (fail-stop) — never a silent half swap — and after reopening, the partition is exactly
// the log before or the log after the compaction, and takes new appends.
func TestFaultDuringCompaction(t *testing.T) {
	cfg := TopicConfig{SegmentBytes: 512, CleanupPolicy: CleanupCompact, DeleteRetentionMs: 1, SegmentMs: noAgeRoll}
	old := time.UnixMilli(1_000_000)
	setup := func(t *testing.T, db *DB) {
		for i := range 60 {
			m := Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i), Timestamp: old}
			if i%11 == 10 {
				m.Value = nil
			}
			if _, err := db.Append(context.Background(), "t", m); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(t *testing.T, failAt int64) (before, after logImage, fs *vfs.MemFS, failed bool) {
		mem := vfs.NewMem()
		var armed atomic.Bool
		var ops atomic.Int64
		injected := false
		wrapped := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || !strings.Contains(op.Path, "/"+TopicsDirName+"/") {
				return nil
			}
			if ops.Add(1) == failAt {
				injected = true
				return errorfs.ErrInjected
			}
			return nil
		}))
		db, err := Open(crashDir, &Options{FS: wrapped, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTopic("t", cfg); err != nil {
			t.Fatal(err)
		}
		setup(t, db)
		before = snapshotLog(t, db)
		armed.Store(true)
		_, cerr := db.Compact(context.Background(), CompactOptions{})
		armed.Store(false)
		if injected && cerr == nil {
			t.Fatalf("fail at write %d: Compact reported no error", failAt)
		}
		if !injected {
			after = snapshotLog(t, db)
		}
		db.Close() // may report the sticky error
		return before, after, mem, injected
	}
	before, after, _, _ := run(t, -1)
	for k := int64(1); ; k++ {
		_, _, mem, failed := run(t, k)
		if !failed {
			t.Logf("%d write operations, each failed once", k-1)
			break
		}
		db, err := Open(crashDir, &Options{FS: mem, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("fail at write %d: reopen: %v", k, err)
		}
		got := snapshotLog(t, db)
		isOld := fmt.Sprint(got.bases, got.records) == fmt.Sprint(before.bases, before.records)
		isNew := fmt.Sprint(got.bases, got.records) == fmt.Sprint(after.bases, after.records)
		if !isOld && !isNew {
			t.Fatalf("fail at write %d: neither old nor new: segments %v records %v", k, got.bases, got.records)
		}
		if _, err := db.Append(context.Background(), "t", Message{Key: []byte("k0"), Value: []byte("after")}); err != nil {
			t.Fatalf("fail at write %d: append after reopen: %v", k, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
