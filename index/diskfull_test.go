package index

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// storeWithLog creates a store in dir of fs holding unsynced entries, so that the next Open replays its
// write-ahead log and must flush it.
func storeWithLog(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	s, err := Open(dir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for i := range 200 {
		es = append(es, Entry{Offset: int64(i), Position: int64(i) * 100, Timestamp: int64(i)})
	}
	if err := s.AddEntries("t", 0, es); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLogState("t", 0, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// openWithin runs Open and fails the test if it has not returned after d (it used to wait forever).
func openWithin(t *testing.T, d time.Duration, dir string, opts Options) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		s, err := Open(dir, opts)
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Open of %s on a full disk has not returned after %v", dir, d)
		return nil
	}
}

// TestOpenOnFullDisk is issue 11 item 4 on a real filesystem: a store whose log must be flushed at open,
// on a tmpfs with no space left. Open used to wait in pebble.Open for ever (its flush is retried at once,
// without end); it returns an error wrapping ENOSPC.
func TestOpenOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	dir := filepath.Join(mnt, "index")
	storeWithLog(t, vfs.Default, dir)
	fill, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	fill.Close()
	err = openWithin(t, 20*time.Second, dir, Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open on a full disk: %v; want ENOSPC", err)
	}
	// With space again, it opens.
	os.Remove(filepath.Join(mnt, "fill"))
	if err := openWithin(t, 20*time.Second, dir, Options{}); err != nil {
		t.Fatalf("Open after space was freed: %v", err)
	}
}

// fullFS fails every write with ENOSPC while full is set, yet reports free space (the disk filled after the
// check, by another process).
type fullFS struct {
	vfs.FS
	full *atomic.Bool
}

func (fs fullFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.full.Load() && strings.HasSuffix(name, ".sst") {
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.ENOSPC}
	}
	return fs.FS.Create(name, c)
}

func (fs fullFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	return vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30}, nil
}

// TestOpenWhenDiskFillsDuringOpen: the space check passed, then the flush of the replayed log meets ENOSPC.
// Open returns it instead of waiting for ever.
func TestOpenWhenDiskFillsDuringOpen(t *testing.T) {
	mem := vfs.NewMem()
	storeWithLog(t, mem, "/index")
	var full atomic.Bool
	full.Store(true)
	err := openWithin(t, 20*time.Second, "/index", Options{FS: fullFS{FS: mem, full: &full}})
	full.Store(false) // (the abandoned open may finish now, and closes itself)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open: %v; want ENOSPC", err)
	}
}
