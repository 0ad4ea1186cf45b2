package workqueue

import (
	"container/heap"
	"time"
)

// pendingHeap orders the pending messages of a group by due time (the end of a lease, or when a
// released message may go out again), then partition, then offset. It implements heap.Interface; use
// push, remove and fix.
type pendingHeap []*pendingMessage

func (h pendingHeap) Len() int { return len(h) }

func (h pendingHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	if a.partition.index != b.partition.index {
		return a.partition.index < b.partition.index
	}
	return a.rec.Offset < b.rec.Offset
}

func (h pendingHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}

func (h *pendingHeap) Push(x any) {
	pm := x.(*pendingMessage)
	pm.heapIndex = len(*h)
	*h = append(*h, pm)
}

func (h *pendingHeap) Pop() any {
	old := *h
	pm := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	pm.heapIndex = -1
	return pm
}

func (h *pendingHeap) push(pm *pendingMessage) { heap.Push(h, pm) }

func (h *pendingHeap) remove(pm *pendingMessage) {
	if pm.heapIndex >= 0 {
		heap.Remove(h, pm.heapIndex)
	}
}

// setDue changes pm's due time and restores the order.
func (h *pendingHeap) setDue(pm *pendingMessage, due time.Time) {
	pm.due = due
	if pm.heapIndex >= 0 {
		heap.Fix(h, pm.heapIndex)
	}
}

// top returns the message due first, or nil.
func (h pendingHeap) top() *pendingMessage {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
