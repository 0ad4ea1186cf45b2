package wal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// openMappedLog opens a log on the real filesystem (the in-memory one has no descriptor to map).
func openMappedLog(t *testing.T, dir string, idx *memIndex, segmentBytes int64, policy MmapPolicy) *Log {
	t.Helper()
	l, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx, SegmentBytes: segmentBytes,
		IndexIntervalBytes: 256, Mmap: policy})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// bigValue is record i's value: 600 bytes, so that a few records fill a page.
func bigValue(i int) []byte {
	v := bytes.Repeat([]byte{byte('a' + i%26)}, 600)
	copy(v, value(i))
	return v
}

// fillDiskLog appends n records of one each, over segments of segmentBytes.
func fillDiskLog(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append([]segment.Record{{Value: bigValue(i), Timestamp: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// readAllChecked reads the whole log with r, checking every record, and returns how many it read.
func readAllChecked(t *testing.T, r *Reader) int {
	t.Helper()
	n := 0
	for ; ; n++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		if rec.Offset != int64(n) || !bytes.Equal(rec.Value, bigValue(n)) {
			t.Fatalf("record %d: offset %d, value %.12q", n, rec.Offset, rec.Value)
		}
	}
}

// Every segment of a log open for writing is read through a mapping, the sealed ones whole and the active
// one up to its readable end (mapped at the most it can grow to), under MmapAll; MmapOff maps nothing,
// nor does MmapViews for Next, nor a read-only log; all read the same records.
func TestMmapSegments(t *testing.T) {
	for _, policy := range []MmapPolicy{MmapAll, MmapOff, MmapViews} {
		noMmap := policy != MmapAll
		dir := filepath.Join(t.TempDir(), "p")
		l := openMappedLog(t, dir, &memIndex{}, 16<<10, policy)
		fillDiskLog(t, l, 200)
		for _, copyRecords := range []bool{false, true} {
			r, err := l.NewReader(0, copyRecords)
			if err != nil {
				t.Fatal(err)
			}
			if n := readAllChecked(t, r); n != 200 {
				t.Fatalf("read %d records", n)
			}
			r.Close()
		}
		l.segs.RLock()
		list := l.segs.list
		l.segs.RUnlock()
		if len(list) < 3 {
			t.Fatalf("%d segments", len(list))
		}
		for i, s := range list {
			if mapped := s.mm.Load() != nil; mapped == noMmap {
				t.Errorf("%v: segment %d (sealed %v) mapped %v", policy, i, s.closed.Load(), mapped)
			}
		}
		active := list[len(list)-1]
		if m := active.mm.Load(); !noMmap && (m == nil || int64(len(m.data)) < l.segmentBytes.Load()) {
			t.Errorf("the active segment is not mapped at its full span")
		}
		// More records, read through the active segment's mapping as they come.
		r, _ := l.NewReader(0, false)
		for i := 200; i < 210; i++ {
			if _, err := l.Append([]segment.Record{{Value: bigValue(i), Timestamp: int64(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if n := readAllChecked(t, r); n != 210 {
			t.Fatalf("read %d records after the appends", n)
		}
		r.Close()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for i, s := range list {
			if s.mm.Load() != nil {
				t.Errorf("segment %d still mapped after Close", i)
			}
		}
		ro, err := OpenReadOnly(Options{FS: vfs.Default, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		r, _ = ro.NewReader(0, false)
		if n := readAllChecked(t, r); n != 210 {
			t.Fatalf("read-only: read %d records", n)
		}
		for i, s := range ro.segs.list {
			if s.mm.Load() != nil {
				t.Errorf("read-only: segment %d mapped", i)
			}
		}
		ro.Close()
	}
}

// AppendFrames gives NextBatch's frames from every offset when the sealed segments are mapped.
func TestMmapAppendFramesMatchesNextBatch(t *testing.T) {
	l := openMappedLog(t, filepath.Join(t.TempDir(), "p"), &memIndex{}, 4096, MmapAll)
	defer l.Close()
	next := 0
	for i := 0; i < 60; i++ {
		n := 1 + i%9
		if _, err := l.AppendFrame(clientFrame(t, n, next), FrameHooks{}); err != nil {
			t.Fatal(err)
		}
		next += n
	}
	appendFramesFromEveryOffset(t, l, l.HighWatermark())
	if l.segs.list[0].mm.Load() == nil {
		t.Fatal("the first segment was not mapped")
	}
}

// A damaged byte in a mapped sealed segment is a *segment.CorruptionError naming the file and the frame's
// byte, from Next, NextBatch and AppendFrames: the CRC is checked on every read from a mapping.
func TestMmapDamageReported(t *testing.T) {
	dir, idx := filepath.Join(t.TempDir(), "p"), &memIndex{}
	l := openMappedLog(t, dir, idx, 16<<10, MmapAll)
	fillDiskLog(t, l, 100)
	segs := l.Segments()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The fourth frame of the second segment: its position is three frames in.
	seg := segs[1]
	frameSize := seg.Size / (seg.NextOffset - seg.BaseOffset)
	at := 3*frameSize + frameSize/2
	data, err := os.ReadFile(seg.Path)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 0x40
	if err := os.WriteFile(seg.Path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l = openMappedLog(t, dir, idx, 16<<10, MmapAll) // (a clean close: recovery reads nothing)
	defer l.Close()
	check := func(what string, err error) {
		t.Helper()
		var ce *segment.CorruptionError
		if !errors.As(err, &ce) || ce.Path != seg.Path || ce.Offset != 3*frameSize {
			t.Fatalf("%s: %v, want a *segment.CorruptionError at byte %d of %s", what, err, 3*frameSize, seg.Path)
		}
	}
	r, _ := l.NewReader(0, false)
	var err2 error
	for {
		rec, err := r.Next()
		if err != nil {
			err2 = err
			break
		}
		if rec.Offset >= seg.BaseOffset+3 {
			t.Fatalf("damaged record %d returned as data", rec.Offset)
		}
	}
	check("Next", err2)
	if l.segs.list[1].mm.Load() == nil {
		t.Fatal("the damaged segment was not read through its mapping")
	}
	r, _ = l.NewReader(seg.BaseOffset+3, false)
	_, err = r.NextBatch()
	check("NextBatch", err)
	r, _ = l.NewReader(seg.BaseOffset, false)
	got, err := r.AppendFrames(nil, 1<<20)
	check("AppendFrames", err)
	if int64(len(got)) != 3*frameSize {
		t.Fatalf("AppendFrames: %d bytes before the damage, want %d", len(got), 3*frameSize)
	}
	r, _ = l.NewReader(seg.BaseOffset, false)
	view, release, err := r.ViewFrames(1 << 20)
	if err != nil || int64(len(view)) != 3*frameSize {
		t.Fatalf("ViewFrames: %d bytes before the damage (%v), want %d", len(view), err, 3*frameSize)
	}
	release()
	_, _, err = r.ViewFrames(1 << 20)
	check("ViewFrames", err)
}

// A sealed segment truncated under a Reader that holds it (os.Truncate, as another process could) makes
// the next read an error naming the file and byte, not a crash (SIGBUS recovered).
func TestMmapTruncatedUnderReader(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	l := openMappedLog(t, dir, &memIndex{}, 64<<10, MmapAll)
	defer l.Close()
	fillDiskLog(t, l, 300)
	first := l.Segments()[0]
	whole, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []string{"Next", "NextBatch", "AppendFrames"} {
		if err := os.WriteFile(first.Path, whole, 0o644); err != nil { // (whole again, for each API)
			t.Fatal(err)
		}
		r, err := l.NewReader(0, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if !r.mapped || r.pin == nil || r.pin.seg != l.segs.list[0] {
			t.Fatal("the reader does not hold the first segment's mapping")
		}
		if err := os.Truncate(first.Path, 0); err != nil {
			t.Fatal(err)
		}
		switch api {
		case "Next":
			for err == nil {
				_, err = r.Next()
			}
		case "NextBatch":
			r.batch, r.i = r.batch[:0], 0
			_, err = r.NextBatch()
		case "AppendFrames":
			_, err = r.AppendFrames(nil, 1<<20)
		}
		var ce *segment.CorruptionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrFileChanged) || ce.Path != first.Path || ce.Offset <= 0 {
			t.Fatalf("%s after the truncation: %v, want a *segment.CorruptionError wrapping ErrFileChanged in %s", api, err, first.Path)
		}
		r.Close()
	}
}

// Segments deleted by retention while a Reader holds records from their mapping stay readable until the
// Reader releases them, and are unmapped then.
func TestMmapRetiredSegmentStaysMapped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	l := openMappedLog(t, dir, &memIndex{}, 16<<10, MmapAll)
	defer l.Close()
	fillDiskLog(t, l, 200)
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	held := rec.Value
	seg := l.segs.list[0]
	res, err := l.DeleteSegments(Retention{ConsumedBefore: l.Segments()[2].BaseOffset})
	if err != nil || res.Segments != 2 {
		t.Fatalf("retention: %+v, %v", res, err)
	}
	if _, err := os.Stat(seg.path); !os.IsNotExist(err) {
		t.Fatalf("segment file still there: %v", err)
	}
	runtime.GC() // (the reader is live: its cleanup must not run)
	if !bytes.Equal(held, bigValue(0)) || seg.mm.Load() == nil {
		t.Fatal("a record held from a deleted segment changed, or its mapping went")
	}
	r.Close()
	if seg.mm.Load() != nil || seg.fh.Load() != nil {
		t.Fatal("the deleted segment is still mapped or open after its reader let go")
	}
	runtime.KeepAlive(r)

	// A Reader dropped without Close lets go when it is collected.
	r, _ = l.NewReader(l.StartOffset(), false)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	seg = l.segs.list[0]
	if _, err := l.DeleteSegments(Retention{ConsumedBefore: l.Segments()[1].BaseOffset}); err != nil {
		t.Fatal(err)
	}
	r = nil
	for i := 0; i < 20 && seg.mm.Load() != nil; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if seg.mm.Load() != nil {
		t.Fatal("a dropped reader's segment is still mapped after GC")
	}
}

// TruncateFrom cuts a sealed segment in place: records a reader still holds from the cut part read as
// zeros afterwards instead of faulting the caller (cutMapping).
func TestMmapTruncateFromKeepsHeldRecordsSafe(t *testing.T) {
	// (Without preallocation, so that the cut file holds no zeros past the cut of its own.)
	l, err := Open(Options{FS: vfs.Default, Dir: filepath.Join(t.TempDir(), "p"), Index: &memIndex{},
		SegmentBytes: 64 << 10, IndexIntervalBytes: 256, NoPreallocate: true, Mmap: MmapAll})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fillDiskLog(t, l, 300)
	first := l.Segments()[0]
	if first.Active {
		t.Fatal("the first segment is not sealed")
	}
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	// Hold a record far into the first segment (pages past the cut), read through its mapping.
	var held []byte
	cut := int64(2)
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset == first.NextOffset-2 {
			held = rec.Value
			break
		}
	}
	if !r.mapped {
		t.Fatal("the first segment was not read through its mapping")
	}
	if err := l.TruncateFrom(cut); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(first.Path); err != nil || info.Size() >= first.Size/4 {
		t.Fatalf("segment after the cut: %v, %v", info, err)
	}
	sum := 0
	for _, b := range held { // would be SIGBUS without cutMapping
		sum += int(b)
	}
	if sum != 0 {
		t.Fatalf("a held record past the cut reads %d, want zeros", sum)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) && err != nil {
		var ce *segment.CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("read after the cut: %v", err)
		}
	}
	r.Close()
}

// ViewFrames gives, from every offset, a prefix of what AppendFrames gives (the frames of one segment),
// as a view of the mapping; the reader goes on after it; a view outlives the deletion of its segment
// until it is released.
func TestMmapViewFrames(t *testing.T) {
	l := openMappedLog(t, filepath.Join(t.TempDir(), "p"), &memIndex{}, 4096, MmapViews)
	defer l.Close()
	next := 0
	for i := 0; i < 60; i++ {
		n := 1 + i%9
		if _, err := l.AppendFrame(clientFrame(t, n, next), FrameHooks{}); err != nil {
			t.Fatal(err)
		}
		next += n
	}
	hw := l.HighWatermark()
	for from := int64(0); from < hw; from++ {
		for _, maxBytes := range []int{1, 300, 1000, 5000, 1 << 20} {
			want := framesByNextBatch(t, l, from, maxBytes)
			r, _ := l.NewReader(from, false)
			view, release, err := r.ViewFrames(maxBytes)
			if err != nil || release == nil || len(view) == 0 || !bytes.HasPrefix(want, view) {
				t.Fatalf("from %d max %d: %d bytes (%v), want a prefix of %d", from, maxBytes, len(view), err, len(want))
			}
			seg, _ := l.segmentFor(from)
			if _, ok := offsetIn(seg.mm.Load().data, view); !ok {
				t.Fatalf("from %d: the view is not in the segment's mapping", from)
			}
			last := int64(-1)
			for rest := view; len(rest) > 0; {
				h, err := segment.ParseHeader(rest)
				if err != nil {
					t.Fatal(err)
				}
				last, rest = h.LastOffset(), rest[h.FrameSize():]
			}
			if b, err := r.NextBatch(); last+1 < hw && (err != nil || b.Header.BaseOffset != last+1) {
				t.Fatalf("from %d max %d: next batch at %d (%v), want %d", from, maxBytes, b.Header.BaseOffset, err, last+1)
			}
			release()
			release() // (a second call does nothing)
			r.Close()
		}
	}
	r, _ := l.NewReader(hw, false)
	if _, _, err := r.ViewFrames(1 << 20); !errors.Is(err, io.EOF) {
		t.Fatalf("at the high watermark: %v", err)
	}

	// A view held across the deletion of its segment.
	r, _ = l.NewReader(0, false)
	view, release, err := r.ViewFrames(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	keep := bytes.Clone(view)
	seg := l.segs.list[0]
	if _, err := l.DeleteSegments(Retention{ConsumedBefore: l.Segments()[1].BaseOffset}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(view, keep) || seg.mm.Load() == nil {
		t.Fatal("a view changed or went with its deleted segment")
	}
	release()
	if seg.mm.Load() != nil {
		t.Fatal("a deleted segment still mapped after its view was released")
	}
}

// With MmapOff, ViewFrames gives nothing and leaves the reader where it was.
func TestMmapViewFramesOff(t *testing.T) {
	l := openMappedLog(t, filepath.Join(t.TempDir(), "p"), &memIndex{}, 4096, MmapOff)
	defer l.Close()
	fillDiskLog(t, l, 50)
	r, _ := l.NewReader(3, false)
	if view, release, err := r.ViewFrames(1 << 20); view != nil || release != nil || err != nil || r.Offset() != 3 {
		t.Fatalf("MmapOff: %d bytes, %v, reader at %d", len(view), err, r.Offset())
	}
}
