package segment

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestScan(t *testing.T) {
	data, positions := buildSegment(t, 100, 5, 4, CompressionNone)
	end := int64(len(data))
	epochs := func(es ...int32) func([]byte) []byte {
		return func(b []byte) []byte {
			for i, e := range es {
				SetEpoch(b[positions[i]:], e)
			}
			return b
		}
	}
	tests := []struct {
		name      string
		data      func([]byte) []byte
		opts      ScanOptions
		wantEnd   int64
		batches   int
		stop      error
		stopAt    int64
		lastEpoch int32
	}{
		{name: "clean", wantEnd: end, batches: 5, lastEpoch: 5},
		{name: "clean expected start", opts: ScanOptions{NextOffset: 100, Contiguous: true}, wantEnd: end, batches: 5, lastEpoch: 5},
		{name: "wrong start contiguous", opts: ScanOptions{NextOffset: 99, Contiguous: true}, wantEnd: 0, stop: ErrBadOffset, stopAt: 0, lastEpoch: -1},
		{name: "later start compacted", opts: ScanOptions{NextOffset: 99}, wantEnd: end, batches: 5, lastEpoch: 5},
		{name: "start before expected", opts: ScanOptions{NextOffset: 101}, wantEnd: 0, stop: ErrBadOffset, lastEpoch: -1},
		{
			name:    "zero tail",
			data:    func(b []byte) []byte { return append(b, make([]byte, 200_000)...) },
			wantEnd: end, batches: 5, stop: ErrZeroTail, lastEpoch: 5,
		},
		{
			name:    "zero tail shorter than a length field",
			data:    func(b []byte) []byte { return append(b, 0, 0, 0, 0, 0) },
			wantEnd: end, batches: 5, stop: ErrTruncated, stopAt: end, lastEpoch: 5,
		},
		{
			name:    "zero tail of exactly 12 bytes",
			data:    func(b []byte) []byte { return append(b, make([]byte, 12)...) },
			wantEnd: end, batches: 5, stop: ErrZeroTail, lastEpoch: 5,
		},
		{
			name:    "zeros then garbage",
			data:    func(b []byte) []byte { z := append(b, make([]byte, 200_000)...); return append(z, 1) },
			wantEnd: end, batches: 5, stop: ErrBadLength, stopAt: end, lastEpoch: 5,
		},
		{
			name:    "truncated last frame",
			data:    func(b []byte) []byte { return b[:len(b)-1] },
			wantEnd: positions[4], batches: 4, stop: ErrTruncated, stopAt: positions[4], lastEpoch: 4,
		},
		{
			name:    "truncated header",
			data:    func(b []byte) []byte { return b[:positions[4]+30] },
			wantEnd: positions[4], batches: 4, stop: ErrTruncated, stopAt: positions[4], lastEpoch: 4,
		},
		{
			name:    "garbage tail",
			data:    func(b []byte) []byte { return append(b, bytes.Repeat([]byte("garbage!"), 100)...) },
			wantEnd: end, batches: 5, stop: ErrBadMagic, stopAt: end, lastEpoch: 5,
		},
		{
			name:    "bad crc in the middle",
			data:    func(b []byte) []byte { b[positions[2]+70]++; return b },
			wantEnd: positions[2], batches: 2, stop: ErrBadCRC, stopAt: positions[2], lastEpoch: 2,
		},
		{
			name:    "offset gap",
			data:    func(b []byte) []byte { SetBaseOffset(b[positions[3]:], 120); return b },
			opts:    ScanOptions{NextOffset: -1, Contiguous: true},
			wantEnd: positions[3], batches: 3, stop: ErrBadOffset, stopAt: positions[3], lastEpoch: 3,
		},
		{
			name:    "offset gap allowed when compacted",
			data:    func(b []byte) []byte { SetBaseOffset(b[positions[4]:], 200); return b },
			opts:    ScanOptions{NextOffset: -1},
			wantEnd: end, batches: 5, lastEpoch: 5,
		},
		{
			name:    "offset going back",
			data:    func(b []byte) []byte { SetBaseOffset(b[positions[3]:], 105); return b },
			opts:    ScanOptions{NextOffset: -1},
			wantEnd: positions[3], batches: 3, stop: ErrBadOffset, stopAt: positions[3], lastEpoch: 3,
		},
		{
			name:    "epoch going backwards",
			data:    epochs(1, 3, 3, 2, 4),
			wantEnd: positions[3], batches: 3, stop: ErrBadEpoch, stopAt: positions[3], lastEpoch: 3,
		},
		{
			name:    "first epoch below MinEpoch",
			opts:    ScanOptions{NextOffset: -1, MinEpoch: 2},
			wantEnd: 0, stop: ErrBadEpoch, stopAt: 0, lastEpoch: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(data)
			if tt.data != nil {
				b = tt.data(b)
			}
			path := filepath.Join(t.TempDir(), FileName(100))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := tt.opts
			if opts == (ScanOptions{}) {
				opts.NextOffset = -1
			}
			opts.Path = path
			var seen []int64
			res, err := Scan(f, 0, int64(len(b)), opts, func(pos int64, h BatchHeader) error {
				seen = append(seen, pos)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.ValidEnd != tt.wantEnd || res.Batches != tt.batches || len(seen) != tt.batches || res.LastEpoch != tt.lastEpoch {
				t.Fatalf("result %+v, want end %d, %d batches, epoch %d", res, tt.wantEnd, tt.batches, tt.lastEpoch)
			}
			if res.Records != int64(4*tt.batches) {
				t.Fatalf("records %d", res.Records)
			}
			if tt.batches > 0 && (res.FirstOffset < 100 || res.LastOffset < res.FirstOffset || res.MaxTimestamp <= 0) {
				t.Fatalf("offsets/timestamp %+v", res)
			}
			if tt.batches == 0 && (res.FirstOffset != -1 || res.LastOffset != -1) {
				t.Fatalf("offsets %+v", res)
			}
			if !errors.Is(res.Stop, tt.stop) || (tt.stop == nil) != (res.Stop == nil) {
				t.Fatalf("stop %v, want %v", res.Stop, tt.stop)
			}
			if tt.stop == ErrZeroTail {
				if res.Stop != ErrZeroTail {
					t.Fatalf("stop %v, want the bare ErrZeroTail", res.Stop)
				}
			} else if tt.stop != nil {
				var ce *CorruptionError
				if !errors.As(res.Stop, &ce) || ce.Offset != tt.stopAt || ce.Path != path {
					t.Fatalf("stop %v, want a CorruptionError at %d", res.Stop, tt.stopAt)
				}
			}
		})
	}
}

func TestScanCallbackError(t *testing.T) {
	data, positions := buildSegment(t, 0, 3, 2, CompressionZstd)
	stop := errors.New("stop")
	res, err := Scan(bytes.NewReader(data), 0, int64(len(data)), ScanOptions{NextOffset: 0, Contiguous: true}, func(pos int64, h BatchHeader) error {
		if pos == positions[1] {
			return stop
		}
		return nil
	})
	if err != stop || res.Batches != 1 || res.ValidEnd != positions[1] {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestScanFromMiddle(t *testing.T) {
	data, positions := buildSegment(t, 0, 6, 2, CompressionGzip)
	res, err := Scan(bytes.NewReader(data), positions[2], int64(len(data)), ScanOptions{NextOffset: 4, Contiguous: true, MinEpoch: 3}, nil)
	if err != nil || res.Stop != nil || res.Batches != 4 || res.FirstOffset != 4 || res.LastOffset != 11 || res.LastEpoch != 6 {
		t.Fatalf("res %+v err %v", res, err)
	}
	// An empty range is clean.
	res, err = Scan(bytes.NewReader(data), positions[2], positions[2], ScanOptions{NextOffset: -1}, nil)
	if err != nil || res.Stop != nil || res.Batches != 0 || res.ValidEnd != positions[2] {
		t.Fatalf("res %+v err %v", res, err)
	}
}

// errReaderAt fails every read.
type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

func TestScanIOError(t *testing.T) {
	ioErr := errors.New("disk on fire")
	_, err := Scan(errReaderAt{ioErr}, 0, 1000, ScanOptions{NextOffset: -1}, nil)
	if err != ioErr {
		t.Fatalf("err = %v", err)
	}
}
