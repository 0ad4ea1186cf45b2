package mqlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRealENOSPC is TESTING.md item 7 on a real filesystem: a small tmpfs (mounted when the test runs as
// root; skipped otherwise) fills up while a producer appends. The Append that meets ENOSPC fails with
// ErrFailStop wrapping it, every later Append returns the same sticky error, and once space is freed a
// reopen finds every acknowledged message and the log takes appends again.
func TestRealENOSPC(t *testing.T) {
	mnt := mountTmpfs(t, "8m")
	dir := filepath.Join(mnt, "data")
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 256 << 10}); err != nil {
		t.Fatal(err)
	}
	// Take most of the remaining space with a file we can delete later.
	filler := filepath.Join(mnt, "filler")
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(filler, make([]byte, max(free-(1<<20), 0)), 0o600); err != nil {
		t.Fatal(err)
	}

	value := bytes.Repeat([]byte("n"), 2000)
	acked := 0
	var sticky error
	for i := 0; i < 4000; i++ {
		_, err := db.Append(context.Background(), "t", Message{Value: enospcValue(i, value)})
		if err == nil {
			if sticky != nil {
				t.Fatalf("append %d succeeded after the sticky error %v", i, sticky)
			}
			acked++
			continue
		}
		if !errors.Is(err, ErrFailStop) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append %d: %v, want ErrFailStop wrapping ENOSPC", i, err)
		}
		if sticky != nil && err.Error() != sticky.Error() {
			t.Fatalf("append %d: %v, want the sticky %v", i, err, sticky)
		}
		if sticky == nil {
			t.Logf("disk full after %d acknowledged appends: %v", acked, err)
		}
		sticky = err
		if i > acked+10 {
			break
		}
	}
	if sticky == nil {
		t.Fatal("the disk never filled up")
	}
	db.Close() // may fail: the disk is still full

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen with free space: %v", err)
	}
	defer db.Close()
	n := 0
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			t.Fatalf("read after reopen: %v", err)
		}
		if rec.Offset != int64(n) || !bytes.Equal(rec.Value, enospcValue(n, value)) {
			t.Fatalf("record %d is offset %d", n, rec.Offset)
		}
		n++
	}
	if n < acked || n > acked+1 {
		t.Fatalf("%d records after reopen, %d acknowledged", n, acked)
	}
	for i := n; i < n+200; i++ {
		if _, err := db.Append(context.Background(), "t", Message{Value: enospcValue(i, value)}); err != nil {
			t.Fatalf("append %d after space was freed: %v", i, err)
		}
	}
}

func enospcValue(i int, pad []byte) []byte {
	return append([]byte{byte(i), byte(i >> 8)}, pad...)
}

// mountTmpfs mounts a tmpfs of size (mount's size= option) on a temporary directory, unmounted when the
// test ends, and returns it; it skips the test where it cannot (not root, no mount allowed).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}
