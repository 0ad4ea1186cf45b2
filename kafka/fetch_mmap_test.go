package kafka

import (
	"bytes"
	"context"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fetch of a log of several segments, served from the segments' mappings (ReadMmap MmapViews, the
// default), returns the stored bytes, one segment's frames at a time, fetch after fetch to the end; the
// same log opened with MmapOff (every fetch read into a buffer) gives the same records.
func TestFetchFromMappedSegments(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("seg", mqlog.TopicConfig{Partitions: 1, SegmentBytes: 256 << 10}); err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("m"), 1000)
	msgs := make([]mqlog.Message, 32)
	for i := range msgs {
		msgs[i].Value = value
	}
	for range 40 {
		if _, err := db.Append(context.Background(), "seg", msgs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var stored [][]byte
	for _, policy := range []mqlog.MmapPolicy{mqlog.MmapViews, mqlog.MmapOff} {
		db, err := mqlog.Open(dir, &mqlog.Options{ReadMmap: policy})
		if err != nil {
			t.Fatal(err)
		}
		ts := startServerOn(t, db, nil)
		c := dial(t, ts.addr)
		p := mustPartition(t, db, "seg", 0)
		var all []byte
		for from := int64(0); from < p.HighWatermark(); {
			resp := c.do(fetchReq(11, "seg", 0, from, 1, 1000)).(*kmsg.FetchResponse)
			got := resp.Topics[0].Partitions[0]
			if got.ErrorCode != 0 || len(got.RecordBatches) == 0 {
				t.Fatalf("%v: fetch from %d: error %d, %d bytes", policy, from, got.ErrorCode, len(got.RecordBatches))
			}
			want, err := p.ReadBatches(nil, from, len(got.RecordBatches))
			if err != nil || !bytes.HasPrefix(want, got.RecordBatches) {
				t.Fatalf("%v: fetch from %d: %d bytes, not the stored ones (%v)", policy, from, len(got.RecordBatches), err)
			}
			for rest := got.RecordBatches; len(rest) > 0; {
				h, err := segment.ParseHeader(rest)
				if err != nil {
					t.Fatal(err)
				}
				from, rest = h.LastOffset()+1, rest[h.FrameSize():]
			}
			all = append(all, got.RecordBatches...)
		}
		stored = append(stored, all)
		ts.stop(t) // (and closes db)
	}
	if !bytes.Equal(stored[0], stored[1]) || len(stored[0]) < 1<<20 {
		t.Fatalf("fetched %d bytes through the mappings, %d without", len(stored[0]), len(stored[1]))
	}
}
