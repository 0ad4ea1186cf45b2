package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"testing"
)

// rawFrame builds a frame around hand-made record bytes, with a valid length and CRC, so that tests can
// reach the checks behind the CRC.
func rawFrame(attributes int16, lastOffsetDelta, numRecords int32, records []byte) []byte {
	f := make([]byte, HeaderSize, HeaderSize+len(records))
	binary.BigEndian.PutUint64(f[offBaseOffset:], 100)
	binary.BigEndian.PutUint32(f[offEpoch:], 1)
	f[offMagic] = Magic
	binary.BigEndian.PutUint16(f[offAttributes:], uint16(attributes))
	binary.BigEndian.PutUint32(f[offLastOffsetDelta:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(f[offBaseTimestamp:], 1000)
	binary.BigEndian.PutUint64(f[offMaxTimestamp:], 2000)
	binary.BigEndian.PutUint64(f[offProducerID:], math.MaxUint64)
	binary.BigEndian.PutUint16(f[offProducerEpoch:], math.MaxUint16)
	binary.BigEndian.PutUint32(f[offBaseSequence:], math.MaxUint32)
	binary.BigEndian.PutUint32(f[offNumRecords:], uint32(numRecords))
	f = append(f, records...)
	fixFrame(f)
	return f
}

// fixFrame rewrites a frame's length and CRC to match its bytes.
func fixFrame(f []byte) {
	binary.BigEndian.PutUint32(f[offLength:], uint32(len(f)-12))
	binary.BigEndian.PutUint32(f[offCRC:], crc32.Checksum(f[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
}

// rec builds the bytes of one record from fields given as varints (ints) or raw bytes ([]byte).
func rec(fields ...any) []byte {
	var body []byte
	body = append(body, 0) // attributes
	for _, f := range fields {
		switch v := f.(type) {
		case int:
			body = binary.AppendVarint(body, int64(v))
		case []byte:
			body = append(body, v...)
		}
	}
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// bytesAllocated returns how many bytes f allocates (TotalAlloc is cumulative: no GC needed).
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeBatchCorrupt(t *testing.T) {
	good := mustAppend(t, nil, sampleRecords(10), EncodeOptions{BaseOffset: 5})
	tests := []struct {
		name   string
		frame  func() []byte
		limits Limits
		want   error
	}{
		{"short header", func() []byte { return good[:HeaderSize-1] }, Limits{}, ErrTruncated},
		{"short frame", func() []byte { return good[:len(good)-1] }, Limits{}, ErrTruncated},
		{"magic 1", func() []byte { f := bytes.Clone(good); f[offMagic] = 1; return f }, Limits{}, ErrBadMagic},
		{"magic 3", func() []byte { f := bytes.Clone(good); f[offMagic] = 3; return f }, Limits{}, ErrBadMagic},
		{"length below minimum", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint32(f[offLength:], minLength-1)
			return f
		}, Limits{}, ErrBadLength},
		{"negative length", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint32(f[offLength:], math.MaxUint32)
			return f
		}, Limits{}, ErrBadLength},
		{"length 2^31-1", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint32(f[offLength:], math.MaxInt32)
			return f
		}, Limits{}, ErrBadLength},
		{"frame over MaxBatchBytes", func() []byte { return good }, Limits{MaxBatchBytes: len(good) - 1}, ErrBadLength},
		{"length too long for data", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint32(f[offLength:], uint32(len(f)-12+1))
			return f
		}, Limits{}, ErrTruncated},
		{"length too short for data", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint32(f[offLength:], uint32(len(f)-12-1))
			return f
		}, Limits{}, ErrBadCRC},
		{"crc field", func() []byte { f := bytes.Clone(good); f[offCRC] ^= 1; return f }, Limits{}, ErrBadCRC},
		{"negative lastOffsetDelta", func() []byte { return rawFrame(0, -1, 0, nil) }, Limits{}, ErrBadRecord},
		{"negative count", func() []byte { return rawFrame(0, 0, -1, nil) }, Limits{}, ErrBadRecord},
		{"count over offsets", func() []byte { return rawFrame(0, 0, 2, nil) }, Limits{}, ErrBadRecord},
		{"negative base offset", func() []byte { f := rawFrame(0, 0, 0, nil); SetBaseOffset(f, -1); return f }, Limits{}, ErrBadOffset},
		{"base offset overflows", func() []byte { f := rawFrame(0, 5, 0, nil); SetBaseOffset(f, math.MaxInt64-1); return f }, Limits{}, ErrBadOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch(tt.frame(), tt.limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeBatchEmptyIsValid(t *testing.T) {
	// Kafka keeps empty batches after compaction; they are valid.
	b, err := DecodeBatch(rawFrame(0, 3, 0, nil), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	records, err := b.Records(nil, false, Limits{})
	if err != nil || len(records) != 0 {
		t.Fatalf("records %v, err %v", records, err)
	}
}

func TestBitFlipInCRCAreaIsBadCRC(t *testing.T) {
	for _, codec := range allCodecs {
		frame := mustAppend(t, nil, sampleRecords(4), EncodeOptions{Compression: codec, BaseOffset: 9})
		for i := offAttributes; i < len(frame); i++ {
			for bit := 0; bit < 8; bit++ {
				frame[i] ^= 1 << bit
				_, err := DecodeBatch(frame, Limits{})
				if !errors.Is(err, ErrBadCRC) {
					t.Fatalf("%v: flip of byte %d bit %d: err = %v, want ErrBadCRC", codec, i, bit, err)
				}
				frame[i] ^= 1 << bit
			}
		}
	}
}

func TestRecordsCorrupt(t *testing.T) {
	key, value := []byte("k"), []byte("v")
	okRecord := rec(0, 0, 1, key, 1, value, 0)
	tests := []struct {
		name   string
		frame  []byte
		limits Limits
		want   error
	}{
		{"valid", rawFrame(0, 0, 1, okRecord), Limits{}, nil},
		{"fewer records than count", rawFrame(0, 1, 2, append(okRecord, make([]byte, 7)...)), Limits{}, ErrBadRecord},
		{"count over bytes", rawFrame(0, 100, 100, okRecord), Limits{}, ErrBadRecord},
		{"trailing bytes", rawFrame(0, 0, 1, append(bytes.Clone(okRecord), 0)), Limits{}, ErrBadRecord},
		{"record length past end", rawFrame(0, 0, 1, append([]byte{0x7e}, okRecord[1:]...)), Limits{}, ErrBadRecord},
		{"negative record length", rawFrame(0, 0, 1, append([]byte{0x01}, okRecord[1:]...)), Limits{}, ErrBadRecord},
		{"record length 2^31-1", rawFrame(0, 0, 1, append(binary.AppendVarint(nil, math.MaxInt32), okRecord[1:]...)), Limits{}, ErrBadRecord},
		{"varint too long", rawFrame(0, 0, 1, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0, 0}), Limits{}, ErrBadRecord},
		{"varint past int32", rawFrame(0, 0, 1, []byte{0xfe, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0}), Limits{}, ErrBadRecord},
		{"record longer than its fields", rawFrame(0, 0, 1, rec(0, 0, 1, key, 1, value, 0, []byte{9})), Limits{}, ErrBadRecord},
		{"key length 2^31-1", rawFrame(0, 0, 1, rec(0, 0, math.MaxInt32, key, 1, value, 0)), Limits{}, ErrBadRecord},
		{"key length -2", rawFrame(0, 0, 1, rec(0, 0, -2, 1, value, 0)), Limits{}, ErrBadRecord},
		{"value length 2^31-1", rawFrame(0, 0, 1, rec(0, 0, 1, key, math.MaxInt32, value, 0)), Limits{}, ErrBadRecord},
		{"header count 2^31-1", rawFrame(0, 0, 1, rec(0, 0, 1, key, 1, value, math.MaxInt32, 1, key, 1, value)), Limits{}, ErrBadRecord},
		{"negative header count", rawFrame(0, 0, 1, rec(0, 0, 1, key, 1, value, -1)), Limits{}, ErrBadRecord},
		{"null header key", rawFrame(0, 0, 1, rec(0, 0, 1, key, 1, value, 1, -1, 1, value)), Limits{}, ErrBadRecord},
		{"header value 2^31-1", rawFrame(0, 0, 1, rec(0, 0, 1, key, 1, value, 1, 1, key, math.MaxInt32)), Limits{}, ErrBadRecord},
		{"truncated body", rawFrame(0, 0, 1, []byte{0x02, 0, 0}), Limits{}, ErrBadRecord},
		{"offset delta past last", rawFrame(0, 0, 1, rec(0, 1, 1, key, 1, value, 0)), Limits{}, ErrBadOffset},
		{"negative offset delta", rawFrame(0, 0, 1, rec(0, -1, 1, key, 1, value, 0)), Limits{}, ErrBadOffset},
		{"offsets not increasing", rawFrame(0, 3, 2, append(rec(0, 2, 1, key, 1, value, 0), rec(0, 2, 1, key, 1, value, 0)...)), Limits{}, ErrBadOffset},
		{"message over limit", rawFrame(0, 0, 1, okRecord), Limits{MaxMessageBytes: 1}, ErrTooLarge},
		{"unknown codec", rawFrame(5, 0, 1, okRecord), Limits{}, ErrCompression},
		{"codec 7", rawFrame(7, 0, 1, okRecord), Limits{}, ErrCompression},
	}
	for _, codec := range allCodecs[1:] {
		tests = append(tests, struct {
			name   string
			frame  []byte
			limits Limits
			want   error
		}{"garbage " + codec.String(), rawFrame(int16(codec), 0, 1, []byte("this is not compressed data at all")), Limits{}, ErrCompression})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBatch(tt.frame, tt.limits)
			if err != nil {
				t.Fatalf("DecodeBatch: %v", err)
			}
			dst := []Record{{Offset: 1}}
			var records []Record
			allocated := bytesAllocated(func() { records, err = b.Records(dst, false, tt.limits) })
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && len(records) != 1 {
				t.Fatalf("dst has %d records after an error, want its original 1", len(records))
			}
			if allocated > 64<<10 {
				t.Fatalf("decoding allocated %d bytes", allocated)
			}
		})
	}
}

func TestRecordsLogAppendTime(t *testing.T) {
	frame := rawFrame(attrTimestampType, 1, 2, append(rec(5, 0, -1, -1, 0), rec(9, 1, -1, -1, 0)...))
	b, records := mustDecode(t, frame)
	for _, r := range records {
		if r.Timestamp != b.Header.MaxTimestamp {
			t.Fatalf("LogAppendTime record has timestamp %d, want maxTimestamp %d", r.Timestamp, b.Header.MaxTimestamp)
		}
	}
	frame = rawFrame(0, 1, 2, append(rec(5, 0, -1, -1, 0), rec(9, 1, -1, -1, 0)...))
	_, records = mustDecode(t, frame)
	if records[0].Timestamp != 1005 || records[1].Timestamp != 1009 || records[1].Offset != 101 {
		t.Fatalf("records %+v", records)
	}
}

// TestDecompressionBounded checks that a small compressed payload that expands past MaxBatchBytes is
// ErrTooLarge, for every codec, and that decoding allocates about the limit, not the expanded size.
func TestDecompressionBounded(t *testing.T) {
	records := []Record{{Value: make([]byte, 4<<20)}} // 4 MiB of zeros compresses to almost nothing
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			frame := mustAppend(t, nil, records, EncodeOptions{Compression: codec})
			if len(frame) > 1<<20 {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			limits := Limits{MaxBatchBytes: 1 << 20, MaxMessageBytes: 8 << 20}
			b, err := DecodeBatch(frame, limits)
			if err != nil {
				t.Fatal(err)
			}
			allocated := bytesAllocated(func() { _, err = b.Records(nil, false, limits) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if allocated > 4<<20 {
				t.Fatalf("allocated %d bytes with a 1 MiB limit", allocated)
			}
			// With a big enough limit it decodes.
			limits.MaxBatchBytes = 8 << 20
			if _, err := b.Records(nil, false, limits); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRawSnappyBlockAccepted(t *testing.T) {
	// Kafka also accepts snappy data without the xerial framing: a raw block.
	raw := encodeRecords(t, sampleRecords(3), sampleRecords(3)[0].Timestamp, EncodeOptions{})
	frame := rawFrame(int16(CompressionSnappy), 2, 3, snappyBlock(raw))
	b, err := DecodeBatch(frame, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	records, err := b.Records(nil, false, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := withOffsets(sampleRecords(3), 100)
	for i := range want {
		want[i].Timestamp = 1000 + want[i].Timestamp - sampleRecords(3)[0].Timestamp
	}
	equalRecords(t, records, want)
}
