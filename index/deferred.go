package index

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// SaveLogStateNoSync is SaveLogState without the sync: the state is durable once a later synced write,
// or Sync, returns. Opening and closing many partitions saves each state this way, then syncs once.
func (s *Store) SaveLogStateNoSync(topic string, partition int32, state []byte) error {
	return s.saveLogState(topic, partition, state, pebble.NoSync)
}

// DeleteEntriesFromNoSync is DeleteEntriesFrom without the sync (see SaveLogStateNoSync).
func (s *Store) DeleteEntriesFromNoSync(topic string, partition int32, offset int64) error {
	return s.deleteEntriesFrom(topic, partition, offset, pebble.NoSync)
}

// Sync makes every write before it durable: one synced commit of Pebble's log (a log-only record).
func (s *Store) Sync() error {
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: sync: %w", err)
	}
	return nil
}

// LogStates returns the saved log states of every partition of topic, by partition, with one scan:
// opening a topic of many partitions reads them at once rather than one lookup each.
func (s *Store) LogStates(topic string) (map[int32][]byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	prefix := appendName([]byte{kindLogState}, topic)
	out := map[int32][]byte{}
	err = scan(db, prefix, prefixEnd(prefix), func(key, value []byte) error {
		if len(key) != len(prefix)+partitionWidth {
			return fmt.Errorf("mqlog/index: log state key %q of topic %q is malformed", key, topic)
		}
		out[int32(binary.BigEndian.Uint32(key[len(prefix):]))] = slices.Clone(value)
		return nil
	})
	return out, err
}
