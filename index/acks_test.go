package index

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAckStateRoundTrip(t *testing.T) {
	s, fs := openMem(t)
	states := []AckState{
		{Group: "work", Topic: "orders", Partition: 0, Floor: 0},
		{Group: "work", Topic: "orders", Partition: 1, Incarnation: 9, Floor: 17, Acked: []AckRange{{17 + 1, 20}, {25, 26}, {1 << 40, 1<<40 + 3}},
			Delivered: 1<<40 + 5, Redelivered: []DeliveryCount{{17, 3}, {21, 2}, {1<<40 + 4, 1<<31 - 1}}},
		{Group: "work", Topic: "audit", Partition: 3, Floor: 5, Acked: []AckRange{{5 + 2, 9}}},
		{Group: "other", Topic: "orders", Partition: 0, Floor: 99},
	}
	for _, st := range states {
		if err := s.SaveAckState(st); err != nil {
			t.Fatal(err)
		}
	}
	// A later save replaces the earlier one.
	states[0] = AckState{Group: "work", Topic: "orders", Partition: 0, Floor: 3, Acked: []AckRange{{4, 5}}}
	if err := s.SaveAckState(states[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFS(t, fs, "data/index")
	got, err := s.AckStates("work")
	if err != nil {
		t.Fatal(err)
	}
	want := []AckState{states[2], states[0], states[1]}
	if !slices.EqualFunc(got, want, equalAckState) {
		t.Fatalf("AckStates(work) = %v, want %v", got, want)
	}
	all, err := s.AckStates("")
	if err != nil || len(all) != 4 || all[0].Group != "other" {
		t.Fatalf("AckStates() = %v, %v", all, err)
	}
	if err := s.DeleteAckStates("work"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AckStates("work"); err != nil || len(got) != 0 {
		t.Fatalf("after delete: %v, %v", got, err)
	}
}

func equalAckState(a, b AckState) bool {
	return a.Group == b.Group && a.Topic == b.Topic && a.Partition == b.Partition && a.Floor == b.Floor &&
		a.Incarnation == b.Incarnation && max(a.Delivered, a.Floor) == max(b.Delivered, b.Floor) &&
		slices.Equal(a.Acked, b.Acked) && slices.Equal(a.Redelivered, b.Redelivered)
}

func TestDecodeAckStateVersion1(t *testing.T) {
	// Version 1: the version byte, the floor, then the ranges; no incarnation, cursor or counts.
	v1 := []byte{1, 0, 0, 0, 0, 0, 0, 0, 10, 2, 2, 2, 6, 1}
	var st AckState
	if err := decodeAckState(nil, v1, &st); err != nil {
		t.Fatal(err)
	}
	want := AckState{Floor: 10, Acked: []AckRange{{12, 14}, {20, 21}}, Delivered: 10}
	if !equalAckState(st, want) || st.Delivered != 10 || st.Incarnation != 0 {
		t.Fatalf("version 1 decoded as %+v, want %+v", st, want)
	}
}

func TestSaveAckStateRejectsBadDeliveryCounts(t *testing.T) {
	s, _ := openMem(t)
	for _, counts := range [][]DeliveryCount{
		{{4, 2}},         // below the floor
		{{12, 2}},        // at the delivery cursor
		{{6, 1}},         // a count of 1 is not a redelivery
		{{7, 2}, {6, 3}}, // unsorted
	} {
		err := s.SaveAckState(AckState{Group: "g", Topic: "t", Floor: 5, Delivered: 12, Redelivered: counts})
		if !errors.Is(err, ErrInvalidOffset) {
			t.Errorf("SaveAckState(%v) = %v, want ErrInvalidOffset", counts, err)
		}
	}
}

func TestSaveAckStateRejectsBadRanges(t *testing.T) {
	s, _ := openMem(t)
	for _, acked := range [][]AckRange{
		{{5, 5}},           // empty
		{{3, 6}},           // below the floor
		{{6, 8}, {7, 9}},   // overlapping
		{{6, 8}, {8, 9}},   // adjacent: should have been merged
		{{10, 12}, {6, 8}}, // unsorted
	} {
		err := s.SaveAckState(AckState{Group: "g", Topic: "t", Floor: 5, Acked: acked})
		if !errors.Is(err, ErrInvalidOffset) {
			t.Errorf("SaveAckState(%v) = %v, want ErrInvalidOffset", acked, err)
		}
	}
}

func TestDecodeAckStateCorrupt(t *testing.T) {
	good := encodeAckState(AckState{Incarnation: 3, Floor: 10, Acked: []AckRange{{12, 14}, {20, 21}}, Delivered: 30,
		Redelivered: []DeliveryCount{{11, 2}, {25, 4}}})
	var st AckState
	if err := decodeAckState(nil, good, &st); err != nil {
		t.Fatal(err)
	}
	// Every truncation, and random garbage, is an error or a valid state; never a panic or a huge
	// allocation.
	for i := range len(good) {
		if err := decodeAckState([]byte("k"), good[:i], &AckState{}); !errors.Is(err, ErrCorruptValue) {
			t.Errorf("truncated to %d bytes: %v, want ErrCorruptValue", i, err)
		}
	}
	bad := slices.Clone(good)
	bad[0] = 9
	if err := decodeAckState(nil, bad, &AckState{}); !errors.Is(err, ErrCorruptValue) {
		t.Errorf("unknown version: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if len(b) > 0 {
			b[0] = byte(1 + rng.IntN(3))
		}
		var st AckState
		if err := decodeAckState(nil, b, &st); err == nil {
			prev := st.Floor
			for _, r := range st.Acked {
				if r.Start < prev || r.End <= r.Start {
					t.Fatalf("decoded invalid ranges %v above %d from %x", st.Acked, st.Floor, b)
				}
				prev = r.End
			}
			for _, d := range st.Redelivered {
				if d.Offset < st.Floor || d.Offset >= st.Delivered || d.Count < 2 {
					t.Fatalf("decoded invalid delivery counts %v from %x", st.Redelivered, b)
				}
			}
			for i, d := range st.Ahead {
				if d.Offset < st.Delivered || d.Count < 1 || (i > 0 && d.Offset <= st.Ahead[i-1].Offset) {
					t.Fatalf("decoded invalid deliveries ahead %v from %x", st.Ahead, b)
				}
			}
		}
	}
}

func TestLastEntryBeforeTime(t *testing.T) {
	s, _ := openMem(t)
	if _, ok, err := s.LastEntryBeforeTime("t", 0, 100); ok || err != nil {
		t.Fatalf("empty: ok %v err %v", ok, err)
	}
	// Entries at sparse offsets with non-decreasing timestamps, some equal.
	var entries []Entry
	ts := int64(1000)
	rng := rand.New(rand.NewPCG(3, 4))
	for off := int64(0); off < 5000; off += 1 + rng.Int64N(7) {
		ts += rng.Int64N(3) // often equal
		entries = append(entries, Entry{Offset: off, Position: off * 10, Timestamp: ts})
	}
	if err := s.AddEntries("t", 0, entries); err != nil {
		t.Fatal(err)
	}
	for q := int64(990); q <= ts+2; q++ {
		var want Entry
		wantOK := false
		for _, e := range entries {
			if e.Timestamp < q {
				want, wantOK = e, true
			}
		}
		got, ok, err := s.LastEntryBeforeTime("t", 0, q)
		if err != nil || ok != wantOK || got != want {
			t.Fatalf("LastEntryBeforeTime(%d) = %v %v %v, want %v %v", q, got, ok, err, want, wantOK)
		}
	}
}
