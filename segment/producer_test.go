package segment

import "testing"

func TestSetProducerKeepsFrameValid(t *testing.T) {
	frame, err := AppendBatch(nil, sampleRecords(5), EncodeOptions{Compression: CompressionLZ4})
	if err != nil {
		t.Fatal(err)
	}
	SetProducer(frame, 1<<40, 3, 1<<30)
	b, err := DecodeBatch(frame, Limits{})
	if err != nil {
		t.Fatalf("frame invalid after SetProducer: %v", err)
	}
	if h := b.Header; h.ProducerID != 1<<40 || h.ProducerEpoch != 3 || h.BaseSequence != 1<<30 {
		t.Fatalf("header %+v", h)
	}
	if recs, err := b.Records(nil, false, Limits{}); err != nil || len(recs) != 5 {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
}
