package mqlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/segment"
)

// TestRepairCrash takes a crash image before every write operation of Repair, with only synced data and
// with half the unsynced blocks, and checks that a second Repair on each image finishes the job: Open
// accepts the directory and the log is every record but the damaged one. It also runs Verify and
// Repair on a filesystem without file descriptors (trimming by copy, as the crash tests' one has none).
//
// With unsynced data the images are taken only before writes outside the index directory (segments,
// lost+found). An image taken inside Pebble's own open of an existing store can be one Pebble refuses to
// open ("could not open manifest file MANIFEST-000006 ... file does not exist"): a probe that took such
// images during a plain mqlog.Open of an existing directory found 1 of 31 of them so (probably a CURRENT
// rename kept while the new manifest's unsynced directory entry was dropped; not investigated further).
// That concerns every Open, not Repair's own steps; with only synced data every operation is covered.
func TestRepairCrash(t *testing.T) {
	for _, unsynced := range []int{0, 50} {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			seed := testSeed(t)
			rng := rand.New(rand.NewPCG(seed, uint64(unsynced)))
			mem, kept := damagedMemLog(t)
			indexDir := mem.PathJoin(crashDir, IndexDirName)
			var mu sync.Mutex
			var images []*vfs.MemFS
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && (unsynced == 0 || !strings.HasPrefix(op.Path, indexDir)) {
					mu.Lock()
					cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced}
					if unsynced > 0 {
						cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
					}
					images = append(images, mem.CrashClone(cfg))
					mu.Unlock()
				}
				return nil
			}))
			if _, err := Repair(crashDir, &RepairOptions{FS: fs, Execute: true}); err != nil {
				t.Fatal(err)
			}
			images = append(images, mem.CrashClone(vfs.CrashCloneCfg{}))
			t.Logf("%d crash images", len(images))
			for i, img := range images {
				if _, err := Repair(crashDir, &RepairOptions{FS: img, Execute: true}); err != nil {
					t.Fatalf("image %d: second repair: %v", i, err)
				}
				rep, err := Verify(crashDir, &VerifyOptions{FS: img})
				if err != nil || rep.Corrupt() {
					t.Fatalf("image %d: verify after the second repair: %v %v", i, err, rep.Problems)
				}
				db, err := Open(crashDir, &Options{FS: img})
				if err != nil {
					t.Fatalf("image %d: open: %v", i, err)
				}
				recs := readAll(t, db, "t", 0)
				if int64(len(recs)) != kept {
					t.Errorf("image %d: %d records, want %d", i, len(recs), kept)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// damagedMemLog builds a log of 40 messages in 512-byte segments on a crashable in-memory filesystem and
// flips a byte in the second batch of its third segment. It returns the filesystem and the number of
// records a repair keeps: all but the one in the damaged batch.
func damagedMemLog(t *testing.T) (*vfs.MemFS, int64) {
	t.Helper()
	mem := vfs.NewCrashableMem()
	db, err := Open(crashDir, &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(i)}); err != nil {
			t.Fatal(err)
		}
	}
	parts, err := db.Partitions("t")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	seg := parts[0].Segments[2].Path
	f, err := mem.OpenReadWrite(seg, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	var second segment.BatchHeader
	var secondPos int64 = -1
	_, err = segment.Scan(f, 0, info.Size(), segment.ScanOptions{NextOffset: -1, MinEpoch: -1 << 31}, func(pos int64, h segment.BatchHeader) error {
		if secondPos < 0 && pos > 0 {
			second, secondPos = h, pos
		}
		return nil
	})
	if err != nil || secondPos < 0 {
		t.Fatalf("scan %s: %v", seg, err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, secondPos+62); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, secondPos+62); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return mem, 40 - int64(second.NumRecords)
}
