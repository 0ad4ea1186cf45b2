package segment

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// recrc recomputes a frame's CRC after a test changed a covered byte.
func recrc(frame []byte) []byte {
	binary.BigEndian.PutUint32(frame[offCRC:], crc32.Checksum(frame[offAttributes:], crcTable))
	return frame
}

func TestValidateProduced(t *testing.T) {
	good := func(c Compression) []byte {
		frame, err := AppendBatch(nil, sampleRecords(6), EncodeOptions{Compression: c, Epoch: -1})
		if err != nil {
			t.Fatal(err)
		}
		return frame
	}
	for _, c := range allCodecs {
		if _, _, err := ValidateProduced(good(c), Limits{}, nil); err != nil {
			t.Fatalf("%v: valid batch refused: %v", c, err)
		}
	}
	cases := []struct {
		name   string
		damage func([]byte) []byte
		want   error
	}{
		{"bit flip", func(f []byte) []byte { f[len(f)-3] ^= 1; return f }, ErrBadCRC},
		{"trailing byte", func(f []byte) []byte { return append(f, 0) }, ErrTruncated},
		{"short", func(f []byte) []byte { return f[:len(f)-1] }, ErrTruncated},
		{"magic 1", func(f []byte) []byte { f[offMagic] = 1; return f }, ErrBadMagic},
		{"control", func(f []byte) []byte { f[offAttributes+1] |= attrControl; return recrc(f) }, ErrBadRecord},
		{"log append time", func(f []byte) []byte { f[offAttributes+1] |= attrTimestampType; return recrc(f) }, ErrBadRecord},
		{"offset delta past the records", func(f []byte) []byte {
			binary.BigEndian.PutUint32(f[offLastOffsetDelta:], 9) // 6 records claiming 10 offsets
			return recrc(f)
		}, ErrBadOffset},
		{"max timestamp lies", func(f []byte) []byte {
			binary.BigEndian.PutUint64(f[offMaxTimestamp:], 1<<50)
			return recrc(f)
		}, ErrBadRecord},
		{"producer without sequence", func(f []byte) []byte {
			binary.BigEndian.PutUint64(f[offProducerID:], 5)
			return recrc(f)
		}, ErrBadRecord},
		{"record count lies", func(f []byte) []byte {
			binary.BigEndian.PutUint32(f[offNumRecords:], 5)
			binary.BigEndian.PutUint32(f[offLastOffsetDelta:], 4)
			return recrc(f)
		}, ErrBadRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ValidateProduced(tc.damage(good(CompressionNone)), Limits{}, nil); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := ValidateProduced(good(CompressionNone), Limits{MaxMessageBytes: 10}, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("message over the limit: %v", err)
	}
}
