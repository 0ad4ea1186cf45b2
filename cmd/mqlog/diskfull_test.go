package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestProduceOnFullDisk is issue 11 item 4 from the command line: a 4 MiB tmpfs fills up while produce
// reads a file; the next produce used to wait in pebble.Open for ever (and ignore SIGTERM). It exits 1 with
// a clear ENOSPC error, and once space is freed the acknowledged lines are all there.
func TestProduceOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	dir := filepath.Join(mnt, "data")
	if code, _, stderr := runCLI(t, "", "--dir", dir, "topic", "create", "t", "--segment-bytes", "1048576"); code != exitOK {
		t.Fatalf("topic create: %d %s", code, stderr)
	}
	var lines strings.Builder
	for i := range 400000 {
		lines.WriteString(strings.Repeat("x", i%7) + "line\n")
	}
	code, acks, _ := runCLI(t, lines.String(), "--dir", dir, "produce", "--topic", "t")
	if code == exitOK {
		t.Fatal("produce of 400,000 lines fit in 4 MiB: the disk never filled")
	}
	acked := strings.Count(acks, "\n")
	// Whatever space is left, take it.
	if f, err := os.Create(filepath.Join(mnt, "fill")); err == nil {
		for {
			if _, err := f.Write(make([]byte, 4096)); err != nil {
				break
			}
		}
		f.Close()
	}
	done := make(chan struct{})
	var stderr string
	go func() {
		defer close(done)
		code, _, stderr = runCLI(t, "one more\n", "--dir", dir, "produce", "--topic", "t")
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("produce on a full disk has not returned after 30s")
	}
	if code != exitError || !strings.Contains(stderr, "no space left on device") {
		t.Fatalf("produce on a full disk: exit %d, stderr %q; want exit 1 and ENOSPC", code, stderr)
	}
	os.Remove(filepath.Join(mnt, "fill"))
	code, out, stderr := runCLI(t, "", "--dir", dir, "consume", "--topic", "t", "--format", "%o\n")
	if code != exitOK || strings.Count(out, "\n") < acked {
		t.Fatalf("consume after freeing space: exit %d, %d records, %d acknowledged; %s", code, strings.Count(out, "\n"), acked, stderr)
	}
}
