package workqueue

import (
	"slices"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// PartitionState is a work-queue group's state in one partition, as the index holds it.
type PartitionState struct {
	Topic     string
	Partition int32
	// Floor is the offset below which every message is done (clamped to the log start).
	Floor int64
	// AckedAbove counts the done messages above Floor, held in AckRanges ranges.
	AckedAbove int64
	AckRanges  int
	// Unacked counts the messages not done: from Floor to the high watermark, less AckedAbove.
	Unacked int64
	// Delivered is the delivery cursor: every message from Floor up to it was delivered at least once.
	Delivered int64
	// Redelivering counts the messages not done that were delivered more than once.
	Redelivering int
	// Scheduled counts the messages read before their delivery time and kept in the timer index until
	// they are acked (they are not in Unacked: the ack state counts them done).
	Scheduled int64
}

// Groups returns the names of the work-queue groups that have state, sorted.
func (r *Registry) Groups() ([]string, error) {
	states, err := r.store.AckStates("")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, st := range states {
		names = append(names, st.Group)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// State returns the durable state of a work-queue group in every partition it has state in, sorted by
// topic and partition. State kept for an earlier incarnation of a topic is left out.
func (r *Registry) State(group string) ([]PartitionState, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	states, err := r.store.AckStates(group)
	if err != nil {
		return nil, err
	}
	out := make([]PartitionState, 0, len(states))
	scheduled := map[string]map[int32]timerStats{}
	for _, st := range states {
		acks := ackSet{floor: st.Floor, ranges: st.Acked}
		s := PartitionState{Topic: st.Topic, Partition: st.Partition, Delivered: st.Delivered, Redelivering: len(st.Redelivered)}
		for _, d := range st.Ahead {
			if d.Count > 1 {
				s.Redelivering++
			}
		}
		if _, ok := scheduled[st.Topic]; !ok {
			if scheduled[st.Topic], err = r.timerStats(group, st.Topic, st.Incarnation); err != nil {
				return nil, err
			}
		}
		s.Scheduled = scheduled[st.Topic][st.Partition].count
		if t, err := r.topics.Topic(st.Topic); err == nil {
			if t.Incarnation() != st.Incarnation {
				continue
			}
			if logs := t.Logs(); int(st.Partition) < len(logs) {
				l := logs[st.Partition]
				acks.truncate(l.HighWatermark())
				acks.raiseFloor(l.StartOffset())
				s.Unacked = l.HighWatermark() - acks.floor - acks.doneAbove()
				s.Delivered = min(max(s.Delivered, acks.floor), l.HighWatermark())
			}
		}
		s.Floor, s.AckedAbove, s.AckRanges = acks.floor, acks.doneAbove(), len(acks.ranges)
		out = append(out, s)
	}
	return out, nil
}

// Floors returns, for each partition of t, the offset below which every work-queue group of t is done:
// the smallest durable floor over the groups, lowered to the lowest offset a group keeps scheduled
// (retention by interest may delete the segments that end at or below it). A group that has state for some partitions of t but none for partition p has done nothing
// there: its floor on p is 0. A partition that no group has state for is absent: no work-queue group
// holds anything back there; nil means no work-queue group has state in t. The floors are read from the index, so they are durable ones: never above
// what a crash would leave done. They are not clamped to the log: a floor below the log start keeps
// nothing.
func (r *Registry) Floors(t base.Topic) (map[int32]int64, error) {
	states, err := r.store.AckStates("")
	if err != nil {
		return nil, err
	}
	byGroup := make(map[string]map[int32]int64)
	for _, st := range states {
		if st.Topic != t.Name() || st.Incarnation != t.Incarnation() {
			continue
		}
		if byGroup[st.Group] == nil {
			byGroup[st.Group] = make(map[int32]int64)
		}
		byGroup[st.Group][st.Partition] = st.Floor
	}
	// A scheduled message counts done in the ack state, so the floor passes it; its segment must stay
	// until it is acked.
	for group, floors := range byGroup {
		stats, err := r.timerStats(group, t.Name(), t.Incarnation())
		if err != nil {
			return nil, err
		}
		for p, s := range stats {
			if f, ok := floors[p]; ok && s.lowest < f {
				floors[p] = s.lowest
			}
		}
	}
	if len(byGroup) == 0 {
		return nil, nil
	}
	floors := make(map[int32]int64)
	n := int32(len(t.Logs()))
	for _, groupFloors := range byGroup {
		for p := range n {
			f := groupFloors[p] // 0 where the group has done nothing on p
			if cur, ok := floors[p]; !ok || f < cur {
				floors[p] = f
			}
		}
	}
	return floors, nil
}

// ClampToLogs runs at Open, after every partition's recovery: it lowers, durably, the state that points
// past a partition's readable end, which only a crash under SyncInterval or SyncNever can leave (it loses
// acknowledged-but-unsynced messages, while acks and deliveries are synced). It must happen before
// anything is appended: offsets past the end will name new messages, which a group must not take as done
// or delivered. Under SyncAlways it finds nothing and writes nothing.
func (r *Registry) ClampToLogs() error {
	states, err := r.store.AckStates("")
	if err != nil {
		return err
	}
	for _, st := range states {
		t, err := r.topics.Topic(st.Topic)
		if err != nil || t.Incarnation() != st.Incarnation {
			continue
		}
		logs := t.Logs()
		if int(st.Partition) >= len(logs) {
			continue
		}
		hw := logs[st.Partition].HighWatermark()
		p := &partition{acks: ackSet{floor: st.Floor, ranges: slices.Clone(st.Acked)}, delivered: st.Delivered,
			counts: map[int64]int32{}, ahead: map[int64]int32{}}
		for _, d := range st.Redelivered {
			p.counts[d.Offset] = d.Count
		}
		for _, d := range st.Ahead {
			p.ahead[d.Offset] = d.Count
		}
		clampToEnd(p, hw)
		if p.acks.floor == st.Floor && slices.Equal(p.acks.ranges, st.Acked) && p.delivered == st.Delivered &&
			len(p.counts) == len(st.Redelivered) && len(p.ahead) == len(st.Ahead) {
			continue
		}
		// A scheduled message counts done in the ack state saved with its timer, so a timer past the end
		// comes with state past the end: only then are the timers looked at.
		var drop []index.TimerChange
		err = r.store.EachTimer(st.Group, st.Topic, st.Incarnation, nil, func(tm index.Timer) bool {
			if tm.Partition == st.Partition && tm.Offset >= hw {
				drop = append(drop, index.TimerChange{Timer: tm, Delete: true})
			}
			return true
		})
		if err != nil {
			return err
		}
		r.logger.Info("mqlog: work-queue state past the end of the log after a crash; dropped",
			"group", st.Group, "topic", st.Topic, "partition", st.Partition, "end", hw, "scheduled_dropped", len(drop))
		st.Floor, st.Acked, st.Delivered = p.acks.floor, p.acks.ranges, p.delivered
		st.Redelivered, st.Ahead = sortedCounts(p.counts, 2), sortedCounts(p.ahead, 1)
		if err := r.store.SaveQueueState(st, drop); err != nil {
			return err
		}
	}
	return nil
}

// timerStats are a partition's scheduled messages, as the index holds them.
type timerStats struct {
	count  int64
	lowest int64 // the lowest offset
}

// timerStats scans group's scheduled messages in one incarnation of topic, by partition.
func (r *Registry) timerStats(group, topic string, incarnation uint64) (map[int32]timerStats, error) {
	out := map[int32]timerStats{}
	err := r.store.EachTimer(group, topic, incarnation, nil, func(t index.Timer) bool {
		s, ok := out[t.Partition]
		if !ok || t.Offset < s.lowest {
			s.lowest = t.Offset
		}
		s.count++
		out[t.Partition] = s
		return true
	})
	return out, err
}
