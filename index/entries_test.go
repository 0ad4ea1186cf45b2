package index

import (
	"math"
	"testing"
)

func TestFloorEntry(t *testing.T) {
	s, _ := openMem(t)
	entries := []Entry{{Offset: 100, Position: 0, Timestamp: 1000}, {Offset: 200, Position: 4096, Timestamp: 2000}, {Offset: 300, Position: 8192, Timestamp: 2000}}
	if err := s.AddEntries("a", 1, entries); err != nil {
		t.Fatal(err)
	}
	// Neighbours that must not leak into topic "a" partition 1: another partition whose number starts
	// with the same digit, partition 0 and 2 on either side, and topics "a.b" and "a-" that extend "a".
	neighbours := []struct {
		topic     string
		partition int32
	}{{"a", 10}, {"a", 0}, {"a", 2}, {"a.b", 1}, {"a-", 1}, {"b", 1}, {"A", 1}}
	for i, n := range neighbours {
		offsets := []Entry{{Offset: 0, Position: 1}, {Offset: 150, Position: 2}, {Offset: 250, Position: 3}, {Offset: 1000, Position: int64(10 + i)}}
		if err := s.AddEntries(n.topic, n.partition, offsets); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		offset int64
		want   Entry
		ok     bool
	}{
		{"negative", -1, Entry{}, false},
		{"zero", 0, Entry{}, false},
		{"before first", 99, Entry{}, false},
		{"exact first", 100, entries[0], true},
		{"between", 150, entries[0], true},
		{"just before second", 199, entries[0], true},
		{"exact middle", 200, entries[1], true},
		{"exact last", 300, entries[2], true},
		{"after last", 301, entries[2], true},
		{"far after last", math.MaxInt64, entries[2], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.FloorEntry("a", 1, tt.offset)
			if err != nil || ok != tt.ok || got != tt.want {
				t.Fatalf("FloorEntry(a, 1, %d) = %+v, %v, %v; want %+v, %v", tt.offset, got, ok, err, tt.want, tt.ok)
			}
		})
	}
	// The neighbours see their own entries.
	for i, n := range neighbours {
		got, ok, err := s.FloorEntry(n.topic, n.partition, math.MaxInt64)
		if err != nil || !ok || got.Offset != 1000 || got.Position != int64(10+i) {
			t.Errorf("FloorEntry(%s, %d, max) = %+v, %v, %v", n.topic, n.partition, got, ok, err)
		}
	}
	if got, ok, err := s.FloorEntry("a", 3, 1000); err != nil || ok {
		t.Errorf("FloorEntry of an empty partition = %+v, %v, %v", got, ok, err)
	}
	if got, ok, err := s.FloorEntry("a.", 1, 1000); err != nil || ok {
		t.Errorf("FloorEntry of an empty topic = %+v, %v, %v", got, ok, err)
	}
}

func TestAddEntriesReplaces(t *testing.T) {
	s, _ := openMem(t)
	if err := s.AddEntries("t", 0, []Entry{{Offset: 5, Position: 1, Timestamp: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntries("t", 0, nil); err != nil {
		t.Fatalf("AddEntries of nothing: %v", err)
	}
	if got, ok, err := s.FloorEntry("t", 0, 5); err != nil || !ok || got != (Entry{5, 1, -1}) {
		t.Fatalf("FloorEntry = %+v, %v, %v (a negative timestamp must round-trip)", got, ok, err)
	}
	if err := s.AddEntries("t", 0, []Entry{{Offset: 5, Position: 2, Timestamp: 7}}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.FloorEntry("t", 0, 5); err != nil || !ok || got != (Entry{5, 2, 7}) {
		t.Fatalf("FloorEntry after replace = %+v, %v, %v", got, ok, err)
	}
}

// Entries of other partitions and of a topic whose name extends this one never answer a lookup.
func TestLastEntryBeforeTimeStaysInItsPartition(t *testing.T) {
	s, _ := openMem(t)
	entries := []Entry{{Offset: 0, Position: 0, Timestamp: 1000}, {Offset: 10, Position: 100, Timestamp: 2000}, {Offset: 20, Position: 200, Timestamp: 2000}, {Offset: 30, Position: 300, Timestamp: 3000}}
	if err := s.AddEntries("t", 1, entries); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntries("t", 10, []Entry{{Offset: 0, Timestamp: 500}, {Offset: 40, Timestamp: 9000}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntries("t.x", 1, []Entry{{Offset: 40, Timestamp: 9000}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ts   int64
		want Entry
		ok   bool
	}{
		{math.MinInt64, Entry{}, false},
		{0, Entry{}, false},
		{1000, Entry{}, false},
		{1001, entries[0], true},
		{2000, entries[0], true},
		{2500, entries[2], true},
		{3000, entries[2], true},
		{3001, entries[3], true},
		{9000, entries[3], true},
	}
	for _, tt := range tests {
		got, ok, err := s.LastEntryBeforeTime("t", 1, tt.ts)
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("LastEntryBeforeTime(t, 1, %d) = %+v, %v, %v; want %+v, %v", tt.ts, got, ok, err, tt.want, tt.ok)
		}
	}
	if got, ok, err := s.LastEntryBeforeTime("t", 2, math.MaxInt64); err != nil || ok {
		t.Errorf("LastEntryBeforeTime of an empty partition = %+v, %v, %v", got, ok, err)
	}
}

func TestDeleteEntries(t *testing.T) {
	s, _ := openMem(t)
	var entries []Entry
	for o := int64(0); o <= 100; o += 10 {
		entries = append(entries, Entry{Offset: o, Position: o * 10, Timestamp: o})
	}
	for _, p := range []int32{1, 10} {
		if err := s.AddEntries("t", p, entries); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddEntries("t.b", 1, entries); err != nil {
		t.Fatal(err)
	}
	// offsets lists the entry offsets of a partition.
	offsets := func(topic string, p int32) []int64 {
		t.Helper()
		entries, err := s.Entries(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range entries {
			got = append(got, e.Offset)
		}
		return got
	}
	check := func(topic string, p int32, want ...int64) {
		t.Helper()
		got := offsets(topic, p)
		if len(got) != len(want) {
			t.Fatalf("entries of %s-%d = %v, want %v", topic, p, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("entries of %s-%d = %v, want %v", topic, p, got, want)
			}
		}
	}
	all := []int64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}

	if err := s.DeleteEntriesFrom("t", 1, 75); err != nil {
		t.Fatal(err)
	}
	check("t", 1, 0, 10, 20, 30, 40, 50, 60, 70)
	if err := s.DeleteEntriesFrom("t", 1, 70); err != nil {
		t.Fatal(err)
	}
	check("t", 1, 0, 10, 20, 30, 40, 50, 60)
	if err := s.DeleteEntriesBefore("t", 1, 20); err != nil {
		t.Fatal(err)
	}
	check("t", 1, 20, 30, 40, 50, 60)
	if err := s.DeleteEntriesBefore("t", 1, 25); err != nil {
		t.Fatal(err)
	}
	check("t", 1, 30, 40, 50, 60)
	if err := s.DeleteEntriesBefore("t", 1, -5); err != nil {
		t.Fatal(err)
	}
	check("t", 1, 30, 40, 50, 60)
	check("t", 10, all...)
	check("t.b", 1, all...)

	if err := s.DeleteEntriesFrom("t", 10, -1); err != nil {
		t.Fatal(err)
	}
	check("t", 10)
	if err := s.DeleteEntriesBefore("t.b", 1, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	check("t.b", 1)
	check("t", 1, 30, 40, 50, 60)
}
