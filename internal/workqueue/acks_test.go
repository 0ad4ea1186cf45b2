package workqueue

import (
	"math/rand/v2"
	"testing"
)

// TestAckSetMatchesModel acks random offsets out of order and checks the set against a plain map after
// each one: membership, next unacked offset, and the invariants of the compact form.
func TestAckSetMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 50 {
		var a ackSet
		acked := map[int64]bool{}
		n := int64(1 + rng.IntN(200))
		for range 3 * n {
			off := rng.Int64N(n)
			if got, want := a.add(off), !acked[off]; got != want {
				t.Fatalf("round %d: add(%d) = %v, want %v", round, off, got, want)
			}
			acked[off] = true
			checkAckSet(t, &a, acked, n)
		}
		for off := range n {
			a.add(off)
		}
		if a.floor != n || len(a.ranges) != 0 {
			t.Fatalf("round %d: all %d acked but floor %d ranges %v", round, n, a.floor, a.ranges)
		}
	}
}

func checkAckSet(t *testing.T, a *ackSet, acked map[int64]bool, n int64) {
	t.Helper()
	prev := a.floor
	for i, r := range a.ranges {
		if r.End <= r.Start || r.Start < prev || (r.Start == prev) {
			t.Fatalf("ranges not compact: floor %d, range %d of %v", a.floor, i, a.ranges)
		}
		prev = r.End
	}
	for off := range n + 1 {
		if a.contains(off) != acked[off] {
			t.Fatalf("contains(%d) = %v, want %v (floor %d, ranges %v)", off, a.contains(off), acked[off], a.floor, a.ranges)
		}
	}
}

// TestAckSetStaysSmall: one message left unacked while every other is acked keeps one range.
func TestAckSetStaysSmall(t *testing.T) {
	var a ackSet
	for off := int64(1); off < 100000; off++ {
		a.add(off)
	}
	if a.floor != 0 || len(a.ranges) != 1 || a.doneAbove() != 99999 {
		t.Fatalf("floor %d, %d ranges, %d above", a.floor, len(a.ranges), a.doneAbove())
	}
	a.add(0)
	if a.floor != 100000 || len(a.ranges) != 0 {
		t.Fatalf("after the gap is acked: floor %d, ranges %v", a.floor, a.ranges)
	}
}

func TestAckSetRaiseFloorAndTruncate(t *testing.T) {
	var a ackSet
	for _, off := range []int64{3, 4, 8, 9, 10, 15} {
		a.add(off)
	}
	if skipped := a.raiseFloor(9); skipped != 6 { // retention removed [0, 9): 0-2 and 5-7 were not done
		t.Fatalf("raiseFloor(9) skipped %d, want 6", skipped)
	}
	if a.floor != 11 || len(a.ranges) != 1 || a.ranges[0].Start != 15 {
		t.Fatalf("raiseFloor: floor %d ranges %v", a.floor, a.ranges)
	}
	a.truncate(13)
	if a.floor != 11 || len(a.ranges) != 0 {
		t.Fatalf("truncate(13): floor %d ranges %v", a.floor, a.ranges)
	}
	a.truncate(5)
	if a.floor != 5 {
		t.Fatalf("truncate(5): floor %d", a.floor)
	}
}

// TestAckSetAddRangeMatchesModel marks random ranges done (the gaps compaction leaves) among random single
// acks and checks the set, and the count of newly done offsets, against a plain map.
func TestAckSetAddRangeMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 200 {
		var a ackSet
		acked := map[int64]bool{}
		n := int64(2 + rng.IntN(100))
		for range 20 {
			start := rng.Int64N(n)
			end := start + rng.Int64N(n-start) + 1
			if rng.IntN(3) == 0 {
				end = start + 1
			}
			var want int64
			for off := start; off < end; off++ {
				if !acked[off] {
					want++
				}
				acked[off] = true
			}
			if got := a.addRange(start, end); got != want {
				t.Fatalf("round %d: addRange(%d, %d) = %d, want %d", round, start, end, got, want)
			}
			checkAckSet(t, &a, acked, n)
		}
	}
}
