package mqlog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestAddPartitions: a topic grown from 1 to 3 partitions keeps its data, routes new messages to all
// three, rebalances a consumer group onto the new partitions, hands them to an open work-queue group, and
// keeps the count after a reopen. It can only grow.
func TestAddPartitions(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	appendN(t, db, "t", 3)
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	if _, err := db.AddPartitions("t", 1); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("AddPartitions to the same count: %v", err)
	}
	cfg, err := db.AddPartitions("t", 3)
	if err != nil || cfg.Partitions != 3 {
		t.Fatalf("AddPartitions = %+v, %v", cfg, err)
	}
	for p := range int32(3) {
		if _, err := db.AppendPartition(ctx, "t", p, Message{Value: []byte("new")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Assigned(); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Fatalf("consumer assigned %v after the growth", got)
	}
	seen := map[int32]int{}
	for range 6 {
		rec, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[rec.Partition]++
	}
	if seen[0] != 4 || seen[1] != 1 || seen[2] != 1 {
		t.Fatalf("consumer read %v", seen)
	}
	got := map[int32]int{}
	for range 6 {
		m, err := q.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got[m.Partition]++
	}
	if got[1] != 1 || got[2] != 1 {
		t.Fatalf("queue delivered %v", got)
	}
	c.Close()
	q.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	if cfg, err := db.TopicConfig("t"); err != nil || cfg.Partitions != 3 {
		t.Fatalf("after reopen: %+v, %v", cfg, err)
	}
	if n := len(readAll(t, db, "t", 2)); n != 1 {
		t.Fatalf("partition 2 holds %d after reopen", n)
	}
}

// TestNoAutoCreateTopics: with auto-creation off, Append to a missing topic fails and creates nothing.
func TestNoAutoCreateTopics(t *testing.T) {
	db, err := Open("/data", &Options{FS: vfs.NewMem(), NoAutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Append(context.Background(), "typo", Message{Value: []byte("x")}); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("Append to a missing topic: %v", err)
	}
	if len(db.Topics()) != 0 {
		t.Fatalf("topics %v", db.Topics())
	}
	if err := db.CreateTopic("real", TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(context.Background(), "real", Message{Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}
