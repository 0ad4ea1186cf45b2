package wal

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

func TestDeleteSegmentsBySizeAgeAndConsumption(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1024)
	for i := range 200 {
		if _, err := l.Append([]segment.Record{{Value: value(i), Timestamp: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	if len(segs) < 6 {
		t.Fatalf("%d segments", len(segs))
	}
	// A reader in the middle of the first segment.
	r, err := l.NewReader(1, false)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Next(); err != nil || rec.Offset != 1 {
		t.Fatalf("%v %v", rec, err)
	}

	// By consumption: everything below segs[2].NextOffset is consumed.
	res, err := l.DeleteSegments(Retention{ConsumedBefore: segs[2].NextOffset})
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments != 3 || res.StartOffset != segs[3].BaseOffset || l.StartOffset() != segs[3].BaseOffset {
		t.Fatalf("by consumption: %+v, start %d, segments %+v", res, l.StartOffset(), segs)
	}
	if _, err := r.Next(); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("reader below the new start: %v, want ErrOutOfRange", err)
	}
	if _, err := l.NewReader(0, false); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("new reader below the start: %v", err)
	}
	// By age: segments whose newest record is older than 'now - age'.
	res, err = l.DeleteSegments(Retention{MaxAge: time.Millisecond * 10, Now: time.UnixMilli(segs[3].MaxTimestamp + 10 + 1)})
	if err != nil || res.Segments != 1 {
		t.Fatalf("by age: %+v %v", res, err)
	}
	// By size: the log is cut to at least MaxBytes, whole segments, the active one kept.
	var total int64
	for _, s := range l.Segments() {
		total += s.Size
	}
	plan := l.PlanRetention(Retention{MaxBytes: 1})
	res, err = l.DeleteSegments(Retention{MaxBytes: 1})
	if err != nil || res != plan || len(l.Segments()) != 1 || res.Bytes+l.Segments()[0].Size != total {
		t.Fatalf("by size: %+v (plan %+v) %v, segments %+v", res, plan, err, l.Segments())
	}
	hw, start := l.HighWatermark(), l.StartOffset()
	if start != l.Segments()[0].BaseOffset {
		t.Fatalf("start %d", start)
	}
	if names, _ := fs.List("/p"); len(names) != 1 {
		t.Fatalf("files left: %v", names)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, fs, idx, 1024)
	defer l.Close()
	if l.StartOffset() != start || l.HighWatermark() != hw {
		t.Fatalf("reopen: [%d, %d), want [%d, %d)", l.StartOffset(), l.HighWatermark(), start, hw)
	}
	r, err = l.NewReader(start, false)
	if err != nil {
		t.Fatal(err)
	}
	for want := start; ; want++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if want != hw {
				t.Fatalf("EOF at %d", want)
			}
			break
		}
		if err != nil || rec.Offset != want {
			t.Fatalf("%v %v, want %d", rec, err, want)
		}
	}
}
