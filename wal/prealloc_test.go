package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
	"golang.org/x/sys/unix"
)

func openDiskLog(t *testing.T, dir string, idx *memIndex, segmentBytes int64) *Log {
	t.Helper()
	l, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx, SegmentBytes: segmentBytes})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func activeSize(t *testing.T, l *Log) int64 {
	t.Helper()
	segs := l.Segments()
	st, err := os.Stat(segs[len(segs)-1].Path)
	if os.IsNotExist(err) {
		return 0 // a new partition has no file until its first write
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// An idle partition reserves nothing; its first write preallocates one step, and each step used up
// doubles the next, up to SegmentBytes.
func TestPreallocationSteps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	idx := &memIndex{}
	l := openDiskLog(t, dir, idx, 8<<20)
	if got := activeSize(t, l); got != 0 {
		t.Fatalf("an idle partition's segment is %d bytes, want 0", got)
	}
	if _, err := l.Append([]segment.Record{{Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got := activeSize(t, l); got != PreallocStep {
		t.Fatalf("after one append the segment is %d bytes, want %d", got, PreallocStep)
	}
	big := bytes.Repeat([]byte("v"), 64<<10)
	var n int64 = 1
	for activeSize(t, l) < 3*PreallocStep && n < 100 {
		if _, err := l.Append([]segment.Record{{Value: big}}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if got := activeSize(t, l); got != 3*PreallocStep { // 1 MiB, then a step of 2 MiB
		t.Fatalf("segment of %d bytes after the first step was used up, want %d", got, 3*PreallocStep)
	}
	if m := l.Metrics(); m.Preallocations != 2 || m.PreallocFailures != 0 {
		t.Fatalf("metrics %+v", m)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openDiskLog(t, dir, idx, 8<<20)
	defer l.Close()
	if got, want := activeSize(t, l), l.Segments()[0].Size; got != want {
		t.Fatalf("reopened idle segment is %d bytes, want its written %d (nothing preallocated)", got, want)
	}
	readAll(t, l, n)
}

// Preallocation never fails an Open, a write or a roll: with fallocate failing (ENOSPC), the log opens,
// appends, rolls and reopens, and counts the failures.
func TestPreallocationFailureFallsBack(t *testing.T) {
	defer func(f func(vfs.File, int64) error) { fallocate = f }(fallocate)
	fallocate = func(vfs.File, int64) error { return unix.ENOSPC }
	dir := filepath.Join(t.TempDir(), "p")
	idx := &memIndex{}
	l := openDiskLog(t, dir, idx, 4096)
	const n = 200
	for i := range n {
		if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	m := l.Metrics()
	if m.Rolls == 0 || m.PreallocFailures != m.Rolls+1 || m.Preallocations != 0 {
		t.Fatalf("metrics %+v: want one failure per segment", m)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openDiskLog(t, dir, idx, 4096)
	defer l.Close()
	readAll(t, l, n)
}

// Idle logs hold no descriptor, no goroutine and no disk space; the first append or read of one opens
// what it needs, and the others stay idle.
func TestIdleLogsHoldNothing(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	fds := func() int {
		names, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(names)
	}
	root := t.TempDir()
	const n = 50
	idx := make([]*memIndex, n)
	for i := range n { // a first life: every log written once, then closed
		idx[i] = &memIndex{}
		l := openDiskLog(t, filepath.Join(root, fmt.Sprint(i)), idx[i], 1<<20)
		if i%2 == 0 {
			if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fd0, g0 := fds(), runtime.NumGoroutine()
	logs := make([]*Log, n)
	for i := range n {
		logs[i] = openDiskLog(t, filepath.Join(root, fmt.Sprint(i)), idx[i], 1<<20)
	}
	defer func() {
		for _, l := range logs {
			l.Close()
		}
	}()
	if fd, g := fds(), runtime.NumGoroutine(); fd != fd0 || g != g0 {
		t.Fatalf("%d idle logs: %d more descriptors, %d more goroutines", n, fd-fd0, g-g0)
	}
	if _, err := logs[1].Append([]segment.Record{{Value: []byte("hot")}}); err != nil {
		t.Fatal(err)
	}
	readAll(t, logs[2], 1)       // (a read of another opens its read handle only)
	if fd := fds(); fd-fd0 > 3 { // the hot log's write and read handles, the read log's read handle
		t.Fatalf("one hot log and one read: %d more descriptors", fd-fd0)
	}
}
