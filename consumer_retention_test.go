package mqlog

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestConsumerBehindRetention: a group member whose next offset is deleted by size retention while it
// reads goes on from the log's new start (Kafka's auto.offset.reset=earliest), in order, without an error.
func TestConsumerBehindRetention(t *testing.T) {
	db := openCleanerTestDB(t, vfs.NewMem(), Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512, RetentionBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 20)
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	first, err := c.Next(ctx)
	if err != nil || first.Offset != 0 {
		t.Fatalf("first record %d, %v", first.Offset, err)
	}
	appendValues(t, db, 20, 80)
	if _, err := db.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	parts, _ := db.Partitions("t")
	start := parts[0].StartOffset
	if start <= 20 {
		t.Fatalf("retention kept the log from %d: the test needs it past the consumer", start)
	}
	prev := int64(-1)
	for n := 0; n < 10; n++ {
		rec, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("Next after retention: %v", err)
		}
		if (prev < 0 && rec.Offset < start) || (prev >= 0 && rec.Offset != prev+1) {
			t.Fatalf("record %d after %d, log start %d", rec.Offset, prev, start)
		}
		prev = rec.Offset
	}
}
