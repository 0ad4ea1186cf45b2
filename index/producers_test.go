package index

import (
	"errors"
	"testing"
)

func TestProducerSnapshotsAndNextID(t *testing.T) {
	s, fs := openMem(t)
	if snap, err := s.ProducerSnapshot("orders", 0); err != nil || snap != nil {
		t.Fatalf("no snapshot yet: %q, %v", snap, err)
	}
	if err := s.SaveProducerSnapshot("orders", 1, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if snap, _ := s.ProducerSnapshot("orders", 0); snap != nil {
		t.Fatalf("partition 0 has partition 1's snapshot: %q", snap)
	}
	if snap, err := s.ProducerSnapshot("orders", 1); err != nil || string(snap) != "state" {
		t.Fatalf("snapshot %q, %v", snap, err)
	}
	if next, err := s.NextProducerID(); err != nil || next != 0 {
		t.Fatalf("next id %d, %v", next, err)
	}
	if err := s.SetNextProducerID(3000); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNextProducerID(-1); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("negative next id: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFS(t, fs, "data/index")
	if next, err := s.NextProducerID(); err != nil || next != 3000 {
		t.Fatalf("next id after reopen %d, %v", next, err)
	}
	// The keys of other kinds are untouched: topics, groups.
	if topics, err := s.Topics(); err != nil || len(topics) != 0 {
		t.Fatalf("topics %v, %v", topics, err)
	}
	if _, err := s.ProducerSnapshot("bad/name", 0); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("bad topic: %v", err)
	}
}

func TestDeleteTopicDropsProducerSnapshots(t *testing.T) {
	s, _ := openMem(t)
	if err := s.SaveProducerSnapshot("orders", 0, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProducerSnapshot("orders.b", 0, []byte("other")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic("orders", nil); err != nil {
		t.Fatal(err)
	}
	if snap, err := s.ProducerSnapshot("orders", 0); err != nil || snap != nil {
		t.Fatalf("snapshot of a deleted topic: %q, %v", snap, err)
	}
	if snap, _ := s.ProducerSnapshot("orders.b", 0); string(snap) != "other" {
		t.Fatalf("another topic's snapshot went too: %q", snap)
	}
}
