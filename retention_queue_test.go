package mqlog

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestRetentionByInterestWithWorkQueue: under interest retention, a work-queue group holds segments back
// like a fan-out group does: only what its ack floor has passed is deleted, even when a fan-out group has
// consumed more, and a work-queue group with no ack on a partition holds that whole partition.
func TestRetentionByInterestWithWorkQueue(t *testing.T) {
	db := openCleanerTestDB(t, vfs.NewMem(), Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512, Partitions: 2, RetentionPolicy: RetentionInterest}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for p := range int32(2) {
		for i := range 100 {
			if _, err := db.AppendPartition(ctx, "t", p, Message{Value: crashValue(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CommitGroupOffset("fanout", "t", p, 100); err != nil {
			t.Fatal(err)
		}
	}
	q, err := db.Queue("t", "wq", QueueOptions{AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// Ack partition 0's first 40 messages; leave partition 1 unacked.
	for acked := 0; acked < 40; {
		m, err := q.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Partition == 0 && m.Offset < 40 {
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
			acked++
		}
	}
	floors, err := db.workQueueFloors("t")
	if err != nil || floors[0] != 40 || floors[1] != 0 {
		t.Fatalf("work-queue floors %v, %v; want [0]=40 [1]=0", floors, err)
	}
	reps, err := db.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		switch rep.Partition {
		case 0:
			if rep.Deleted.Segments == 0 || rep.StartOffset > 40 {
				t.Fatalf("partition 0: %+v; want segments below the ack floor 40 deleted", rep)
			}
		case 1:
			if rep.Deleted.Segments != 0 || rep.StartOffset != 0 {
				t.Fatalf("partition 1: %+v; nothing acked there, nothing may go", rep)
			}
		}
	}
}
