package index

import (
	"slices"
	"testing"
)

func TestEntries(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []Entry{{Offset: 0, Position: 0, Timestamp: 10}, {Offset: 40, Position: 4100, Timestamp: 12}, {Offset: 90, Position: 0, Timestamp: 15}}
	if err := s.AddEntries("t", 1, []Entry{want[2], want[0], want[1]}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntries("t", 2, []Entry{{Offset: 5, Position: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntries("t2", 1, []Entry{{Offset: 6, Position: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Entries("t", 1)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Entries: %v %v, want %v", got, err, want)
	}
	if got, err := s.Entries("none", 0); err != nil || len(got) != 0 {
		t.Errorf("Entries of an unknown partition: %v %v", got, err)
	}
	if _, err := s.Entries("bad/name", 0); err == nil {
		t.Error("Entries accepted a bad topic name")
	}
}
