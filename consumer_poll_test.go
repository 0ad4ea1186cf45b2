package mqlog

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestConsumerPollAndLag: Poll returns what is readable now, up to max, without waiting once it has
// something; Lag says when the consumer has caught up; ReadFrom reads from a time.
func TestConsumerPollAndLag(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := db.AppendPartition(ctx, "t", int32(i%2), Message{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(int64(1000 + i))}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if lag, err := c.Lag(); err != nil || lag != 10 {
		t.Fatalf("Lag before reading = %d, %v; want 10", lag, err)
	}
	recs, err := c.Poll(ctx, 4)
	if err != nil || len(recs) != 4 {
		t.Fatalf("Poll(4) = %d records, %v", len(recs), err)
	}
	recs, err = c.Poll(ctx, 0)
	if err != nil || len(recs) != 6 {
		t.Fatalf("Poll(0) = %d records, %v; want the 6 left", len(recs), err)
	}
	if lag, err := c.Lag(); err != nil || lag != 0 {
		t.Fatalf("Lag after reading everything = %d, %v", lag, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, err := c.Poll(short, 0); err != context.DeadlineExceeded {
		t.Fatalf("Poll at the end = %v, want the deadline", err)
	}
	n := 0
	for rec, err := range db.ReadFrom("t", 1, time.UnixMilli(1005)) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Timestamp.UnixMilli() < 1005 {
			t.Fatalf("ReadFrom returned %v", rec.Timestamp)
		}
		n++
	}
	if n != 3 { // 1005, 1007, 1009
		t.Fatalf("ReadFrom read %d records, want 3", n)
	}
}
