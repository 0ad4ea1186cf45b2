package producers

import (
	"cmp"
	"slices"
)

// Info is what a partition remembers of one idempotent producer (Kafka's DescribeProducers).
type Info struct {
	ID            int64
	Epoch         int16
	LastSequence  int32 // of its last batch in the partition
	LastTimestamp int64 // the max timestamp of that batch, ms since the epoch
	LastOffset    int64 // the offset of that batch's last record
}

// List returns the producers the partition remembers, by id.
func (p *Partition) List() []Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Info, 0, len(p.mu.producers))
	for id, pr := range p.mu.producers {
		i := Info{ID: id, Epoch: pr.epoch, LastSequence: addSequence(pr.nextSeq, -1), LastTimestamp: pr.lastTimestamp, LastOffset: -1}
		if n := len(pr.batches); n > 0 {
			i.LastSequence, i.LastOffset = pr.batches[n-1].lastSeq, pr.batches[n-1].lastOffset
		}
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
