package wal

import (
	"bytes"
	"os"
	"path/filepath"
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
