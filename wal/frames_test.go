package wal

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// framesByNextBatch is what AppendFrames must give: NextBatch's frames from offset from, the first whole,
// the others while the total stays within maxBytes.
func framesByNextBatch(t *testing.T, l *Log, from int64, maxBytes int) []byte {
	t.Helper()
	r, err := l.NewReader(from, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for len(out) < maxBytes {
		b, err := r.NextBatch()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 && len(out)+len(b.Frame) > maxBytes {
			break
		}
		out = append(out, b.Frame...)
	}
	return out
}

// TestAppendFramesMatchesNextBatch reads a log of batches of varied sizes over several segments with
// AppendFrames from every offset and with limits small and large, and checks the bytes against NextBatch's
// and the reader's position after it.
func TestAppendFramesMatchesNextBatch(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 4096)
	defer l.Close()
	next := 0
	for i := 0; i < 60; i++ {
		n := 1 + i%9
		if _, err := l.AppendFrame(clientFrame(t, n, next), FrameHooks{}); err != nil {
			t.Fatal(err)
		}
		next += n
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("%d segments", len(l.Segments()))
	}
	hw := l.HighWatermark()
	for _, chunk := range []int{bulkChunk, 700, 100} { // 100: every frame larger than a chunk
		defer func(c int) { bulkChunk = c }(bulkChunk)
		bulkChunk = chunk
		appendFramesFromEveryOffset(t, l, hw)
	}
}

func appendFramesFromEveryOffset(t *testing.T, l *Log, hw int64) {
	for from := int64(0); from <= hw; from++ {
		for _, maxBytes := range []int{1, 300, 1000, 5000, 1 << 20} {
			want := framesByNextBatch(t, l, from, maxBytes)
			r, err := l.NewReader(from, false)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("kept")
			got, err := r.AppendFrames(append(make([]byte, 0, 16), prefix...), maxBytes)
			if from == hw {
				if !errors.Is(err, io.EOF) || len(got) != len(prefix) {
					t.Fatalf("at the high watermark: %d bytes, %v", len(got), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("from %d max %d: %v", from, maxBytes, err)
			}
			if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("from %d max %d: %d bytes, NextBatch gives %d", from, maxBytes, len(got)-len(prefix), len(want))
			}
			// The reader goes on after the last frame appended.
			last := int64(-1)
			for rest := want; len(rest) > 0; {
				h, err := segment.ParseHeader(rest)
				if err != nil {
					t.Fatal(err)
				}
				last, rest = h.LastOffset(), rest[h.FrameSize():]
			}
			b, err := r.NextBatch()
			switch {
			case last+1 == hw && !errors.Is(err, io.EOF):
				t.Fatalf("from %d max %d: after the last frame: %v", from, maxBytes, err)
			case last+1 < hw && (err != nil || b.Header.BaseOffset != last+1):
				t.Fatalf("from %d max %d: next batch at %d (%v), want %d", from, maxBytes, b.Header.BaseOffset, err, last+1)
			}
		}
	}
}

// TestAppendFramesReportsDamage: a damaged frame after good ones in the same segment is not taken by the
// bulk read; the frames before it are returned with the *segment.CorruptionError that NextBatch gives.
func TestAppendFramesReportsDamage(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	var ends []int64 // byte position after each frame
	pos := int64(0)
	for i := 0; i < 10; i++ {
		frame := clientFrame(t, 3, 3*i)
		if _, err := l.AppendFrame(frame, FrameHooks{}); err != nil {
			t.Fatal(err)
		}
		pos += int64(len(frame))
		ends = append(ends, pos)
	}
	path := l.Segments()[0].Path
	flipMem(t, fs, path, ends[5]+40) // inside the seventh frame (offsets 18..20)
	for _, maxBytes := range []int{1 << 20, int(ends[7])} {
		r, err := l.NewReader(0, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.AppendFrames(nil, maxBytes)
		var ce *segment.CorruptionError
		if !errors.As(err, &ce) || ce.Path != path || ce.Offset != ends[5] {
			t.Fatalf("max %d: err %v, want a *CorruptionError at byte %d of %s", maxBytes, err, ends[5], path)
		}
		if int64(len(got)) != ends[5] {
			t.Fatalf("max %d: %d bytes before the damage, want %d", maxBytes, len(got), ends[5])
		}
	}
}
