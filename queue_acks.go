package mqlog

import (
	"slices"
	"sort"

	"github.com/mqlog/mqlog/index"
)

// ackSet is the in-memory ack state of one work-queue partition: every offset below floor is acked, and so
// is every offset in ranges (sorted, disjoint, non-adjacent, all above floor). It is what the index stores
// (index.AckState), so a save is a copy of it. The number of ranges is at most the number of gaps, which
// is at most the number of unacked messages delivered above the floor.
type ackSet struct {
	floor  int64
	ranges []index.AckRange
}

// contains reports whether offset is acked.
func (a *ackSet) contains(offset int64) bool {
	if offset < a.floor {
		return true
	}
	i := a.search(offset)
	return i < len(a.ranges) && a.ranges[i].Start <= offset
}

// search returns the index of the first range whose End is > offset.
func (a *ackSet) search(offset int64) int {
	return sort.Search(len(a.ranges), func(i int) bool { return a.ranges[i].End > offset })
}

// add marks offset acked, merging ranges and raising the floor over a range that reaches it. It reports
// whether offset was not acked before.
func (a *ackSet) add(offset int64) bool {
	if a.contains(offset) {
		return false
	}
	i := a.search(offset)
	// Ranges before i end at or before offset; range i (if any) starts after offset.
	joinsPrev := i > 0 && a.ranges[i-1].End == offset
	joinsNext := i < len(a.ranges) && a.ranges[i].Start == offset+1
	switch {
	case joinsPrev && joinsNext:
		a.ranges[i-1].End = a.ranges[i].End
		a.ranges = slices.Delete(a.ranges, i, i+1)
	case joinsPrev:
		a.ranges[i-1].End = offset + 1
	case joinsNext:
		a.ranges[i].Start = offset
	default:
		a.ranges = slices.Insert(a.ranges, i, index.AckRange{Start: offset, End: offset + 1})
	}
	a.normalize()
	return true
}

// raiseFloor moves the floor up to offset (retention removed what lies below it), dropping the ranges
// below it.
func (a *ackSet) raiseFloor(offset int64) {
	if offset <= a.floor {
		return
	}
	a.floor = offset
	i := a.search(offset)
	if i < len(a.ranges) && a.ranges[i].Start < offset {
		a.ranges[i].Start = offset
	}
	a.ranges = slices.Delete(a.ranges, 0, i)
	a.normalize()
}

// truncate forgets acks at or above end (the log's readable end moved back after a crash under a relaxed
// sync policy): offsets there will name other messages.
func (a *ackSet) truncate(end int64) {
	if a.floor > end {
		a.floor = end
	}
	i := a.search(end)
	if i < len(a.ranges) && a.ranges[i].Start < end {
		a.ranges[i].End = end
		i++
	}
	a.ranges = a.ranges[:i]
}

// normalize folds a first range that starts at the floor into the floor.
func (a *ackSet) normalize() {
	if len(a.ranges) > 0 && a.ranges[0].Start == a.floor {
		a.floor = a.ranges[0].End
		a.ranges = slices.Delete(a.ranges, 0, 1)
	}
}

// nextUnacked returns the smallest offset >= from that is not acked.
func (a *ackSet) nextUnacked(from int64) int64 {
	if from < a.floor {
		from = a.floor
	}
	i := a.search(from)
	if i < len(a.ranges) && a.ranges[i].Start <= from {
		return a.ranges[i].End
	}
	return from
}

// ackedAbove returns how many offsets in ranges are acked (those above the floor).
func (a *ackSet) ackedAbove() int64 {
	var n int64
	for _, r := range a.ranges {
		n += r.End - r.Start
	}
	return n
}
