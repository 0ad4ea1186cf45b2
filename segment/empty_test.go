package segment

import (
	"bytes"
	"testing"
)

func TestAppendEmptyBatch(t *testing.T) {
	frame := AppendEmptyBatch(nil, 100, 9, 0, 1234)
	b, err := DecodeBatch(frame, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	h := b.Header
	if h.BaseOffset != 100 || h.LastOffset() != 109 || h.NumRecords != 0 || h.PartitionLeaderEpoch != 0 || h.MaxTimestamp != 1234 || h.FrameSize() != HeaderSize {
		t.Fatalf("header %+v", h)
	}
	recs, err := b.Records(nil, false, Limits{})
	if err != nil || len(recs) != 0 {
		t.Fatalf("records %v, %v", recs, err)
	}
	// Between two batches it keeps the offsets contiguous.
	before, _ := AppendBatch(nil, []Record{{Value: []byte("a")}}, EncodeOptions{BaseOffset: 99})
	after, _ := AppendBatch(nil, []Record{{Value: []byte("b")}}, EncodeOptions{BaseOffset: 110})
	data := append(append(before, frame...), after...)
	res, err := Scan(bytes.NewReader(data), 0, int64(len(data)), ScanOptions{NextOffset: 99, Contiguous: true}, nil)
	if err != nil || res.Stop != nil || res.Batches != 3 || res.LastOffset != 110 {
		t.Fatalf("scan: %+v %v", res, err)
	}
}
