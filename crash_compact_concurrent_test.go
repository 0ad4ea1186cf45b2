package mqlog

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// ackedLatest is, per key, the offset and value of the latest record whose Append had returned.
type ackedLatest map[string]ackedRecord

type ackedRecord struct {
	offset int64
	value  []byte // nil: a tombstone
}

// concurrentImage is a crash image taken while producers appended and compaction ran, with what had been
// acknowledged at that instant.
type concurrentImage struct {
	op    int
	fs    *vfs.MemFS
	acked ackedLatest
}

// TestCrashDuringConcurrentCompaction crashes at write operations taken while two producers append keyed
// records (some of them expired tombstones) and compaction runs in a loop with a tiny key map (several
// passes, so several swaps per run). After every crash: the log reads back with strictly increasing
// offsets, each key's records in the order they were appended, no acknowledged latest value lost (an
// expired tombstone may be gone with its key), no leftover file, and a second open gives the same log.
func TestCrashDuringConcurrentCompaction(t *testing.T) {
	for _, unsynced := range crashPercents() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+20))
			images := concurrentCompactionWorkload(t, unsynced, rng)
			t.Logf("%d crash points", len(images))
			step := 1
			if testing.Short() && len(images) > 40 {
				step = len(images) / 40
			}
			for i := 0; i < len(images); i += step {
				checkConcurrentImage(t, images[i])
			}
			checkConcurrentImage(t, images[len(images)-1])
		})
	}
}

func concurrentCompactionWorkload(t *testing.T, unsyncedPercent int, rng *rand.Rand) []concurrentImage {
	mem := vfs.NewCrashableMem()
	var mu sync.Mutex // guards acked and images
	acked := ackedLatest{}
	var images []concurrentImage
	var capturing atomic.Bool
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
		images = append(images, concurrentImage{op: len(images) + 1, fs: mem.CrashClone(c), acked: maps.Clone(acked)})
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs, RetentionCheckInterval: -1, CompactionMapBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 400, CleanupPolicy: CleanupCompact, DeleteRetentionMs: 1, SegmentMs: noAgeRoll}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := time.UnixMilli(1_000_000)
	produce := func(p, n int) {
		for i := range n {
			key := fmt.Sprintf("k%d", (i*3+p)%24)
			m := Message{Key: []byte(key), Value: fmt.Appendf(nil, "%s|%d|%d", key, p, i), Timestamp: old}
			if i%9 == 8 {
				m.Value = nil
			}
			pos, err := db.Append(ctx, "t", m)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acked[key] = ackedRecord{offset: pos[0].Offset, value: m.Value}
			mu.Unlock()
		}
	}
	produce(0, 60) // a log to compact before the crash window
	capturing.Store(true)
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); produce(p+1, 40) }()
	}
	for range 3 {
		if _, err := db.Compact(ctx, CompactOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	capturing.Store(false)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return images
}

func checkConcurrentImage(t *testing.T, img concurrentImage) {
	t.Helper()
	var first []Record
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("op %d: open after crash (round %d): %v", img.op, round, err)
		}
		var recs []Record
		parts, err := db.Partitions("t")
		if err != nil {
			t.Fatal(err)
		}
		for rec, err := range db.Read("t", 0, parts[0].StartOffset) {
			if err != nil {
				t.Fatalf("op %d: read: %v", img.op, err)
			}
			recs = append(recs, rec)
		}
		names, err := img.fs.List(img.fs.PathJoin(crashDir, TopicsDirName, "t-0"))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != len(parts[0].Segments) {
			t.Fatalf("op %d: files %v for %d segments", img.op, names, len(parts[0].Segments))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			if len(recs) != len(first) {
				t.Fatalf("op %d: second open reads %d records, first %d", img.op, len(recs), len(first))
			}
			continue
		}
		first = recs
		last := map[string]Record{}
		lastSeq := map[string]int{} // per key and producer, the last sequence number seen
		prev := int64(-1)
		for _, r := range recs {
			if r.Offset <= prev {
				t.Fatalf("op %d: offset %d after %d", img.op, r.Offset, prev)
			}
			prev = r.Offset
			if r.Value != nil {
				f := bytes.Split(r.Value, []byte("|"))
				if len(f) != 3 || string(f[0]) != string(r.Key) {
					t.Fatalf("op %d: record %d: key %q value %q", img.op, r.Offset, r.Key, r.Value)
				}
				seq, _ := strconv.Atoi(string(f[2]))
				id := string(r.Key) + "|" + string(f[1])
				if s, ok := lastSeq[id]; ok && seq <= s {
					t.Fatalf("op %d: key %s producer %s: sequence %d after %d", img.op, r.Key, f[1], seq, s)
				}
				lastSeq[id] = seq
			}
			last[string(r.Key)] = r
		}
		for k, a := range img.acked {
			got, ok := last[k]
			switch {
			case ok && got.Offset < a.offset:
				t.Fatalf("op %d: key %s: latest record at %d, acknowledged one at %d lost", img.op, k, got.Offset, a.offset)
			case !ok && a.value != nil:
				t.Fatalf("op %d: key %s: acknowledged value at %d lost with its key", img.op, k, a.offset)
			case ok && got.Offset == a.offset && !bytes.Equal(got.Value, a.value):
				t.Fatalf("op %d: key %s at %d: %q, acknowledged %q", img.op, k, a.offset, got.Value, a.value)
			}
		}
	}
}
