package mqlog

import (
	"slices"

	"github.com/mqlog/mqlog/index"
)

// clampConsumerState runs at Open, after every partition's recovery: it lowers, durably, the consumer
// state that points past a partition's readable end, which only a crash under SyncInterval or SyncNever
// can leave (it loses acknowledged-but-unsynced messages, while commits and acks are synced). It must
// happen before anything is appended: the offsets past the end will name new messages, which a group must
// not skip as read or acked. Under SyncAlways it finds nothing and writes nothing.
//
// Positions below the log start (retention) are not rewritten: they are clamped where they are read
// (effectiveOffset, the queue's open), and appends cannot change their meaning.
func (db *DB) clampConsumerState() error {
	groups, err := db.store.Groups()
	if err != nil {
		return err
	}
	for _, group := range groups {
		offsets, err := db.store.GroupOffsets(group)
		if err != nil {
			return err
		}
		var lowered []index.GroupOffset
		for _, o := range offsets {
			if hw, ok := db.highWatermark(o.Topic, o.Partition); ok && o.Offset > hw {
				db.opts.Logger.Info("mqlog: group offset past the end of the log after a crash; lowered",
					"group", group, "topic", o.Topic, "partition", o.Partition, "offset", o.Offset, "end", hw)
				lowered = append(lowered, index.GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: hw})
			}
		}
		if err := db.store.CommitOffsets(group, lowered); err != nil {
			return err
		}
	}
	states, err := db.store.AckStates("")
	if err != nil {
		return err
	}
	for _, st := range states {
		hw, ok := db.highWatermark(st.Topic, st.Partition)
		if !ok {
			continue
		}
		acks := ackSet{floor: st.Floor, ranges: slices.Clone(st.Acked)}
		acks.truncate(hw)
		if acks.floor == st.Floor && slices.Equal(acks.ranges, st.Acked) {
			continue
		}
		db.opts.Logger.Info("mqlog: work-queue acks past the end of the log after a crash; dropped",
			"group", st.Group, "topic", st.Topic, "partition", st.Partition, "end", hw)
		st.Floor, st.Acked = acks.floor, acks.ranges
		if err := db.store.SaveAckState(st); err != nil {
			return err
		}
	}
	return nil
}

// highWatermark returns the readable end of a partition, or ok false when the topic or partition does not
// exist (state left from a topic that is gone).
func (db *DB) highWatermark(topicName string, partition int32) (int64, bool) {
	db.mu.RLock()
	t := db.mu.topics[topicName]
	db.mu.RUnlock()
	if t == nil {
		return 0, false
	}
	l, err := t.partition(partition)
	if err != nil {
		return 0, false
	}
	return l.HighWatermark(), true
}
