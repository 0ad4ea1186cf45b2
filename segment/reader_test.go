package segment

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// buildSegment returns n batches of k records each, contiguous offsets from base, epochs 1..n, and the
// byte position of each batch.
func buildSegment(t testing.TB, base int64, n, k int, codec Compression) (data []byte, positions []int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		positions = append(positions, int64(len(data)))
		data = mustAppend(t, data, sampleRecords(k), EncodeOptions{BaseOffset: base + int64(i*k), Epoch: int32(i + 1), Compression: codec})
	}
	return data, positions
}

// countingReaderAt counts ReadAt calls.
type countingReaderAt struct {
	r     io.ReaderAt
	calls int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	return c.r.ReadAt(p, off)
}

func TestReaderFromFile(t *testing.T) {
	data, positions := buildSegment(t, 0, 50, 3, CompressionNone)
	path := filepath.Join(t.TempDir(), FileName(0))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counting := &countingReaderAt{r: f}
	r := NewReader(counting, path, 0, int64(len(data)), Limits{})
	for i := 0; ; i++ {
		pos, b, err := r.Next()
		if err == io.EOF {
			if i != len(positions) || pos != int64(len(data)) {
				t.Fatalf("EOF after %d batches at %d", i, pos)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if pos != positions[i] || b.Header.BaseOffset != int64(3*i) || r.Pos() != pos+int64(len(b.Frame)) {
			t.Fatalf("batch %d at %d, base %d", i, pos, b.Header.BaseOffset)
		}
		records, err := b.Records(nil, false, Limits{})
		if err != nil || len(records) != 3 {
			t.Fatalf("records: %v %v", len(records), err)
		}
	}
	if counting.calls > 2 {
		t.Fatalf("%d ReadAt calls for %d bytes: not buffered", counting.calls, len(data))
	}
	// EOF again, and nothing moves.
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
}

// TestReaderLargeFramesOneReadEach: frames larger than readAhead are read with one ReadAt each, from
// the header on (the reader reads as much as the last frame held), not a readAhead-sized read for the
// header followed by a second one for the rest of the frame.
func TestReaderLargeFramesOneReadEach(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1000)
	var data []byte
	const n = 20
	for i := range n {
		records := make([]Record, 200) // about 200 KB per frame: three times readAhead
		for j := range records {
			records[j] = Record{Value: big, Timestamp: int64(i)}
		}
		data = mustAppend(t, data, records, EncodeOptions{BaseOffset: int64(i * 200)})
	}
	counting := &countingReaderAt{r: bytes.NewReader(data)}
	r := NewReader(counting, "large", 0, int64(len(data)), Limits{})
	for i := 0; ; i++ {
		_, b, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("EOF after %d batches, want %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Header.BaseOffset != int64(i*200) {
			t.Fatalf("batch %d has base %d", i, b.Header.BaseOffset)
		}
	}
	// The first frame takes two reads (readAhead for its header, then its rest); every later one, one.
	if counting.calls > n+1 {
		t.Fatalf("%d ReadAt calls for %d frames of %d bytes, want at most %d", counting.calls, n, len(data)/n, n+1)
	}
}

func TestReaderFromMiddleAndEnd(t *testing.T) {
	data, positions := buildSegment(t, 10, 10, 4, CompressionLZ4)
	r := NewReader(bytes.NewReader(data), "seg", positions[3], positions[7], Limits{})
	var bases []int64
	for {
		_, b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b.Header.BaseOffset)
	}
	if len(bases) != 4 || bases[0] != 22 || bases[3] != 34 || r.Pos() != positions[7] {
		t.Fatalf("bases %v, pos %d", bases, r.Pos())
	}
}

func TestReaderPartialTail(t *testing.T) {
	data, positions := buildSegment(t, 0, 3, 5, CompressionNone)
	last := positions[2]
	for _, cut := range []int64{last + 1, last + 11, last + 12, last + 30, last + HeaderSize, int64(len(data)) - 1} {
		r := NewReader(bytes.NewReader(data[:cut]), "seg", 0, cut, Limits{})
		for i := 0; i < 2; i++ {
			if _, _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}
		pos, _, err := r.Next()
		if err != io.ErrUnexpectedEOF || pos != last || r.Pos() != last {
			t.Fatalf("cut at %d: pos %d, err %v, want io.ErrUnexpectedEOF at %d", cut, pos, err, last)
		}
		// The same with the whole file there but end before it: end is respected.
		r = NewReader(bytes.NewReader(data), "seg", last, cut, Limits{})
		if _, _, err := r.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("end %d: err %v", cut, err)
		}
		// A follower moves the end and reads on.
		r.SetEnd(int64(len(data)))
		if _, b, err := r.Next(); err != nil || b.Header.BaseOffset != 10 {
			t.Fatalf("after SetEnd: %v", err)
		}
	}
	// The file shorter than end: also an incomplete frame.
	r := NewReader(bytes.NewReader(data[:last+20]), "seg", last, int64(len(data)), Limits{})
	if _, _, err := r.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("short file: %v", err)
	}
}

func TestReaderCorruption(t *testing.T) {
	data, positions := buildSegment(t, 0, 4, 5, CompressionNone)
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		want    error
	}{
		{"bit flip", func(b []byte) []byte { b[positions[2]+100] ^= 0x10; return b }, ErrBadCRC},
		{"bad magic", func(b []byte) []byte { b[positions[2]+offMagic] = 0; return b }, ErrBadMagic},
		{"bad length", func(b []byte) []byte { b[positions[2]+offLength] = 0x7f; return b }, ErrBadLength},
		{"zeroed sector", func(b []byte) []byte { clear(b[positions[2] : positions[2]+20]); return b }, ErrBadLength},
		{"negative record count", func(b []byte) []byte { return append(b[:positions[2]], rawFrame(0, 0, -1, nil)...) }, ErrBadRecord},
		{"negative base offset", func(b []byte) []byte {
			f := rawFrame(0, 0, 0, nil)
			SetBaseOffset(f, -7)
			return append(b[:positions[2]], f...)
		}, ErrBadOffset},
		{"zero tail", func(b []byte) []byte { return append(b[:positions[2]], make([]byte, 5000)...) }, ErrZeroTail},
		{"short garbage tail", func(b []byte) []byte {
			return append(b[:positions[2]], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
		}, ErrBadMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.corrupt(bytes.Clone(data))
			r := NewReader(bytes.NewReader(b), "dir/seg.log", 0, int64(len(b)), Limits{})
			for i := 0; i < 2; i++ {
				if _, _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // not sticky: the same answer again
				pos, _, err := r.Next()
				var ce *CorruptionError
				if !errors.As(err, &ce) || !errors.Is(err, tt.want) || ce.Offset != positions[2] || pos != positions[2] || ce.Path != "dir/seg.log" {
					t.Fatalf("err = %v at %d, want %v at %d", err, pos, tt.want, positions[2])
				}
			}
		})
	}
}

func TestCorruptionErrorMessage(t *testing.T) {
	err := error(&CorruptionError{Path: "a/b.log", Offset: 42, Err: ErrBadCRC})
	if err.Error() != "mqlog: corrupt segment a/b.log at byte 42: mqlog/segment: CRC mismatch" {
		t.Fatal(err.Error())
	}
	if !errors.Is(err, ErrBadCRC) {
		t.Fatal("errors.Is does not see the sentinel")
	}
}
