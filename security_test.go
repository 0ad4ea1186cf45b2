package mqlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// lockHelperEnv makes the re-executed test binary try to open the directory for writing and report what
// happened on stdout: "locked", "opened", or the error.
const lockHelperEnv = "MQLOG_LOCK_HELPER_DIR"

func lockHelper(dir string) int {
	db, err := Open(dir, nil)
	switch {
	case errors.Is(err, ErrLocked):
		os.Stdout.WriteString("locked\n")
	case err != nil:
		os.Stdout.WriteString("error: " + err.Error() + "\n")
	default:
		db.Close()
		os.Stdout.WriteString("opened\n")
	}
	return 0
}

func openInChild(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lock helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestLockAcrossProcesses is TESTING.md item 8 across processes: while this process holds the directory,
// another process gets ErrLocked at once; after Close it can open it.
func TestLockAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := openInChild(t, dir); got != "locked" {
		t.Fatalf("second writer in a child process: %s, want locked", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openInChild(t, dir); got != "opened" {
		t.Fatalf("writer in a child process after Close: %s, want opened", got)
	}
}

// TestFilesNotWorldWritable: even under umask 0, nothing the engine creates (segments, Pebble's files, the
// lock, directories) is writable by others.
func TestFilesNotWorldWritable(t *testing.T) {
	old := syscall.Umask(0)
	dir := filepath.Join(t.TempDir(), "data")
	db, err := Open(dir, nil)
	if err == nil {
		if err = db.CreateTopic("t", TopicConfig{SegmentBytes: 4096, Partitions: 2}); err == nil {
			appendValues(t, db, 0, 200)
			var c *Consumer
			if c, err = db.Consumer("t", "g"); err == nil {
				if rec, nerr := c.Next(context.Background()); nerr == nil {
					err = c.Commit(rec)
				}
			}
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	var files int
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		if info.Mode().Perm()&0o002 != 0 {
			t.Errorf("%s has mode %v: writable by others", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("walked only %d entries", files)
	}
}

// TestReadOnlyNeverWrites: OpenReadOnly, reads, refreshes and Close perform no write operation of any kind
// (no create, rename, remove, write, sync or lock), on a directory a writer left open (not cleanly
// closed), and they do not create a missing directory.
func TestReadOnlyNeverWrites(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db, err := Open(crashDir, &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 50)
	img := mem.CrashClone(vfs.CrashCloneCfg{}) // as a reader would find it while the writer runs
	db.Close()

	var writes []string
	fs := errorfs.Wrap(img, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			writes = append(writes, fmt.Sprintf("op kind %d on %s", op.Kind, op.Path))
		}
		return nil
	}))
	ro, err := OpenReadOnly(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, ro, "t", 0)
	if len(recs) != 50 {
		t.Fatalf("read-only read %d records, want 50", len(recs))
	}
	if _, err := ro.Partitions("t"); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Append(context.Background(), "t", Message{Value: []byte("x")}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append on a read-only DB: %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if len(writes) > 0 {
		t.Fatalf("the read-only opener wrote: %v", writes)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := OpenReadOnly(missing, nil); err == nil {
		t.Fatal("OpenReadOnly of a missing directory succeeded")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly created %s: %v", missing, err)
	}
}

// TestReadOnlyLeavesRealDirectoryUnchanged: on the operating system's filesystem, a read-only pass over a
// directory that a writer holds changes no file's name, size, mode or modification time.
func TestReadOnlyLeavesRealDirectoryUnchanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 2048}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 100)
	// The writer's index may still be writing after the last append returned (Pebble's log writer writes
	// the unsynced batches of sparse index entries from a goroutine of its own): wait until it is done, two
	// looks 100 ms apart alike, so that only the read-only pass can change the directory from here (before
	// this wait the test failed once in seven runs of make test's -race line on a loaded machine:
	// index/000006.log grew by the writer's 65 bytes).
	before := snapshotDir(t, dir)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		now := snapshotDir(t, dir)
		if now == before {
			break
		}
		before = now
	}
	ro, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, ro, "t", 0)); n != 100 {
		t.Fatalf("read-only read %d records, want 100", n)
	}
	ro.Close()
	if after := snapshotDir(t, dir); after != before {
		t.Fatalf("the directory changed under a read-only pass:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !d.IsDir() {
			fmt.Fprintf(&b, "%s %v %d %v\n", path, info.Mode(), info.Size(), info.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
