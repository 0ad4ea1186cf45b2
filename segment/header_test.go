package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestParseHeader(t *testing.T) {
	frame := mustAppend(t, nil, sampleRecords(3), EncodeOptions{BaseOffset: 1 << 33, Epoch: -5, Compression: CompressionGzip})
	h, err := ParseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: 1 << 33, Length: int32(len(frame) - 12), PartitionLeaderEpoch: -5, Magic: 2,
		CRC: binary.BigEndian.Uint32(frame[17:]), Attributes: 1, LastOffsetDelta: 2,
		BaseTimestamp: h.BaseTimestamp, MaxTimestamp: h.MaxTimestamp,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, NumRecords: 3,
	}
	if h != want || h.Compression() != CompressionGzip || h.LastOffset() != 1<<33+2 || h.FrameSize() != int64(len(frame)) {
		t.Fatalf("header %+v, want %+v", h, want)
	}
	if h.IsControl() || h.IsTransactional() {
		t.Fatal("flags set")
	}
	// Only the header is needed, not the frame.
	if _, err := ParseHeader(frame[:HeaderSize]); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHeader(frame[:HeaderSize-1]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v", err)
	}
	// The default limit applies to ParseHeader; ParseHeaderLimits takes others.
	big := make([]byte, HeaderSize)
	copy(big, frame)
	binary.BigEndian.PutUint32(big[offLength:], DefaultMaxBatchBytes)
	if _, err := ParseHeader(big); !errors.Is(err, ErrBadLength) {
		t.Fatalf("err = %v", err)
	}
	if _, err := ParseHeaderLimits(big, Limits{MaxBatchBytes: 32 << 20}); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsCheckMessage(t *testing.T) {
	l := Limits{MaxMessageBytes: 10}
	if err := l.CheckMessage(make([]byte, 5), make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if err := l.CheckMessage(make([]byte, 5), make([]byte, 6)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if err := (Limits{}).CheckMessage(nil, make([]byte, DefaultMaxMessageBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestVarints(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 1 << 20, math.MaxInt32, math.MinInt32,
		math.MaxInt64, math.MinInt64} {
		b := appendVarint(nil, v)
		if want := binary.AppendVarint(nil, v); !bytes.Equal(b, want) {
			t.Fatalf("appendVarint(%d) = %x, encoding/binary writes %x", v, b, want)
		}
		if len(b) != varintSize(v) {
			t.Fatalf("%d: size %d, encoded %d", v, varintSize(v), len(b))
		}
		got, n := readVarint64(b)
		if got != v || n != len(b) {
			t.Fatalf("readVarint64(%d) = %d, %d", v, got, n)
		}
		got32, n := readVarint32(b)
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			if int64(got32) != v || n != len(b) {
				t.Fatalf("readVarint32(%d) = %d, %d", v, got32, n)
			}
		} else if n > 0 {
			t.Fatalf("readVarint32(%d) accepted: %d", v, got32)
		}
	}
	for _, bad := range [][]byte{{}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, bytesRepeat(0x80, 11)} {
		if _, n := readVarint64(bad); n > 0 {
			t.Fatalf("readVarint64(%x) accepted", bad)
		}
	}
}

func bytesRepeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
