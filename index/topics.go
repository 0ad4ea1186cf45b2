package index

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Key kinds of the topic lifecycle (frozen on-disk format, like the others in keys.go):
//
//	'd' topic 0x00   -> tombstone of a deleted topic whose files may remain (opaque bytes)
//	'i'              -> the last incarnation given to a topic, uint64 big endian
const (
	kindTombstone   byte = 'd'
	kindIncarnation byte = 'i'
)

func tombstoneKey(topic string) []byte {
	return appendName([]byte{kindTombstone}, topic)
}

var incarnationKey = []byte{kindIncarnation}

// CreateTopic records a new topic in one synced batch: its opaque configuration, the incarnation
// counter raised to incarnation, and the removal of any tombstone of an earlier topic of the same name
// (whose files the caller has removed by then). The counter never goes down: a lower incarnation is
// an error.
func (s *Store) CreateTopic(name string, config []byte, incarnation uint64) error {
	if err := checkTopic(name); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	last, err := lastIncarnation(db)
	if err != nil {
		return err
	}
	if incarnation <= last {
		return fmt.Errorf("%w: incarnation %d of topic %q is not above the last one given, %d", ErrInvalidOffset, incarnation, name, last)
	}
	b := db.NewBatch()
	_ = b.Set(topicKey(name), config, nil)
	_ = b.Set(incarnationKey, binary.BigEndian.AppendUint64(nil, incarnation), nil)
	_ = b.Delete(tombstoneKey(name), nil)
	return commit(b, pebble.Sync, fmt.Sprintf("create topic %q", name))
}

// LastIncarnation returns the last incarnation given by CreateTopic, 0 when none was.
func (s *Store) LastIncarnation() (uint64, error) {
	db, err := s.acquire()
	if err != nil {
		return 0, err
	}
	defer s.release()
	return lastIncarnation(db)
}

func lastIncarnation(db *pebble.DB) (uint64, error) {
	v, ok, err := get(db, incarnationKey)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, corruptValue(incarnationKey, v, 8)
	}
	return binary.BigEndian.Uint64(v), nil
}

// DeleteTopic deletes everything stored about topic in one synced batch, and records tombstone in its
// place: its configuration, the log states and sparse entries of its partitions, every group's offsets
// and every work-queue group's ack state and scheduled messages in it. Once the batch is synced the
// topic no longer exists for Open, whatever files remain; the tombstone tells the next Open whose files
// those are, and DeleteTombstone drops it once they are gone. Deleting a topic that does not exist is not
// an error.
func (s *Store) DeleteTopic(name string, tombstone []byte) error {
	if err := checkTopic(name); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	// A group committing to this topic concurrently may find no range here and keep its offsets; the
	// caller stops using a topic before deleting it, and offsets carry the topic's incarnation.
	groupNames, err := groups(db)
	if err != nil {
		return err
	}
	queueGroups, err := ackGroups(db)
	if err != nil {
		return err
	}
	b := db.NewBatch()
	_ = b.Delete(topicKey(name), nil)
	logStates := appendName([]byte{kindLogState}, name)
	_ = b.DeleteRange(logStates, prefixEnd(logStates), nil)
	entries := appendName([]byte{kindEntry}, name)
	_ = b.DeleteRange(entries, prefixEnd(entries), nil)
	for _, group := range groupNames {
		offsets := groupTopicPrefix(group, name)
		_ = b.DeleteRange(offsets, prefixEnd(offsets), nil)
	}
	for _, group := range queueGroups {
		acks := appendName(ackStatePrefix(group), name)
		_ = b.DeleteRange(acks, prefixEnd(acks), nil)
		timers := timerTopicPrefix(group, name) // a group with timers in the topic has ack state there
		_ = b.DeleteRange(timers, prefixEnd(timers), nil)
	}
	snapshots := appendName([]byte{kindProducerSnapshot}, name) // producers.go
	_ = b.DeleteRange(snapshots, prefixEnd(snapshots), nil)
	if tombstone != nil {
		_ = b.Set(tombstoneKey(name), tombstone, nil)
	}
	return commit(b, pebble.Sync, fmt.Sprintf("delete topic %q", name))
}

// Tombstones returns the tombstones recorded by DeleteTopic and not yet dropped, by topic.
func (s *Store) Tombstones() (map[string][]byte, error) {
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	prefix := []byte{kindTombstone}
	out := map[string][]byte{}
	err = scan(db, prefix, prefixEnd(prefix), func(key, value []byte) error {
		name, rest, ok := splitName(key[1:])
		if !ok || len(rest) != 0 {
			return corruptKey(key)
		}
		out[name] = append([]byte(nil), value...)
		return nil
	})
	return out, err
}

// DeleteTombstone drops the tombstone of topic, synced.
func (s *Store) DeleteTombstone(name string) error {
	if err := checkTopic(name); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Delete(tombstoneKey(name), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: delete tombstone of %q: %w", name, err)
	}
	return nil
}

// ackGroups lists the distinct work-queue groups that have ack state.
func ackGroups(db *pebble.DB) ([]string, error) {
	prefix := []byte{kindAckState}
	var names []string
	err := scan(db, prefix, prefixEnd(prefix), func(key, _ []byte) error {
		g, _, ok := splitName(key[1:])
		if !ok {
			return corruptKey(key)
		}
		if len(names) == 0 || names[len(names)-1] != g {
			names = append(names, g)
		}
		return nil
	})
	return names, err
}
