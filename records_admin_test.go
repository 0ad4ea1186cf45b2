package mqlog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mqlog/mqlog"
)

// TestDeleteRecords: the start offset rises to the offset asked, durably, reads below it are
// ErrOutOfRange, a group's position below it reads from the new start; past the high watermark is
// ErrOutOfRange, a compacted topic ErrCompactedTopic, and -1 is the high watermark.
func TestDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		if _, err := db.AppendPartition(ctx, "t", 0, mqlog.Message{Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CommitGroupOffset("g", "t", 0, 2); err != nil {
		t.Fatal(err)
	}
	if start, err := db.DeleteRecords("t", 0, 11); !errors.Is(err, mqlog.ErrOutOfRange) {
		t.Errorf("DeleteRecords past the high watermark: %d, %v; want ErrOutOfRange", start, err)
	}
	if start, err := db.DeleteRecords("t", 0, -2); !errors.Is(err, mqlog.ErrOutOfRange) {
		t.Errorf("DeleteRecords below -1: %d, %v; want ErrOutOfRange", start, err)
	}
	if start, err := db.DeleteRecords("t", 0, 6); err != nil || start != 6 {
		t.Fatalf("DeleteRecords(6) = %d, %v", start, err)
	}
	if start, err := db.DeleteRecords("t", 0, 3); err != nil || start != 6 {
		t.Errorf("DeleteRecords(3) after 6 = %d, %v; want 6 kept", start, err)
	}
	for _, err := range db.Read("t", 0, 5) {
		if !errors.Is(err, mqlog.ErrOutOfRange) {
			t.Errorf("read below the new start: %v, want ErrOutOfRange", err)
		}
		break
	}
	offs, err := db.GroupOffsets("g")
	if err != nil || len(offs) != 1 || offs[0].Offset != 6 || offs[0].Committed != 2 {
		t.Errorf("group position after DeleteRecords: %+v, %v; want 6 (committed 2)", offs, err)
	}
	if _, err := db.DeleteRecords("t", 1, 0); !errors.Is(err, mqlog.ErrInvalidPartition) {
		t.Errorf("DeleteRecords of a missing partition: %v", err)
	}
	if err := db.CreateTopic("c", mqlog.TopicConfig{CleanupPolicy: mqlog.CleanupCompact}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteRecords("c", 0, 0); !errors.Is(err, mqlog.ErrCompactedTopic) {
		t.Errorf("DeleteRecords of a compacted topic: %v, want ErrCompactedTopic", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if parts, err := db.Partitions("t"); err != nil || parts[0].StartOffset != 6 {
		t.Fatalf("after a restart: %+v, %v; want start 6", parts, err)
	}
	if start, err := db.DeleteRecords("t", 0, -1); err != nil || start != 10 {
		t.Fatalf("DeleteRecords(-1) = %d, %v; want the high watermark 10", start, err)
	}
}

// TestDeleteGroupOffsets: a group's positions go partition by partition; a topic an embedded member of
// the group reads is refused with ErrGroupSubscribed.
func TestDeleteGroupOffsets(t *testing.T) {
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, topic := range []string{"a", "b"} {
		if _, err := db.AppendPartition(ctx, topic, 0, mqlog.Message{Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if err := db.CommitGroupOffset("g", topic, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.Consumer("b", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errs, err := db.DeleteGroupOffsets("g", []mqlog.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "b", Partition: 0}}, nil)
	if err != nil || errs[0] != nil || !errors.Is(errs[1], mqlog.ErrGroupSubscribed) {
		t.Fatalf("DeleteGroupOffsets: %v, %v; want a deleted, b refused", errs, err)
	}
	if _, ok, err := db.FetchGroupOffset("g", "a", 0); err != nil || ok {
		t.Errorf("a/0 after the delete: ok %v, %v", ok, err)
	}
	if off, ok, err := db.FetchGroupOffset("g", "b", 0); err != nil || !ok || off != 1 {
		t.Errorf("b/0 after the refused delete: %d, %v, %v", off, ok, err)
	}
}
