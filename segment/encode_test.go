package segment

import (
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		records []Record
		opts    EncodeOptions
		want    []Record // nil = withOffsets(records, opts.BaseOffset)
	}{
		{name: "one", records: sampleRecords(1), opts: EncodeOptions{BaseOffset: 0}},
		{name: "mixed", records: sampleRecords(37), opts: EncodeOptions{BaseOffset: 1000, Epoch: 3}},
		{name: "many", records: sampleRecords(1000), opts: EncodeOptions{BaseOffset: 1 << 40, Epoch: 1}},
		{name: "big value", records: []Record{{Timestamp: 5, Value: make([]byte, 200_000)}}, opts: EncodeOptions{}},
		{
			name: "keep offsets with gaps",
			records: []Record{
				{Offset: 12, Timestamp: 1, Key: []byte("a"), Value: []byte("1")},
				{Offset: 15, Timestamp: 2, Key: []byte("b"), Value: nil},
				{Offset: 40, Timestamp: 3, Key: []byte("c"), Value: []byte("3")},
			},
			opts: EncodeOptions{BaseOffset: 10, KeepOffsets: true},
		},
		{name: "negative timestamps", records: []Record{{Timestamp: -5}, {Timestamp: 10}}, opts: EncodeOptions{}},
	}
	for _, tt := range tests {
		for _, codec := range allCodecs {
			t.Run(tt.name+"/"+codec.String(), func(t *testing.T) {
				opts := tt.opts
				opts.Compression = codec
				want := tt.want
				if want == nil {
					if opts.KeepOffsets {
						want = tt.records
					} else {
						want = withOffsets(tt.records, opts.BaseOffset)
					}
				}
				prefix := []byte("prefix")
				out := mustAppend(t, prefix, tt.records, opts)
				if string(out[:len(prefix)]) != "prefix" {
					t.Fatal("AppendBatch changed dst's bytes")
				}
				frame := out[len(prefix):]
				b, got := mustDecode(t, frame)
				equalRecords(t, got, want)
				h := b.Header
				if h.FrameSize() != int64(len(frame)) || h.Compression() != codec || h.NumRecords != int32(len(want)) {
					t.Fatalf("header %+v", h)
				}
				if h.BaseOffset != opts.BaseOffset || h.LastOffset() != want[len(want)-1].Offset || h.PartitionLeaderEpoch != opts.Epoch {
					t.Fatalf("header offsets/epoch %+v", h)
				}
				minTS, maxTS := want[0].Timestamp, want[0].Timestamp
				for _, r := range want {
					minTS, maxTS = min(minTS, r.Timestamp), max(maxTS, r.Timestamp)
				}
				if h.BaseTimestamp != minTS || h.MaxTimestamp != maxTS {
					t.Fatalf("timestamps %d..%d, want %d..%d", h.BaseTimestamp, h.MaxTimestamp, minTS, maxTS)
				}
				if h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.Magic != Magic {
					t.Fatalf("producer fields %+v", h)
				}
				// copy=true gives records that do not alias the frame.
				copied, err := b.Records(nil, true, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range frame {
					frame[i] = 0xee
				}
				equalRecords(t, copied, want)
			})
		}
	}
}

func TestSetBaseOffsetAndEpochKeepCRC(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			frame := mustAppend(t, nil, sampleRecords(5), EncodeOptions{Compression: codec})
			SetBaseOffset(frame, 777)
			SetEpoch(frame, 9)
			b, records := mustDecode(t, frame)
			if b.Header.BaseOffset != 777 || b.Header.PartitionLeaderEpoch != 9 {
				t.Fatalf("header %+v", b.Header)
			}
			equalRecords(t, records, withOffsets(sampleRecords(5), 777))
		})
	}
}

func TestAppendBatchErrors(t *testing.T) {
	tests := []struct {
		name    string
		records []Record
		opts    EncodeOptions
		want    error
	}{
		{"empty", nil, EncodeOptions{}, ErrEmptyBatch},
		{"bad codec", sampleRecords(1), EncodeOptions{Compression: 5}, ErrCompression},
		{"negative base", sampleRecords(1), EncodeOptions{BaseOffset: -1}, ErrBadOffset},
		{"offset before base", []Record{{Offset: 4}}, EncodeOptions{BaseOffset: 5, KeepOffsets: true}, ErrBadOffset},
		{"offsets not increasing", []Record{{Offset: 5}, {Offset: 5}}, EncodeOptions{BaseOffset: 5, KeepOffsets: true}, ErrBadOffset},
		{"offset delta over int32", []Record{{Offset: 0}, {Offset: math.MaxInt32 + 1}}, EncodeOptions{KeepOffsets: true}, ErrBadOffset},
		{"timestamp range", []Record{{Timestamp: math.MinInt64}, {Timestamp: math.MaxInt64}}, EncodeOptions{}, ErrBadRecord},
		{"gzip level", sampleRecords(1), EncodeOptions{Compression: CompressionGzip, Level: 42}, ErrCompression},
		{"lz4 level", sampleRecords(1), EncodeOptions{Compression: CompressionLZ4, Level: 42}, ErrCompression},
		// 2,100 records sharing one 1 MiB value: a frame over 2 GiB, found before anything is written.
		{"over 2 GiB", sharedValueRecords(2100, 1<<20), EncodeOptions{}, ErrTooLarge},
		{"over 2 GiB, lz4", sharedValueRecords(2100, 1<<20), EncodeOptions{Compression: CompressionLZ4}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("x")
			out, err := AppendBatch(dst, tt.records, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(out) != "x" {
				t.Fatalf("dst changed on error: %q", out)
			}
		})
	}
}

// sharedValueRecords returns n records whose values are one shared slice of size bytes.
func sharedValueRecords(n, size int) []Record {
	value := make([]byte, size)
	records := make([]Record, n)
	for i := range records {
		records[i].Value = value
	}
	return records
}

func TestCompressionLevels(t *testing.T) {
	levels := map[Compression][]int{
		CompressionGzip: {-2, -1, 1, 5, 9},
		CompressionLZ4:  {1, 5, 9},
		CompressionZstd: {1, 3, 9, 19},
	}
	for codec, ls := range levels {
		for _, level := range ls {
			frame := mustAppend(t, nil, sampleRecords(20), EncodeOptions{Compression: codec, Level: level})
			_, records := mustDecode(t, frame)
			equalRecords(t, records, withOffsets(sampleRecords(20), 0))
		}
	}
}

func TestAppendBatchUncompressedAllocs(t *testing.T) {
	records := sampleRecords(64)
	dst := make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = AppendBatch(dst[:0], records, EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendBatch allocated %v times per run, want 0", allocs)
	}
	// The CRC is CRC-32C over attributes..end.
	if got := crc32.Checksum(dst[21:], crc32.MakeTable(crc32.Castagnoli)); got != uint32(dst[17])<<24|uint32(dst[18])<<16|uint32(dst[19])<<8|uint32(dst[20]) {
		t.Fatal("stored CRC is not CRC-32C of bytes 21..end")
	}
}

func TestDecodeUncompressedAllocs(t *testing.T) {
	records := sampleRecords(64)
	for i := range records {
		records[i].Headers = nil
	}
	frame := mustAppend(t, nil, records, EncodeOptions{})
	dst := make([]Record, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		b, err := DecodeBatch(frame, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if dst, err = b.Records(dst[:0], false, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding allocated %v times per run, want 0", allocs)
	}
}
