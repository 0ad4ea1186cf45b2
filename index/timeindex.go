package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// LastEntryBeforeTime returns the entry of a partition with the greatest Offset whose Timestamp is < ts,
// or ok false when there is none (every entry is at or after ts, or the partition has none).
//
// Entry timestamps are the greatest timestamp of the log up to their batch, so they never decrease with
// the offset, and the lookup is a binary search over the offset keys: O(log(offset range)) seeks of one
// iterator, each O(log n), instead of a scan of every entry. Every record up to and including the
// returned entry's batch has a timestamp < ts; a reader looking for the first record at or after ts
// starts there.
func (s *Store) LastEntryBeforeTime(topic string, partition int32, ts int64) (entry Entry, ok bool, err error) {
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
	prefix := entryPartitionPrefix(topic, partition)
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return Entry{}, false, fmt.Errorf("mqlog/index: entry before time %s-%d: %w", topic, partition, err)
	}
	entry, ok, err = searchBeforeTime(prefix, iter, ts)
	if closeErr := iter.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("mqlog/index: entry before time %s-%d: %w", topic, partition, closeErr)
	}
	if err != nil {
		return Entry{}, false, err
	}
	return entry, ok, nil
}

// searchBeforeTime is the binary search of LastEntryBeforeTime over the keys of one partition.
func searchBeforeTime(prefix []byte, iter *pebble.Iterator, ts int64) (best Entry, found bool, err error) {
	if !iter.First() {
		return Entry{}, false, iter.Error()
	}
	first, err := decodeEntry(prefix, iter)
	if err != nil {
		return Entry{}, false, err
	}
	if first.Timestamp >= ts {
		return Entry{}, false, nil
	}
	best, found = first, true
	if !iter.Last() {
		return Entry{}, false, iter.Error()
	}
	last, err := decodeEntry(prefix, iter)
	if err != nil {
		return Entry{}, false, err
	}
	if last.Timestamp < ts {
		return last, true, nil
	}
	// Invariant: best.Timestamp < ts, and the answer lies in [best.Offset, hi] where hi < last.Offset.
	lo, hi := best.Offset+1, last.Offset-1
	key := make([]byte, len(prefix), len(prefix)+offsetWidth)
	copy(key, prefix)
	for lo <= hi {
		mid := lo + (hi-lo)/2
		if !iter.SeekGE(appendOffset(key[:len(prefix)], mid)) {
			return Entry{}, false, iter.Error()
		}
		e, err := decodeEntry(prefix, iter)
		if err != nil {
			return Entry{}, false, err
		}
		if e.Timestamp < ts {
			best, lo = e, e.Offset+1
		} else {
			hi = mid - 1
		}
	}
	return best, true, nil
}

func appendOffset(key []byte, offset int64) []byte {
	return append(key, byte(offset>>56), byte(offset>>48), byte(offset>>40), byte(offset>>32),
		byte(offset>>24), byte(offset>>16), byte(offset>>8), byte(offset))
}
