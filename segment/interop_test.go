package segment

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests check the codec against franz-go's kmsg, an independent implementation of the same Kafka
// structures. kmsg neither checks nor computes CRCs and decompresses nothing: the tests do both themselves.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// kmsgRecords encodes records with kmsg.Record.AppendTo, deltas from baseTime and offsets 0..n-1.
func kmsgRecords(records []Record, baseTime int64) []byte {
	var out []byte
	for i, r := range records {
		kr := kmsg.Record{
			TimestampDelta64: r.Timestamp - baseTime,
			OffsetDelta:      int32(i),
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length counts the bytes after the length varint: encode once to measure.
		body := kr.AppendTo(nil)
		_, n := binary.Varint(body)
		kr.Length = int32(len(body) - n)
		out = kr.AppendTo(out)
	}
	return out
}

func TestInteropKmsgToSegment(t *testing.T) {
	records := sampleRecords(30)
	baseTime := int64(1_700_000_000_000) // the smallest timestamp in sampleRecords
	maxTime := baseTime
	for _, r := range records {
		maxTime = max(maxTime, r.Timestamp)
	}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			raw := kmsgRecords(records, baseTime)
			payload := raw
			if codec != CompressionNone {
				payload = mustCompress(t, codec, raw)
			}
			batch := kmsg.RecordBatch{
				FirstOffset:          500,
				PartitionLeaderEpoch: 7,
				Magic:                2,
				Attributes:           int16(codec),
				LastOffsetDelta:      int32(len(records) - 1),
				FirstTimestamp:       baseTime,
				MaxTimestamp:         maxTime,
				ProducerID:           -1,
				ProducerEpoch:        -1,
				FirstSequence:        -1,
				NumRecords:           int32(len(records)),
				Records:              payload,
			}
			batch.Length = int32(HeaderSize - 12 + len(payload))
			// The CRC covers attributes..end: serialize with a zero CRC and checksum from byte 21.
			unsummed := batch.AppendTo(nil)
			batch.CRC = int32(crc32.Checksum(unsummed[21:], castagnoli))
			frame := batch.AppendTo(nil)

			b, got := mustDecode(t, frame)
			if b.Header.BaseOffset != 500 || b.Header.PartitionLeaderEpoch != 7 || b.Header.LastOffset() != 529 {
				t.Fatalf("header %+v", b.Header)
			}
			equalRecords(t, got, withOffsets(records, 500))
			// Our own encoding of the same batch is the same bytes, when uncompressed.
			if codec == CompressionNone {
				ours := mustAppend(t, nil, records, EncodeOptions{BaseOffset: 500, Epoch: 7})
				if string(ours) != string(frame) {
					t.Fatal("AppendBatch and kmsg encode the same batch differently")
				}
			}
		})
	}
}

func TestInteropSegmentToKmsg(t *testing.T) {
	records := sampleRecords(25)
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			frame := mustAppend(t, nil, records, EncodeOptions{BaseOffset: 77, Epoch: 4, Compression: codec})
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(frame); err != nil {
				t.Fatal(err)
			}
			if got := crc32.Checksum(frame[21:], castagnoli); uint32(kb.CRC) != got {
				t.Fatalf("kmsg read CRC %#x, CRC-32C of the frame is %#x", uint32(kb.CRC), got)
			}
			if kb.FirstOffset != 77 || kb.PartitionLeaderEpoch != 4 || kb.Magic != 2 || int(kb.Length) != len(frame)-12 ||
				kb.Attributes != int16(codec) || kb.LastOffsetDelta != 24 || kb.NumRecords != 25 ||
				kb.ProducerID != -1 || kb.ProducerEpoch != -1 || kb.FirstSequence != -1 {
				t.Fatalf("kmsg batch %+v", kb)
			}
			raw := kb.Records
			if codec != CompressionNone {
				var err error
				if raw, err = decompress(raw, codec, DefaultMaxBatchBytes); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range records {
				length, n := binary.Varint(raw)
				if n <= 0 {
					t.Fatalf("record %d: bad length", i)
				}
				var kr kmsg.Record
				if err := kr.ReadFrom(raw[:n+int(length)]); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				raw = raw[n+int(length):]
				if kb.FirstTimestamp+kr.TimestampDelta64 != want.Timestamp || kr.OffsetDelta != int32(i) {
					t.Fatalf("record %d: timestamp/offset delta %d/%d", i, kr.TimestampDelta64, kr.OffsetDelta)
				}
				equalBytes(t, "key", kr.Key, want.Key)
				equalBytes(t, "value", kr.Value, want.Value)
				if len(kr.Headers) != len(want.Headers) {
					t.Fatalf("record %d: %d headers", i, len(kr.Headers))
				}
				for j, h := range want.Headers {
					if kr.Headers[j].Key != h.Key {
						t.Fatalf("record %d header %d key %q", i, j, kr.Headers[j].Key)
					}
					equalBytes(t, "header value", kr.Headers[j].Value, h.Value)
				}
			}
			if len(raw) != 0 {
				t.Fatalf("%d bytes after the records", len(raw))
			}
		})
	}
}
