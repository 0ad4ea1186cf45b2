package index

import "fmt"

// Entries returns every sparse index entry of a partition, by offset. Verify uses it to check the index
// against the segments; it holds about one entry per 4 KiB of log.
func (s *Store) Entries(topic string, partition int32) ([]Entry, error) {
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
	prefix := entryPartitionPrefix(topic, partition)
	var out []Entry
	err = scan(db, prefix, prefixEnd(prefix), func(key, value []byte) error {
		offset, err := decodeEntryKey(prefix, key)
		if err != nil {
			return err
		}
		position, timestamp, err := decodeEntryValue(key, value)
		if err != nil {
			return err
		}
		out = append(out, Entry{Offset: offset, Position: position, Timestamp: timestamp})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mqlog/index: entries %s-%d: %w", topic, partition, err)
	}
	return out, nil
}
