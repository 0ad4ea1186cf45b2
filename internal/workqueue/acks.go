package workqueue

import (
	"slices"
	"sort"

	"github.com/mqlog/mqlog/index"
)

// ackSet is the done set of one partition: every offset below floor is done, and so is every offset in
// ranges (sorted, disjoint, non-adjacent, all above floor). It is what the index stores, so a save is a
// copy of it. The number of ranges is at most the number of gaps, which is at most the number of messages
// delivered above the floor and not done.
type ackSet struct {
	floor  int64
	ranges []index.AckRange
}

// contains reports whether offset is done.
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

// add marks offset done. It reports whether it was not done before.
func (a *ackSet) add(offset int64) bool { return a.addRange(offset, offset+1) > 0 }

// addRange marks [start, end) done, merging ranges and raising the floor over a range that reaches it. It
// returns how many offsets were not done before.
func (a *ackSet) addRange(start, end int64) int64 {
	start = max(start, a.floor)
	if start >= end {
		return 0
	}
	added := end - start - a.doneIn(start, end)
	// Ranges [i, j) touch or overlap [start, end); they merge into one.
	i := sort.Search(len(a.ranges), func(k int) bool { return a.ranges[k].End >= start })
	j := sort.Search(len(a.ranges), func(k int) bool { return a.ranges[k].Start > end })
	if i < j {
		start = min(start, a.ranges[i].Start)
		end = max(end, a.ranges[j-1].End)
	}
	a.ranges = slices.Replace(a.ranges, i, j, index.AckRange{Start: start, End: end})
	a.normalize()
	return added
}

// doneIn counts the done offsets in [start, end), start at or above the floor.
func (a *ackSet) doneIn(start, end int64) int64 {
	var n int64
	for _, r := range a.ranges {
		lo, hi := max(r.Start, start), min(r.End, end)
		if lo < hi {
			n += hi - lo
		}
	}
	return n
}

// raiseFloor moves the floor up to offset (retention removed what lies below it), dropping the ranges
// below it. It returns how many offsets below offset were not done: the messages retention skipped.
func (a *ackSet) raiseFloor(offset int64) int64 {
	if offset <= a.floor {
		return 0
	}
	skipped := offset - a.floor - a.doneIn(a.floor, offset)
	a.floor = offset
	i := a.search(offset)
	if i < len(a.ranges) && a.ranges[i].Start < offset {
		a.ranges[i].Start = offset
	}
	a.ranges = slices.Delete(a.ranges, 0, i)
	a.normalize()
	return skipped
}

// truncate forgets what is done at or above end (the log's readable end moved back after a crash under a
// relaxed sync policy): offsets there will name other messages.
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
	if len(a.ranges) > 0 && a.ranges[0].Start <= a.floor {
		a.floor = max(a.floor, a.ranges[0].End)
		a.ranges = slices.Delete(a.ranges, 0, 1)
	}
}

// doneAbove returns how many offsets in ranges are done (those above the floor).
func (a *ackSet) doneAbove() int64 {
	var n int64
	for _, r := range a.ranges {
		n += r.End - r.Start
	}
	return n
}

// nextNotDone returns the first offset at or after offset that is not done.
func (a *ackSet) nextNotDone(offset int64) int64 {
	if offset < a.floor {
		return a.floor
	}
	i := a.search(offset)
	if i < len(a.ranges) && a.ranges[i].Start <= offset {
		return a.ranges[i].End // ranges are non-adjacent: End is not done
	}
	return offset
}
