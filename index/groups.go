package index

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// GroupOffset is a consumer group's position in one partition.
type GroupOffset struct {
	// Topic is the topic name.
	Topic string
	// Partition is the partition number.
	Partition int32
	// Offset is the next offset the group will read.
	Offset int64
	// Incarnation is the incarnation of the topic the offset was committed in (0 for offsets stored
	// before incarnations existed): an offset of an earlier topic of the same name is not the new one's.
	Incarnation uint64
	// LeaderEpoch is the leader epoch the committer gave with the offset (Kafka's committed leader
	// epoch), NoLeaderEpoch (-1) for none. Set it: 0 is an epoch.
	LeaderEpoch int32
	// Metadata is the committer's string stored with the offset (Kafka's commit metadata), at most
	// MaxOffsetMetadataBytes.
	Metadata string
}

// CommitOffsets stores the offsets of group in one synced batch, replacing the previous offsets of the
// same partitions. Concurrent callers share fsyncs through Pebble's commit pipeline. Committing no
// offsets writes nothing.
func (s *Store) CommitOffsets(group string, offsets []GroupOffset) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	for _, o := range offsets {
		if err := checkTopic(o.Topic); err != nil {
			return err
		}
		if err := checkPartition(o.Partition); err != nil {
			return err
		}
		if err := checkOffset(o.Offset); err != nil {
			return err
		}
		if err := checkCommit(o.LeaderEpoch, o.Metadata); err != nil {
			return err
		}
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if len(offsets) == 0 {
		return nil
	}
	b := db.NewBatch()
	for _, o := range offsets {
		_ = b.Set(groupKey(group, o.Topic, o.Partition), encodeGroupValue(o.Offset, o.Incarnation, o.LeaderEpoch, o.Metadata), nil)
	}
	return commit(b, pebble.Sync, fmt.Sprintf("commit offsets of group %q", group))
}

// GroupOffset returns the offset committed by group in a partition and the topic incarnation it was
// committed in, or ok false when there is none.
func (s *Store) GroupOffset(group, topic string, partition int32) (offset int64, incarnation uint64, ok bool, err error) {
	o, ok, err := s.GroupCommit(group, topic, partition)
	return o.Offset, o.Incarnation, ok, err
}

// GroupCommit returns what group committed in a partition (Topic, Partition, Offset, Incarnation,
// LeaderEpoch, Metadata), or ok false when there is none.
func (s *Store) GroupCommit(group, topic string, partition int32) (o GroupOffset, ok bool, err error) {
	if err := checkGroup(group); err != nil {
		return GroupOffset{}, false, err
	}
	if err := checkTopic(topic); err != nil {
		return GroupOffset{}, false, err
	}
	if err := checkPartition(partition); err != nil {
		return GroupOffset{}, false, err
	}
	db, err := s.acquire()
	if err != nil {
		return GroupOffset{}, false, err
	}
	defer s.release()
	key := groupKey(group, topic, partition)
	value, ok, err := get(db, key)
	if err != nil || !ok {
		return GroupOffset{}, false, err
	}
	v, err := decodeGroupValue(key, value)
	if err != nil {
		return GroupOffset{}, false, err
	}
	return v.groupOffset(topic, partition), true, nil
}

func (v groupValue) groupOffset(topic string, partition int32) GroupOffset {
	return GroupOffset{Topic: topic, Partition: partition, Offset: v.offset, Incarnation: v.incarnation, LeaderEpoch: v.leaderEpoch, Metadata: v.metadata}
}

// GroupOffsets returns every offset committed by group, sorted by topic, then partition.
func (s *Store) GroupOffsets(group string) ([]GroupOffset, error) {
	if err := checkGroup(group); err != nil {
		return nil, err
	}
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	prefix := groupPrefix(group)
	var offsets []GroupOffset
	err = scan(db, prefix, prefixEnd(prefix), func(key, value []byte) error {
		topic, rest, ok := splitName(key[len(prefix):])
		if !ok || len(rest) != partitionWidth {
			return corruptKey(key)
		}
		partition := int32(binary.BigEndian.Uint32(rest))
		if partition < 0 {
			return corruptKey(key)
		}
		v, err := decodeGroupValue(key, value)
		if err != nil {
			return err
		}
		offsets = append(offsets, v.groupOffset(topic, partition))
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The key order is already this order; sorting states the contract rather than relying on it.
	slices.SortFunc(offsets, func(a, b GroupOffset) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return offsets, nil
}

// Groups returns the names of the groups that have committed offsets, sorted and distinct.
func (s *Store) Groups() ([]string, error) {
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	return groups(db)
}

// groups lists the distinct groups, seeking past each group's keys rather than reading them all.
func groups(db *pebble.DB) ([]string, error) {
	lower := []byte{kindGroup}
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("mqlog/index: list groups: %w", err)
	}
	var names []string
	valid := iter.First()
	for valid {
		key := iter.Key()
		name, _, ok := splitName(key[1:])
		if !ok {
			_ = iter.Close()
			return nil, corruptKey(key)
		}
		names = append(names, name)
		valid = iter.SeekGE(prefixEnd(groupPrefix(name)))
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("mqlog/index: list groups: %w", err)
	}
	return names, nil
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// DeleteOffsets deletes group's offsets in partitions, in one synced batch; a partition without one is
// not an error. Deleting no partitions writes nothing.
func (s *Store) DeleteOffsets(group string, partitions []TopicPartition) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	for _, p := range partitions {
		if err := checkTopic(p.Topic); err != nil {
			return err
		}
		if err := checkPartition(p.Partition); err != nil {
			return err
		}
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if len(partitions) == 0 {
		return nil
	}
	b := db.NewBatch()
	for _, p := range partitions {
		_ = b.Delete(groupKey(group, p.Topic, p.Partition), nil)
	}
	return commit(b, pebble.Sync, fmt.Sprintf("delete offsets of group %q", group))
}

// DeleteGroup deletes every offset of group, synced. Deleting a group that has none is not an error.
func (s *Store) DeleteGroup(group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	prefix := groupPrefix(group)
	if err := db.DeleteRange(prefix, prefixEnd(prefix), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: delete group %q: %w", group, err)
	}
	return nil
}
