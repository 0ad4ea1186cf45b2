package index

import (
	"encoding/binary"
	"fmt"
)

// Key kinds: the first byte of every key. They are part of the on-disk format and frozen.
const (
	kindTopic    byte = 't' // 't' topic 0x00                         -> opaque config
	kindLogState byte = 'l' // 'l' topic 0x00 partition               -> opaque log state
	kindEntry    byte = 'x' // 'x' topic 0x00 partition offset        -> position, timestamp
	kindGroup    byte = 'g' // 'g' group 0x00 topic 0x00 partition    -> offset
	// kindRaftStable keys hold a raft node's stable values (raft.StableStore: the current term, the last
	// vote), in the Pebble store of a raft log directory (package raftstore): 'r' key -> value, both
	// opaque bytes, written synced.
	kindRaftStable byte = 'r' // 'r' key                                -> value
)

// Widths of the fixed-width fields of keys and values.
const (
	partitionWidth  = 4
	offsetWidth     = 8
	entryValueWidth = 16 // position (8) + timestamp (8)
	groupValueWidth = 16 // next offset to read (8), topic incarnation (8)
	// legacyGroupValueWidth is the value of an offset stored before incarnations: the offset alone.
	legacyGroupValueWidth = 8
)

// maxTopicLength is Kafka's limit on the length of a topic name.
const maxTopicLength = 249

// checkTopic reports whether name is a valid topic name: Kafka's rule, [a-zA-Z0-9._-], 1 to 249
// characters, not "." or "..". The key layout depends on it: a topic name never contains 0x00.
func checkTopic(name string) error {
	if name == "" || len(name) > maxTopicLength || name == "." || name == ".." {
		return fmt.Errorf("%w %q", ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w %q", ErrInvalidTopic, name)
		}
	}
	return nil
}

// checkGroup reports whether name is a valid group name: not empty and without 0x00, which ends the
// group name in a key.
func checkGroup(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidGroup)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == 0 {
			return fmt.Errorf("%w %q: contains 0x00", ErrInvalidGroup, name)
		}
	}
	return nil
}

// checkPartition rejects negative partitions, which would not sort numerically in big endian.
func checkPartition(partition int32) error {
	if partition < 0 {
		return fmt.Errorf("%w %d", ErrInvalidPartition, partition)
	}
	return nil
}

// checkOffset rejects negative offsets, which would not sort numerically in big endian.
func checkOffset(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w %d", ErrInvalidOffset, offset)
	}
	return nil
}

// appendName appends name and its 0x00 terminator.
func appendName(key []byte, name string) []byte {
	key = append(key, name...)
	return append(key, 0)
}

func topicKey(topic string) []byte {
	key := make([]byte, 0, 2+len(topic))
	key = append(key, kindTopic)
	return appendName(key, topic)
}

func logStateKey(topic string, partition int32) []byte {
	key := make([]byte, 0, 2+len(topic)+partitionWidth)
	key = append(key, kindLogState)
	key = appendName(key, topic)
	return binary.BigEndian.AppendUint32(key, uint32(partition))
}

// entryPartitionPrefix is the prefix of every sparse entry key of one partition.
func entryPartitionPrefix(topic string, partition int32) []byte {
	key := make([]byte, 0, 2+len(topic)+partitionWidth+offsetWidth)
	key = append(key, kindEntry)
	key = appendName(key, topic)
	return binary.BigEndian.AppendUint32(key, uint32(partition))
}

func entryKey(topic string, partition int32, offset int64) []byte {
	return binary.BigEndian.AppendUint64(entryPartitionPrefix(topic, partition), uint64(offset))
}

// groupPrefix is the prefix of every offset key of one group.
func groupPrefix(group string) []byte {
	key := make([]byte, 0, 2+len(group))
	key = append(key, kindGroup)
	return appendName(key, group)
}

// groupTopicPrefix is the prefix of every offset key of one group in one topic.
func groupTopicPrefix(group, topic string) []byte {
	return appendName(groupPrefix(group), topic)
}

func groupKey(group, topic string, partition int32) []byte {
	return binary.BigEndian.AppendUint32(groupTopicPrefix(group, topic), uint32(partition))
}

// prefixEnd returns the smallest key greater than every key that starts with prefix, or nil when there is
// none (prefix is all 0xff). It is the exclusive upper bound of a prefix scan or DeleteRange.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// splitName splits the 0x00-terminated name at the start of b from the rest of b.
func splitName(b []byte) (name string, rest []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}

// corruptKey is the error for a key that the layout cannot parse.
func corruptKey(key []byte) error {
	return fmt.Errorf("%w %q", ErrCorruptKey, key)
}

// corruptValue is the error for a value of the wrong length.
func corruptValue(key, value []byte, want int) error {
	return fmt.Errorf("%w for key %q: %d bytes, want %d", ErrCorruptValue, key, len(value), want)
}

// decodeEntryValue decodes the value of a sparse entry key.
func decodeEntryValue(key, value []byte) (position, timestamp int64, err error) {
	if len(value) != entryValueWidth {
		return 0, 0, corruptValue(key, value, entryValueWidth)
	}
	return int64(binary.BigEndian.Uint64(value[:8])), int64(binary.BigEndian.Uint64(value[8:])), nil
}

func encodeEntryValue(position, timestamp int64) []byte {
	value := make([]byte, 0, entryValueWidth)
	value = binary.BigEndian.AppendUint64(value, uint64(position))
	return binary.BigEndian.AppendUint64(value, uint64(timestamp))
}

// decodeEntryKey decodes the offset of a sparse entry key, given the partition prefix it starts with.
func decodeEntryKey(prefix, key []byte) (int64, error) {
	if len(key) != len(prefix)+offsetWidth {
		return 0, corruptKey(key)
	}
	offset := int64(binary.BigEndian.Uint64(key[len(prefix):]))
	if offset < 0 {
		return 0, corruptKey(key)
	}
	return offset, nil
}

// decodeGroupValue decodes the value of a group offset key: the offset and the topic incarnation (0 in
// a value stored before incarnations, which holds the offset alone).
func decodeGroupValue(key, value []byte) (offset int64, incarnation uint64, err error) {
	if len(value) != groupValueWidth && len(value) != legacyGroupValueWidth {
		return 0, 0, corruptValue(key, value, groupValueWidth)
	}
	offset = int64(binary.BigEndian.Uint64(value))
	if offset < 0 {
		return 0, 0, fmt.Errorf("%w for key %q: negative offset %d", ErrCorruptValue, key, offset)
	}
	if len(value) == groupValueWidth {
		incarnation = binary.BigEndian.Uint64(value[8:])
	}
	return offset, incarnation, nil
}

func encodeGroupValue(offset int64, incarnation uint64) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, groupValueWidth), uint64(offset))
	return binary.BigEndian.AppendUint64(v, incarnation)
}

// kindAckState is the key kind of a work-queue group's ack state in one partition (acks.go):
//
//	'a' group 0x00 topic 0x00 partition -> floor, then acked ranges above it
const kindAckState byte = 'a'

// ackStatePrefix is the prefix of every ack state key of one work-queue group.
func ackStatePrefix(group string) []byte {
	key := make([]byte, 0, 2+len(group))
	key = append(key, kindAckState)
	return appendName(key, group)
}

func ackStateKey(group, topic string, partition int32) []byte {
	key := appendName(ackStatePrefix(group), topic)
	return binary.BigEndian.AppendUint32(key, uint32(partition))
}
