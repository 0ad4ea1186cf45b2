package index

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Key kinds of idempotent producers' state (package producers of mqlog's internal/ holds the logic):
//
//	'p' topic 0x00 partition -> producer state snapshot (opaque bytes, written without sync)
//	'n'                      -> first producer id not yet reserved [8] (synced)
const (
	kindProducerSnapshot byte = 'p'
	kindNextProducerID   byte = 'n'
)

func producerSnapshotKey(topic string, partition int32) []byte {
	key := make([]byte, 0, 2+len(topic)+partitionWidth)
	key = append(key, kindProducerSnapshot)
	key = appendName(key, topic)
	return binary.BigEndian.AppendUint32(key, uint32(partition))
}

// ProducerSnapshot returns the producer state snapshot of a partition, or nil when there is none.
func (s *Store) ProducerSnapshot(topic string, partition int32) ([]byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if err := checkPartition(partition); err != nil {
		return nil, err
	}
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	snap, _, err := get(db, producerSnapshotKey(topic, partition))
	return snap, err
}

// SaveProducerSnapshot stores the producer state snapshot of a partition without sync: it is derived from
// the partition's log, and a lost or stale one is rebuilt from it.
func (s *Store) SaveProducerSnapshot(topic string, partition int32, snapshot []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := checkPartition(partition); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Set(producerSnapshotKey(topic, partition), snapshot, pebble.NoSync); err != nil {
		return fmt.Errorf("mqlog/index: save producer snapshot %s-%d: %w", topic, partition, err)
	}
	return nil
}

// NextProducerID returns the first producer id not yet reserved, 0 when none ever was.
func (s *Store) NextProducerID() (int64, error) {
	db, err := s.acquire()
	if err != nil {
		return 0, err
	}
	defer s.release()
	key := []byte{kindNextProducerID}
	v, ok, err := get(db, key)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < 0 {
		return 0, fmt.Errorf("%w for key %q: %d bytes, want a non-negative int64", ErrCorruptValue, key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// SetNextProducerID durably stores the first producer id not yet reserved.
func (s *Store) SetNextProducerID(next int64) error {
	if err := checkOffset(next); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Set([]byte{kindNextProducerID}, binary.BigEndian.AppendUint64(nil, uint64(next)), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: save next producer id: %w", err)
	}
	return nil
}
