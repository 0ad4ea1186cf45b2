package wal

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// storedFrame is a batch of n records at base offset base, as another copy of the log stores it.
func storedFrame(t *testing.T, base int64, n int) []byte {
	t.Helper()
	frame := clientFrame(t, n, int(base))
	segment.SetBaseOffset(frame, base)
	return frame
}

// TestAppendStoredKeepsOffsets: a Stored frame keeps its base offset; it may leave a gap only in a
// key-compacted log, and the gap survives a reopen (a compacted replica's snapshot installed on another
// node); below the next offset, or across a gap in a log that is not compacted, it is ErrStoredOffset.
func TestAppendStoredKeepsOffsets(t *testing.T) {
	fs := vfs.NewMem()
	for _, compacted := range []bool{false, true} {
		dir := "/plain"
		if compacted {
			dir = "/compacted"
		}
		idx := &memIndex{}
		open := func() *Log {
			l, err := Open(Options{FS: fs, Dir: dir, Index: idx, SegmentBytes: 4096, Compacted: compacted})
			if err != nil {
				t.Fatal(err)
			}
			l.SetCompacted(compacted)
			return l
		}
		l := open()
		if base, err := l.AppendFrame(storedFrame(t, 0, 3), FrameHooks{Stored: true}); err != nil || base != 0 {
			t.Fatalf("compacted=%v: stored batch at the next offset: base %d, %v", compacted, base, err)
		}
		if _, err := l.AppendFrame(storedFrame(t, 2, 3), FrameHooks{Stored: true}); !errors.Is(err, ErrStoredOffset) {
			t.Fatalf("compacted=%v: stored batch below the next offset: %v, want ErrStoredOffset", compacted, err)
		}
		_, err := l.AppendFrame(storedFrame(t, 10, 2), FrameHooks{Stored: true})
		if !compacted {
			if !errors.Is(err, ErrStoredOffset) {
				t.Fatalf("a gap in a log that is not compacted: %v, want ErrStoredOffset", err)
			}
			if hw := l.HighWatermark(); hw != 3 {
				t.Fatalf("high watermark %d after the refusal, want 3", hw)
			}
			l.Close()
			continue
		}
		if err != nil {
			t.Fatalf("a gap in a compacted log: %v", err)
		}
		if hw := l.HighWatermark(); hw != 12 {
			t.Fatalf("high watermark %d, want 12", hw)
		}
		if base, err := l.AppendFrame(clientFrame(t, 1, 99), FrameHooks{}); err != nil || base != 12 {
			t.Fatalf("an ordinary append after the gap: base %d, %v, want 12", base, err)
		}
		l.Close()
		l = open() // (crash-free reopen: the active segment's gap must pass recovery)
		var bases []int64
		r, err := l.NewReader(0, false)
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := r.NextBatch()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			bases = append(bases, b.Header.BaseOffset)
		}
		r.Close()
		if len(bases) != 3 || bases[0] != 0 || bases[1] != 10 || bases[2] != 12 || l.HighWatermark() != 13 {
			t.Fatalf("after reopen: batches at %v, high watermark %d; want [0 10 12] and 13", bases, l.HighWatermark())
		}
		l.Close()
	}
}
