package wal

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A retired segment's file stays open while a reader holds it, and closes when the last holder lets go.
func TestSegmentRefs(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/p", 0o755)
	f, _ := fs.Create("/p/x", vfs.WriteCategoryUnspecified)
	f.Write([]byte("data"))
	f.Close()
	s := &segmentFile{path: "/p/x", fs: fs}
	s.refs.Store(1)
	rf, err := s.handle()
	if err != nil {
		t.Fatal(err)
	}
	if !s.acquire() {
		t.Fatal("acquire of a live segment failed")
	}
	if err := s.retire(); err != nil || !s.retired.Load() {
		t.Fatalf("retire: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := rf.ReadAt(buf, 0); err != nil {
		t.Fatalf("read while held after retire: %v", err)
	}
	if err := s.release(); err != nil {
		t.Fatal(err)
	}
	if s.acquire() {
		t.Fatal("acquired a segment whose file is closed")
	}
	if err := s.retire(); err != nil {
		t.Fatalf("second retire: %v", err)
	}
}

// A reader in the middle of a segment that compaction replaces goes on, on the new segment, from where it
// was: after the batch it had already read, it returns exactly the surviving records.
func TestReaderAcrossSwap(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openCompactedLog(t, fs, idx, 2048)
	defer l.Close()
	m := newCompactModel()
	appendKeyed(t, l, m, rand.New(rand.NewPCG(9, 10)), 200, 30, 1000)
	r, err := l.NewReader(0, true)
	if err != nil {
		t.Fatal(err)
	}
	// Read 10 records, then the rest of the batch in the reader's buffer (a batch already read is
	// returned as it was read).
	var pos int64
	for i := 0; i < 10 || r.i < len(r.batch); i++ {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		pos = rec.Offset
	}
	if _, err := l.Compact(context.Background(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []int64
	all, _ := l.NewReader(0, true)
	for {
		rec, err := all.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset > pos {
			want = append(want, rec.Offset)
		}
	}
	for i := 0; ; i++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("reader ended after %d records, %d survive after %d", i, len(want), pos)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || rec.Offset != want[i] {
			t.Fatalf("record %d after the swap: offset %d, want %v", i, rec.Offset, want[min(i, len(want)-1)])
		}
	}
}
