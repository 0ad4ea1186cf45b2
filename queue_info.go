package mqlog

import "slices"

// QueuePartitionState is a work-queue group's state in one partition, as the index holds it.
type QueuePartitionState struct {
	Topic     string
	Partition int32
	// Floor is the offset below which every message is acked (clamped to the log start).
	Floor int64
	// AckedAbove counts the acked messages above Floor, held in AckRanges ranges.
	AckedAbove int64
	AckRanges  int
	// Unacked counts the messages not acked: from Floor to the high watermark, less AckedAbove.
	Unacked int64
}

// QueueGroups returns the names of the work-queue groups that have ack state, sorted.
func (db *DB) QueueGroups() ([]string, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	states, err := db.store.AckStates("")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, st := range states {
		if len(names) == 0 || names[len(names)-1] != st.Group {
			names = append(names, st.Group)
		}
	}
	return slices.Compact(names), nil
}

// QueueGroupState returns the durable ack state of a work-queue group in every partition it has state
// in, sorted by topic and partition.
func (db *DB) QueueGroupState(group string) ([]QueuePartitionState, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return nil, err
	}
	states, err := db.store.AckStates(group)
	if err != nil {
		return nil, err
	}
	out := make([]QueuePartitionState, 0, len(states))
	for _, st := range states {
		acks := ackSet{floor: st.Floor, ranges: st.Acked}
		s := QueuePartitionState{Topic: st.Topic, Partition: st.Partition}
		if t, err := db.topic(st.Topic); err == nil {
			if l, err := t.partition(st.Partition); err == nil {
				acks.truncate(l.HighWatermark())
				acks.raiseFloor(l.StartOffset())
				s.Unacked = l.HighWatermark() - acks.floor - acks.ackedAbove()
			}
		}
		s.Floor, s.AckedAbove, s.AckRanges = acks.floor, acks.ackedAbove(), len(acks.ranges)
		out = append(out, s)
	}
	return out, nil
}
