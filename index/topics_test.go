package index

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestCreateTopicRaisesIncarnationAndDropsTombstone(t *testing.T) {
	s, _ := openMem(t)
	if last, err := s.LastIncarnation(); err != nil || last != 0 {
		t.Fatalf("LastIncarnation of a new store = %d, %v", last, err)
	}
	if err := s.CreateTopic("orders", []byte("cfg1"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic("orders", []byte("tomb1")); err != nil {
		t.Fatal(err)
	}
	if tombs, err := s.Tombstones(); err != nil || string(tombs["orders"]) != "tomb1" {
		t.Fatalf("Tombstones = %q, %v", tombs, err)
	}
	if err := s.CreateTopic("orders", []byte("cfg2"), 1); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("CreateTopic reusing incarnation 1 = %v, want ErrInvalidOffset", err)
	}
	if err := s.CreateTopic("orders", []byte("cfg2"), 2); err != nil {
		t.Fatal(err)
	}
	if tombs, err := s.Tombstones(); err != nil || len(tombs) != 0 {
		t.Fatalf("Tombstones after re-creating = %q, %v", tombs, err)
	}
	if cfg, ok, err := s.Topic("orders"); err != nil || !ok || string(cfg) != "cfg2" {
		t.Fatalf("Topic = %q, %v, %v", cfg, ok, err)
	}
	if last, err := s.LastIncarnation(); err != nil || last != 2 {
		t.Fatalf("LastIncarnation = %d, %v, want 2", last, err)
	}
	if err := s.DeleteTopic("orders", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTombstone("orders"); err != nil {
		t.Fatal(err)
	}
}

func TestGroupOffsetIncarnation(t *testing.T) {
	s, _ := openMem(t)
	if err := s.CommitOffsets("g", []GroupOffset{{Topic: "t", Partition: 1, Offset: 9, Incarnation: 7}}); err != nil {
		t.Fatal(err)
	}
	if off, inc, ok, err := s.GroupOffset("g", "t", 1); err != nil || !ok || off != 9 || inc != 7 {
		t.Fatalf("GroupOffset = %d, %d, %v, %v; want 9 in incarnation 7", off, inc, ok, err)
	}
	// A value written before incarnations (the offset alone) reads as incarnation 0.
	db, err := s.acquireForWrite()
	if err != nil {
		t.Fatal(err)
	}
	err = db.Set(groupKey("g", "t", 2), encodeGroupValue(4, 0, NoLeaderEpoch, "")[:legacyGroupValueWidth], pebble.Sync)
	s.release()
	if err != nil {
		t.Fatal(err)
	}
	if off, inc, ok, err := s.GroupOffset("g", "t", 2); err != nil || !ok || off != 4 || inc != 0 {
		t.Fatalf("legacy GroupOffset = %d, %d, %v, %v; want 4 in incarnation 0", off, inc, ok, err)
	}
}
