package mqlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// maintenanceImage is a filesystem image taken just before one write operation of a retention or
// compaction run.
type maintenanceImage struct {
	op int
	fs *vfs.MemFS
}

// crashDuringMaintenance builds a topic with setup (every Append acknowledged, SyncAlways), then runs one
// DB.Compact over it and takes a crash image before each of its write operations (TESTING.md items 1 and
// 10). It returns the images and the partition's segment bases and records before and after the run.
func crashDuringMaintenance(t *testing.T, cfg TopicConfig, setup func(db *DB), unsyncedPercent int, rng *rand.Rand) (images []maintenanceImage, before, after logImage) {
	mem := vfs.NewCrashableMem()
	var capturing atomic.Bool
	var mu sync.Mutex
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !capturing.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		c := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent}
		if unsyncedPercent > 0 {
			c.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
		}
		images = append(images, maintenanceImage{op: len(images) + 1, fs: mem.CrashClone(c)})
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs, RetentionCheckInterval: -1, CompactionMapBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", cfg); err != nil {
		t.Fatal(err)
	}
	setup(db)
	before = snapshotLog(t, db)
	capturing.Store(true)
	if _, err := db.Compact(context.Background(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	capturing.Store(false)
	after = snapshotLog(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(before.bases, after.bases) && len(before.records) == len(after.records) {
		t.Fatal("the run changed nothing: the test would prove nothing")
	}
	return images, before, after
}

// logImage is partition 0 of topic "t" as read: its segment bases and its records.
type logImage struct {
	bases   []int64
	records []string // "offset key=value"
}

func snapshotLog(t *testing.T, db *DB) logImage {
	t.Helper()
	var img logImage
	parts, err := db.Partitions("t")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range parts[0].Segments {
		img.bases = append(img.bases, s.BaseOffset)
	}
	for rec, err := range db.Read("t", 0, parts[0].StartOffset) {
		if err != nil {
			t.Fatal(err)
		}
		v := "<tombstone>"
		if rec.Value != nil {
			v = string(rec.Value)
		}
		img.records = append(img.records, fmt.Sprintf("%d %s=%s", rec.Offset, rec.Key, v))
	}
	return img
}

// checkOldOrNew opens a crash image twice and checks that the partition is exactly the log before the run
// or exactly the log after it — segments and records, never a mix, never neither — and that no temporary
// or .cleaned file is left.
func checkOldOrNew(t *testing.T, img maintenanceImage, before, after logImage) {
	t.Helper()
	var first logImage
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("op %d: open after crash (round %d): %v", img.op, round, err)
		}
		got := snapshotLog(t, db)
		names, err := img.fs.List(img.fs.PathJoin(crashDir, TopicsDirName, "t-0"))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != len(got.bases) {
			t.Fatalf("op %d: files %v for segments %v", img.op, names, got.bases)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		isOld := slices.Equal(got.bases, before.bases) && slices.Equal(got.records, before.records)
		isNew := slices.Equal(got.bases, after.bases) && slices.Equal(got.records, after.records)
		if !isOld && !isNew {
			t.Fatalf("op %d: neither the old nor the new log:\nsegments %v (old %v, new %v)\nrecords %v\nold %v\nnew %v",
				img.op, got.bases, before.bases, after.bases, got.records, before.records, after.records)
		}
		if round == 0 {
			first = got
		} else if !slices.Equal(first.bases, got.bases) || !slices.Equal(first.records, got.records) {
			t.Fatalf("op %d: second open differs from the first", img.op)
		}
	}
}

func crashPercents() []int { return []int{0, 50} }

// TestCrashDuringCompaction: a crash at any write of a compaction leaves the old segments or the new ones.
// Since both hold every key's latest value (and the model test in wal checks the new one against "latest
// value per key"), no acknowledged latest value is lost.
func TestCrashDuringCompaction(t *testing.T) {
	for _, unsynced := range crashPercents() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)))
			old := time.UnixMilli(1_000_000)
			images, before, after := crashDuringMaintenance(t, TopicConfig{SegmentBytes: 512, CleanupPolicy: CleanupCompact, DeleteRetentionMs: 1, SegmentMs: noAgeRoll},
				func(db *DB) {
					for i := range 60 {
						m := Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i), Timestamp: old}
						if i%11 == 10 {
							m.Value = nil // a tombstone, long expired
						}
						if _, err := db.Append(context.Background(), "t", m); err != nil {
							t.Fatal(err)
						}
					}
				}, unsynced, rng)
			checkLatestPerKey(t, before, after)
			t.Logf("%d crash points; segments %v -> %v", len(images), before.bases, after.bases)
			for _, img := range sample(images) {
				checkOldOrNew(t, img, before, after)
			}
		})
	}
}

// TestCrashDuringRetention: a crash at any write of a retention delete leaves the log before or after it.
func TestCrashDuringRetention(t *testing.T) {
	for _, unsynced := range crashPercents() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+10))
			images, before, after := crashDuringMaintenance(t, TopicConfig{SegmentBytes: 512, RetentionBytes: 1500, SegmentMs: noAgeRoll},
				func(db *DB) { appendValues(t, db, 0, 60) }, unsynced, rng)
			t.Logf("%d crash points; segments %v -> %v", len(images), before.bases, after.bases)
			for _, img := range sample(images) {
				checkOldOrNew(t, img, before, after)
			}
		})
	}
}

// checkLatestPerKey checks that the compacted log holds, for every key, the latest value the old one had
// (an expired tombstone may be gone with its key).
func checkLatestPerKey(t *testing.T, before, after logImage) {
	t.Helper()
	latest := func(img logImage) map[string]string {
		m := map[string]string{}
		for _, r := range img.records {
			var off int64
			var kv string
			fmt.Sscanf(r, "%d %s", &off, &kv)
			k, v, _ := cutEq(kv)
			m[k] = v
		}
		return m
	}
	old, cur := latest(before), latest(after)
	for k, v := range old {
		if got, ok := cur[k]; (ok && got != v) || (!ok && v != "<tombstone>") {
			t.Fatalf("key %s: latest %q before compaction, %q (present %v) after", k, v, got, ok)
		}
	}
	if len(after.records) >= len(before.records) {
		t.Fatalf("compaction removed nothing: %d -> %d records", len(before.records), len(after.records))
	}
}

func cutEq(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// sample returns every image, or under -short about 40 of them spread over the run.
func sample(images []maintenanceImage) []maintenanceImage {
	if !testing.Short() || len(images) <= 40 {
		return images
	}
	var out []maintenanceImage
	step := float64(len(images)) / 40
	for i := 0.0; int(i) < len(images); i += step {
		out = append(out, images[int(i)])
	}
	return append(out, images[len(images)-1])
}
