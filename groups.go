package mqlog

import ()

// GroupOffset is a group's committed position in one partition, and how far behind the readable end it is.
type GroupOffset struct {
	Topic     string
	Partition int32
	Offset    int64 // the next offset the group reads
	Lag       int64 // high watermark minus Offset
}

// Groups returns the consumer groups that have committed positions, sorted.
func (db *DB) Groups() ([]string, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	return db.store.Groups()
}

// GroupOffsets returns a group's committed positions with their lag, sorted by topic and partition.
func (db *DB) GroupOffsets(group string) ([]GroupOffset, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	offs, err := db.store.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	out := make([]GroupOffset, 0, len(offs))
	for _, o := range offs {
		g := GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset}
		if t, err := db.topic(o.Topic); err == nil {
			if l, err := t.partition(o.Partition); err == nil {
				g.Lag = max(0, l.HighWatermark()-o.Offset)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// CommitGroupOffset durably sets group's position in a partition of topic, as Consumer.CommitOffset does,
// without joining the group (for tools that reset positions).
func (db *DB) CommitGroupOffset(group, topicName string, partition int32, offset int64) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return err
	}
	t, err := db.topic(topicName)
	if err != nil {
		return err
	}
	return db.commit(group, t, partition, offset)
}
