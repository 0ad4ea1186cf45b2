package mqlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"golang.org/x/sys/unix"
)

// TestVerifyKnowsPendingRecovery is issue 11 item 6: Verify right after a crash during compaction or
// retention used to report damage that the next Open completes by design (a ".cleaned" file called
// unexpected; "truncated batch: closed segment is 7393 bytes, recorded 482" for a swap committed but not
// finished). Every state a crash image of those runs leaves is pending recovery: Verify finds no problem
// (its notes say what the next Open does), and after that Open it is clean, without notes of recovery.
func TestVerifyKnowsPendingRecovery(t *testing.T) {
	for _, unsynced := range crashPercents() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+40))
			old := time.UnixMilli(1_000_000)
			images, _, _ := crashDuringMaintenance(t, TopicConfig{SegmentBytes: 512, CleanupPolicy: CleanupCompact, DeleteRetentionMs: 1, SegmentMs: noAgeRoll},
				func(db *DB) {
					for i := range 60 {
						m := Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i), Timestamp: old}
						if _, err := db.Append(context.Background(), "t", m); err != nil {
							t.Fatal(err)
						}
					}
				}, unsynced, rng)
			pending, swaps := 0, 0
			for _, img := range images {
				rep, err := Verify(crashDir, &VerifyOptions{FS: img.fs})
				if err != nil {
					t.Fatalf("op %d: %v", img.op, err)
				}
				if rep.Corrupt() {
					t.Fatalf("op %d: Verify reports %v for a state the next Open recovers (notes %v)", img.op, rep.Problems, rep.Notes)
				}
				for _, n := range rep.Notes {
					if strings.Contains(n, "committed but not finished") {
						swaps++
					}
				}
				for _, n := range rep.Notes {
					if strings.Contains(n, "next open") {
						pending++
						break
					}
				}
				db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
				if err != nil {
					t.Fatalf("op %d: open: %v", img.op, err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if rep, err := Verify(crashDir, &VerifyOptions{FS: img.fs}); err != nil || rep.Corrupt() {
					t.Fatalf("op %d: after Open: %v %v", img.op, err, rep.Problems)
				}
			}
			if pending == 0 || swaps == 0 {
				t.Fatalf("%d images with recovery pending, %d with a committed swap: the test would prove little", pending, swaps)
			}
			t.Logf("%d crash points, %d with recovery pending (%d a committed swap not finished)", len(images), pending, swaps)
		})
	}
}

// TestVerifyEnvironmentErrors is issue 11 item 6: an index that cannot be read for a reason of the
// environment (permissions, an I/O error) is an error of the check (the CLI's exit 2), not damage (exit 1);
// and on a read-only filesystem (a mounted backup) the index is read all the same: Pebble's lock file,
// which cannot be created there, is not needed by a reader that holds the data directory's shared lock.
func TestVerifyEnvironmentErrors(t *testing.T) {
	fs, _ := badInputDB(t)
	denied := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.Contains(op.Path, "/"+IndexDirName+"/") && op.Kind == errorfs.OpOpen {
			return &os.PathError{Op: "open", Path: op.Path, Err: syscall.EACCES}
		}
		return nil
	}))
	rep, err := Verify(crashDir, &VerifyOptions{FS: denied})
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Verify with the index unreadable: %v, report %+v; want an error wrapping EACCES", err, rep)
	}

	if os.Geteuid() != 0 {
		t.Skip("needs root for a read-only bind mount")
	}
	src, mnt := t.TempDir(), t.TempDir()
	db, err := Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 10)
	db.Close()
	if err := unix.Mount(src, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("read-only remount: %v", err)
	}
	if _, err := os.Create(filepath.Join(mnt, "probe")); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("the mount is not read-only: %v", err)
	}
	rep, err = Verify(mnt, nil)
	if err != nil || rep.Corrupt() || !rep.StateChecked {
		t.Fatalf("Verify on a read-only mount: %v, problems %v, state checked %v", err, rep.Problems, rep.StateChecked)
	}
}
