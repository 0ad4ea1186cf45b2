package segment

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"
)

// referenceAppendBatch is a straightforward encoder of a batch (each record's body built with
// encoding/binary's appends, then its length prefixed), the definition AppendBatch's bytes must match. Uncompressed
// only: compressed frames are compared through their decompressed records.
func referenceAppendBatch(dst []byte, records []Record, opts EncodeOptions) []byte {
	minTime, maxTime := records[0].Timestamp, records[0].Timestamp
	for i := range records {
		minTime = min(minTime, records[i].Timestamp)
		maxTime = max(maxTime, records[i].Timestamp)
	}
	lastOffsetDelta := int64(len(records) - 1)
	if opts.KeepOffsets {
		lastOffsetDelta = records[len(records)-1].Offset - opts.BaseOffset
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = referenceAppendRecords(dst, records, minTime, opts)
	frame := dst[start:]
	binary.BigEndian.PutUint64(frame[offBaseOffset:], uint64(opts.BaseOffset))
	binary.BigEndian.PutUint32(frame[offLength:], uint32(len(frame)-lengthFieldEnd))
	binary.BigEndian.PutUint32(frame[offEpoch:], uint32(opts.Epoch))
	frame[offMagic] = Magic
	binary.BigEndian.PutUint16(frame[offAttributes:], uint16(opts.Compression))
	binary.BigEndian.PutUint32(frame[offLastOffsetDelta:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(frame[offBaseTimestamp:], uint64(minTime))
	binary.BigEndian.PutUint64(frame[offMaxTimestamp:], uint64(maxTime))
	binary.BigEndian.PutUint64(frame[offProducerID:], math.MaxUint64)
	binary.BigEndian.PutUint16(frame[offProducerEpoch:], math.MaxUint16)
	binary.BigEndian.PutUint32(frame[offBaseSequence:], math.MaxUint32)
	binary.BigEndian.PutUint32(frame[offNumRecords:], uint32(len(records)))
	binary.BigEndian.PutUint32(frame[offCRC:], crc32.Checksum(frame[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	return dst
}

func referenceAppendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func referenceAppendRecords(dst []byte, records []Record, baseTime int64, opts EncodeOptions) []byte {
	for i := range records {
		r := &records[i]
		delta := int64(i)
		if opts.KeepOffsets {
			delta = r.Offset - opts.BaseOffset
		}
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, r.Timestamp-baseTime)
		body = binary.AppendVarint(body, delta)
		body = referenceAppendBytes(body, r.Key)
		body = referenceAppendBytes(body, r.Value)
		body = binary.AppendVarint(body, int64(len(r.Headers)))
		for _, h := range r.Headers {
			body = binary.AppendVarint(body, int64(len(h.Key)))
			body = append(body, h.Key...)
			body = referenceAppendBytes(body, h.Value)
		}
		dst = binary.AppendVarint(dst, int64(len(body)))
		dst = append(dst, body...)
	}
	return dst
}

// randomRecords returns n records with what varints and lengths can vary: nil, empty and long keys and
// values (lengths across the one-, two- and three-byte varints), headers, timestamps far apart, negative
// and equal; with keepOffsets, offsets with gaps from base.
func randomRecords(rng *rand.Rand, n int, keepOffsets bool, base int64) []Record {
	bytesOf := func() []byte {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return make([]byte, 63+rng.IntN(3)) // around the one-byte varint's end
		case 3:
			return make([]byte, 8190+rng.IntN(4)) // around the two-byte varint's end
		}
		b := make([]byte, rng.IntN(1100))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	ts := rng.Int64N(1<<41) - 1<<40
	records := make([]Record, n)
	off := base
	for i := range records {
		r := &records[i]
		switch rng.IntN(4) {
		case 0:
			ts += rng.Int64N(1 << 30)
		case 1:
			ts -= rng.Int64N(100)
		}
		r.Timestamp, r.Key, r.Value = ts, bytesOf(), bytesOf()
		for range rng.IntN(3) {
			r.Headers = append(r.Headers, RecordHeader{Key: string(bytesOf()), Value: bytesOf()})
		}
		if keepOffsets {
			off += 1 + rng.Int64N(1000)*int64(rng.IntN(2))
			r.Offset = off
		}
	}
	return records
}

// TestAppendBatchMatchesReference checks that AppendBatch writes, byte for byte, what the reference
// encoder writes (uncompressed), and that a compressed batch holds the same record bytes.
func TestAppendBatchMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 256))
	for iter := range 120 {
		n := 1 + rng.IntN(300)
		keep := iter%3 == 0
		opts := EncodeOptions{BaseOffset: rng.Int64N(1 << 40), Epoch: rng.Int32(), KeepOffsets: keep}
		records := randomRecords(rng, n, keep, opts.BaseOffset)
		want := referenceAppendBatch([]byte("prefix"), records, opts)
		got, err := AppendBatch([]byte("prefix"), records, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("iteration %d (%d records, keep offsets %v): AppendBatch differs from the reference encoder", iter, n, keep)
		}
		for _, codec := range allCodecs[1:] {
			if iter%4 != 0 {
				break // compressing is the slow part, and compress sees the same bytes every time
			}
			opts.Compression = codec
			frame, err := AppendBatch(nil, records, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeBatch(frame, Limits{MaxBatchBytes: math.MaxInt32})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := decompress(b.Frame[HeaderSize:], codec, math.MaxInt32)
			if err != nil {
				t.Fatal(err)
			}
			if wantRaw := want[len("prefix")+HeaderSize:]; !bytes.Equal(raw, wantRaw) {
				t.Fatalf("iteration %d, %v: the records inside differ from the reference encoder's", iter, codec)
			}
		}
	}
}

// FuzzAppendBatchMatchesReference encodes records built from the fuzzer's bytes with both encoders.
func FuzzAppendBatchMatchesReference(f *testing.F) {
	f.Add(uint64(1), uint16(3), true)
	f.Add(uint64(7), uint16(256), false)
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, keep bool) {
		rng := rand.New(rand.NewPCG(seed, uint64(n)))
		records := randomRecords(rng, 1+int(n%512), keep, 5)
		opts := EncodeOptions{BaseOffset: 5, KeepOffsets: keep}
		got, err := AppendBatch(nil, records, opts)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceAppendBatch(nil, records, opts); !bytes.Equal(got, want) {
			t.Fatalf("AppendBatch differs from the reference encoder (seed %d, n %d, keep %v)", seed, n, keep)
		}
	})
}
