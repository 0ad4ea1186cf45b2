package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Entry is one entry of a partition's sparse offset index: the batch whose base offset is Offset starts
// at byte Position of the segment file that contains it.
type Entry struct {
	// Offset is the base offset of the batch.
	Offset int64
	// Position is the byte position of the batch in its segment file.
	Position int64
	// Timestamp is the maximum timestamp (ms since the epoch) of the log up to and including the batch,
	// so it never decreases from entry to entry.
	Timestamp int64
}

// AddEntries stores entries in the sparse index of a partition, in one batch written without sync: the
// index is derived from the segments and rebuilt from them when entries are lost in a crash. An entry
// replaces any entry with the same offset.
func (s *Store) AddEntries(topic string, partition int32, entries []Entry) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := checkPartition(partition); err != nil {
		return err
	}
	for _, e := range entries {
		if err := checkOffset(e.Offset); err != nil {
			return err
		}
		if e.Position < 0 {
			return fmt.Errorf("%w: position %d of offset %d", ErrInvalidOffset, e.Position, e.Offset)
		}
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if len(entries) == 0 {
		return nil
	}
	b := db.NewBatch()
	for _, e := range entries {
		_ = b.Set(entryKey(topic, partition, e.Offset), encodeEntryValue(e.Position, e.Timestamp), nil)
	}
	err = b.Commit(pebble.NoSync) // (as commit does, with the message built only on failure: this is on the append path)
	if closeErr := b.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("mqlog/index: add entries %s-%d: %w", topic, partition, err)
	}
	return nil
}

// FloorEntry returns the entry of a partition with the greatest Offset <= offset, or ok false when there
// is none.
func (s *Store) FloorEntry(topic string, partition int32, offset int64) (entry Entry, ok bool, err error) {
	if err := checkTopic(topic); err != nil {
		return Entry{}, false, err
	}
	if err := checkPartition(partition); err != nil {
		return Entry{}, false, err
	}
	db, err := s.acquire()
	if err != nil {
		return Entry{}, false, err
	}
	defer s.release()
	if offset < 0 {
		return Entry{}, false, nil
	}
	prefix := entryPartitionPrefix(topic, partition)
	// Every key of the partition has the same length, so the key of offset followed by 0x00 is an
	// exclusive bound that admits offset itself and nothing above it.
	upper := append(entryKey(topic, partition, offset), 0)
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return Entry{}, false, fmt.Errorf("mqlog/index: floor entry %s-%d: %w", topic, partition, err)
	}
	if iter.Last() {
		entry, err = decodeEntry(prefix, iter)
		ok = err == nil
	}
	if closeErr := iter.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("mqlog/index: floor entry %s-%d: %w", topic, partition, closeErr)
	}
	if err != nil {
		return Entry{}, false, err
	}
	return entry, ok, nil
}

// DeleteEntriesFrom deletes the entries of a partition with Offset >= offset, synced: recovery calls it
// after cutting a torn tail, and entries past the cut must not come back.
func (s *Store) DeleteEntriesFrom(topic string, partition int32, offset int64) error {
	return s.deleteEntriesFrom(topic, partition, offset, pebble.Sync)
}

// deleteEntriesFrom is DeleteEntriesFrom and DeleteEntriesFromNoSync, with the write options that tell
// them apart.
func (s *Store) deleteEntriesFrom(topic string, partition int32, offset int64, opts *pebble.WriteOptions) error {
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
	prefix := entryPartitionPrefix(topic, partition)
	start := prefix
	if offset > 0 {
		start = entryKey(topic, partition, offset)
	}
	if err := db.DeleteRange(start, prefixEnd(prefix), opts); err != nil {
		return fmt.Errorf("mqlog/index: delete entries %s-%d from %d: %w", topic, partition, offset, err)
	}
	return nil
}

// DeleteEntriesBefore deletes the entries of a partition with Offset < offset, without sync: retention
// calls it after deleting segments, and entries that come back after a crash point before the log start,
// where readers do not look.
func (s *Store) DeleteEntriesBefore(topic string, partition int32, offset int64) error {
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
	if offset <= 0 {
		return nil
	}
	prefix := entryPartitionPrefix(topic, partition)
	if err := db.DeleteRange(prefix, entryKey(topic, partition, offset), pebble.NoSync); err != nil {
		return fmt.Errorf("mqlog/index: delete entries %s-%d before %d: %w", topic, partition, offset, err)
	}
	return nil
}

// DeleteEntriesBetween deletes the entries of a partition with from <= Offset < to, synced: compaction
// calls it before it replaces the segments holding those offsets, so that no entry can point into a
// replaced file after a crash.
func (s *Store) DeleteEntriesBetween(topic string, partition int32, from, to int64) error {
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
	if from < 0 || to <= from {
		return nil
	}
	if err := db.DeleteRange(entryKey(topic, partition, from), entryKey(topic, partition, to), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: delete entries %s-%d in [%d, %d): %w", topic, partition, from, to, err)
	}
	return nil
}

// decodeEntry decodes the entry at the iterator's position, given the partition prefix of its key.
func decodeEntry(prefix []byte, iter *pebble.Iterator) (Entry, error) {
	key := iter.Key()
	offset, err := decodeEntryKey(prefix, key)
	if err != nil {
		return Entry{}, err
	}
	value, err := iter.ValueAndErr()
	if err != nil {
		return Entry{}, fmt.Errorf("mqlog/index: read %q: %w", key, err)
	}
	position, timestamp, err := decodeEntryValue(key, value)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Offset: offset, Position: position, Timestamp: timestamp}, nil
}
