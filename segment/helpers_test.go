package segment

import (
	"bytes"
	"fmt"
	"testing"
)

var allCodecs = []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

// sampleRecords returns n records with fixed timestamps, keys, values and headers, some null, some empty.
func sampleRecords(n int) []Record {
	records := make([]Record, n)
	for i := range records {
		r := &records[i]
		r.Timestamp = 1_700_000_000_000 + int64(i*7%5) // not sorted: min and max are not first and last
		switch i % 4 {
		case 0:
			r.Key = []byte(fmt.Sprintf("key-%d", i))
			r.Value = bytes.Repeat([]byte{byte('a' + i%26)}, 10+i%50)
		case 1:
			r.Key = nil // null key
			r.Value = []byte{}
		case 2:
			r.Key = []byte{}
			r.Value = nil // tombstone
		case 3:
			r.Key = []byte("k")
			r.Value = []byte(fmt.Sprintf("value %d", i))
			r.Headers = []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}
		}
	}
	return records
}

// equalRecords compares records field by field, telling nil from empty.
func equalRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := &got[i], &want[i]
		if g.Offset != w.Offset || g.Timestamp != w.Timestamp {
			t.Fatalf("record %d: offset/timestamp %d/%d, want %d/%d", i, g.Offset, g.Timestamp, w.Offset, w.Timestamp)
		}
		equalBytes(t, fmt.Sprintf("record %d key", i), g.Key, w.Key)
		equalBytes(t, fmt.Sprintf("record %d value", i), g.Value, w.Value)
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key {
				t.Fatalf("record %d header %d: key %q, want %q", i, j, g.Headers[j].Key, w.Headers[j].Key)
			}
			equalBytes(t, fmt.Sprintf("record %d header %d value", i, j), g.Headers[j].Value, w.Headers[j].Value)
		}
	}
}

func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%s = %q (nil %v), want %q (nil %v)", what, got, got == nil, want, want == nil)
	}
}

// withOffsets returns records with Offset set to base+i, as decoding sets it.
func withOffsets(records []Record, base int64) []Record {
	out := append([]Record(nil), records...)
	for i := range out {
		out[i].Offset = base + int64(i)
	}
	return out
}

// mustAppend encodes records or fails the test.
func mustAppend(t testing.TB, dst []byte, records []Record, opts EncodeOptions) []byte {
	t.Helper()
	out, err := AppendBatch(dst, records, opts)
	if err != nil {
		t.Fatalf("AppendBatch: %v", err)
	}
	return out
}

// mustDecode decodes one whole frame and its records or fails the test.
func mustDecode(t testing.TB, frame []byte) (Batch, []Record) {
	t.Helper()
	b, err := DecodeBatch(frame, Limits{})
	if err != nil {
		t.Fatalf("DecodeBatch: %v", err)
	}
	records, err := b.Records(nil, false, Limits{})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return b, records
}

// encodeRecords returns the records' encodings as a batch holds them before compression.
func encodeRecords(t testing.TB, records []Record, baseTime int64, opts EncodeOptions) []byte {
	t.Helper()
	size, err := recordsSize(records, baseTime, opts)
	if err != nil {
		t.Fatal(err)
	}
	return appendRecords(make([]byte, 0, size), records, baseTime, opts)
}
