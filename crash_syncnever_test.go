package mqlog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestCrashSyncNeverKeepsPrefix: a DB under SyncNever promises nothing of what a power cut takes,
// but what it keeps must be a prefix of what was appended, with no hole: a crash image at every write
// operation, with none, half or all of the unsynced writes kept (at random, a block at a time: the
// order a disk's writeback takes), opens without an error and holds the first n messages appended, for
// some n, then takes an append. This is what lets a replicated node's DB skip its fsync (package
// cluster: the start's cut back to the snapshot, and raft's replay, restore any tail the cut took).
func TestCrashSyncNeverKeepsPrefix(t *testing.T) {
	messages := 80
	switch {
	case torture():
		messages = 1000
	case testing.Short():
		messages = 30
	}
	for _, unsynced := range []int{0, 50, 100} {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)))
			mem := vfs.NewCrashableMem()
			var mu sync.Mutex
			var images []*vfs.MemFS
			var appended atomic.Int64
			var counts []int64
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced}
				if unsynced > 0 {
					cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
				}
				counts = append(counts, appended.Load())
				images = append(images, mem.CrashClone(cfg))
				return nil
			}))
			db, err := Open(crashDir, &Options{FS: fs, Sync: SyncNever})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1024}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range messages {
				if _, err := db.Append(ctx, "t", Message{Value: crashValue(i)}); err != nil {
					t.Fatal(err)
				}
				appended.Store(int64(i + 1))
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d crash points", len(images))
			for k, img := range images {
				db, err := Open(crashDir, &Options{FS: img, Sync: SyncNever})
				if err != nil {
					t.Fatalf("image %d (%d appended): open: %v", k, counts[k], err)
				}
				got := 0
				if _, err := db.TopicConfig("t"); err == nil {
					for rec, err := range db.Read("t", 0, 0) {
						if err != nil {
							t.Fatalf("image %d: read after %d records: %v", k, got, err)
						}
						if rec.Offset != int64(got) || !bytes.Equal(rec.Value, crashValue(got)) {
							t.Fatalf("image %d: record %d is offset %d value %q", k, got, rec.Offset, rec.Value)
						}
						got++
					}
					if int64(got) > counts[k]+1 {
						t.Fatalf("image %d: %d records, only %d appended (one more in flight)", k, got, counts[k])
					}
					if _, err := db.Append(ctx, "t", Message{Value: crashValue(got)}); err != nil {
						t.Fatalf("image %d: append after recovery: %v", k, err)
					}
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
