package segment

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/segment")

const goldenDir = "../testdata/segment"

// goldenBatches returns the batches of every golden file: fixed timestamps, keys, values and headers; the
// third batch keeps offsets with gaps (as compaction writes them).
func goldenBatches() [][]Record {
	const ts = 1_700_000_000_000
	return [][]Record{
		{
			{Timestamp: ts, Key: []byte("user-1"), Value: []byte("hello")},
			{Timestamp: ts + 1, Key: nil, Value: []byte("no key")},
			{Timestamp: ts + 2, Key: []byte("user-2"), Value: nil},
			{Timestamp: ts + 2, Key: []byte{}, Value: []byte{}},
		},
		{
			{Timestamp: ts + 10, Key: []byte("k"), Value: bytes.Repeat([]byte("compressible "), 40),
				Headers: []RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "null", Value: nil}}},
			{Timestamp: ts + 9, Key: []byte("k"), Value: []byte("earlier timestamp")},
		},
		{
			{Offset: 6, Timestamp: ts + 20, Key: []byte("a"), Value: []byte("1")},
			{Offset: 8, Timestamp: ts + 21, Key: []byte("b"), Value: []byte("2")},
			{Offset: 11, Timestamp: ts + 22, Key: []byte("c"), Value: []byte("3")},
		},
	}
}

// goldenSegment encodes the golden batches with codec: offsets 0-3, 4-5, 6-11 (gaps), epochs 1, 1, 2.
func goldenSegment(t testing.TB, codec Compression) []byte {
	var out []byte
	batches := goldenBatches()
	out = mustAppend(t, out, batches[0], EncodeOptions{BaseOffset: 0, Epoch: 1, Compression: codec})
	out = mustAppend(t, out, batches[1], EncodeOptions{BaseOffset: 4, Epoch: 1, Compression: codec})
	out = mustAppend(t, out, batches[2], EncodeOptions{BaseOffset: 6, Epoch: 2, Compression: codec, KeepOffsets: true})
	return out
}

// goldenRecords returns the records the golden files decode to.
func goldenRecords() [][]Record {
	batches := goldenBatches()
	return [][]Record{withOffsets(batches[0], 0), withOffsets(batches[1], 4), batches[2]}
}

// corruptFixtures derives the corrupt test files from the uncompressed golden segment.
func corruptFixtures(golden []byte) map[string][]byte {
	_, positions := framePositions(golden)
	last := positions[2]
	flipped := bytes.Clone(golden)
	flipped[positions[1]+HeaderSize+3] ^= 0x04
	return map[string][]byte{
		"corrupt-crc.log":       flipped,
		"corrupt-truncated.log": golden[:len(golden)-7],
		"corrupt-zero-tail.log": append(bytes.Clone(golden), make([]byte, 4096)...),
		"corrupt-garbage.log":   append(bytes.Clone(golden[:last]), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 40)...),
		"corrupt-magic.log":     func() []byte { b := bytes.Clone(golden); b[last+offMagic] = 1; return b }(),
	}
}

// framePositions walks frames by their length fields (no validation).
func framePositions(data []byte) (int, []int64) {
	var positions []int64
	for pos := 0; pos+HeaderSize <= len(data); {
		h, err := ParseHeader(data[pos:])
		if err != nil {
			break
		}
		positions = append(positions, int64(pos))
		pos += int(h.FrameSize())
	}
	return len(positions), positions
}

func TestGolden(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			path := filepath.Join(goldenDir, "golden-"+codec.String()+".log")
			encoded := goldenSegment(t, codec)
			if *update {
				writeGolden(t, path, encoded)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./segment -update)", err)
			}
			// Byte for byte for the uncompressed file: the encoding is frozen. Compressed output may change
			// with the codec libraries' versions, so those files are checked by decoding only.
			if codec == CompressionNone && !bytes.Equal(data, encoded) {
				t.Fatalf("%s differs from what AppendBatch writes now", path)
			}
			want := goldenRecords()
			r := NewReader(bytes.NewReader(data), path, 0, int64(len(data)), Limits{})
			for i := 0; ; i++ {
				_, b, err := r.Next()
				if err == io.EOF {
					if i != len(want) {
						t.Fatalf("%d batches, want %d", i, len(want))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if b.Header.Compression() != codec {
					t.Fatalf("batch %d codec %v", i, b.Header.Compression())
				}
				records, err := b.Records(nil, false, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				equalRecords(t, records, want[i])
			}
		})
	}
}

func TestGoldenCorrupt(t *testing.T) {
	golden := goldenSegment(t, CompressionNone)
	_, positions := framePositions(golden)
	fixtures := corruptFixtures(golden)
	if *update {
		for name, data := range fixtures {
			writeGolden(t, filepath.Join(goldenDir, name), data)
		}
	}
	tests := []struct {
		file    string
		stop    error
		validTo int64
		batches int
	}{
		{"golden-none.log", nil, int64(len(golden)), 3},
		{"corrupt-crc.log", ErrBadCRC, positions[1], 1},
		{"corrupt-truncated.log", ErrTruncated, positions[2], 2},
		{"corrupt-zero-tail.log", ErrZeroTail, int64(len(golden)), 3},
		{"corrupt-garbage.log", ErrBadMagic, positions[2], 2}, // magic is checked before length
		{"corrupt-magic.log", ErrBadMagic, positions[2], 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(goldenDir, tt.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			res, err := Scan(f, 0, st.Size(), ScanOptions{Path: path, NextOffset: 0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(res.Stop, tt.stop) || (tt.stop == nil) != (res.Stop == nil) || res.ValidEnd != tt.validTo || res.Batches != tt.batches {
				t.Fatalf("result %+v, want stop %v at %d after %d batches", res, tt.stop, tt.validTo, tt.batches)
			}
			var ce *CorruptionError
			if tt.stop != nil && tt.stop != ErrZeroTail && (!errors.As(res.Stop, &ce) || ce.Offset != tt.validTo || ce.Path != path) {
				t.Fatalf("stop %v, want a CorruptionError at %d", res.Stop, tt.validTo)
			}
		})
	}
}

func writeGolden(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
