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
	kindGroup    byte = 'g' // 'g' group 0x00 topic 0x00 partition    -> offset, incarnation[, epoch, metadata]
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
	// groupValueWithCommitWidth is the fixed part of a value that also holds the commit's leader epoch
	// (4); the commit's metadata string follows it, up to the end of the value.
	groupValueWithCommitWidth = groupValueWidth + 4
)

// MaxOffsetMetadataBytes is the most metadata a committed offset may carry (Kafka's default
// offset.metadata.max.bytes).
const MaxOffsetMetadataBytes = 4096

// NoLeaderEpoch is the leader epoch of a commit that carries none (Kafka's -1).
const NoLeaderEpoch int32 = -1

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
// checkCommit reports whether a commit's leader epoch (-1 or more) and metadata (MaxOffsetMetadataBytes
// at most) can be stored.
func checkCommit(leaderEpoch int32, metadata string) error {
	if leaderEpoch < NoLeaderEpoch {
		return fmt.Errorf("%w: leader epoch %d", ErrInvalidOffset, leaderEpoch)
	}
	if len(metadata) > MaxOffsetMetadataBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrOffsetMetadataTooLarge, len(metadata), MaxOffsetMetadataBytes)
	}
	return nil
}

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

// groupValue is the decoded value of a group offset key.
type groupValue struct {
	offset      int64
	incarnation uint64
	leaderEpoch int32
	metadata    string
}

// decodeGroupValue decodes the value of a group offset key, in one of three layouts told apart by length:
//
//	8 bytes       offset                                (before incarnations: incarnation 0)
//	16 bytes      offset, incarnation                   (no leader epoch (-1), no metadata)
//	20+ bytes     offset, incarnation, leader epoch int32, metadata (the rest of the value)
func decodeGroupValue(key, value []byte) (groupValue, error) {
	v := groupValue{leaderEpoch: NoLeaderEpoch}
	switch n := len(value); {
	case n == legacyGroupValueWidth, n == groupValueWidth:
	case n >= groupValueWithCommitWidth && n <= groupValueWithCommitWidth+MaxOffsetMetadataBytes:
		v.leaderEpoch = int32(binary.BigEndian.Uint32(value[groupValueWidth:]))
		v.metadata = string(value[groupValueWithCommitWidth:])
	default:
		return groupValue{}, corruptValue(key, value, groupValueWidth)
	}
	v.offset = int64(binary.BigEndian.Uint64(value))
	if v.offset < 0 {
		return groupValue{}, fmt.Errorf("%w for key %q: negative offset %d", ErrCorruptValue, key, v.offset)
	}
	if len(value) >= groupValueWidth {
		v.incarnation = binary.BigEndian.Uint64(value[8:])
	}
	if v.leaderEpoch < NoLeaderEpoch {
		return groupValue{}, fmt.Errorf("%w for key %q: leader epoch %d", ErrCorruptValue, key, v.leaderEpoch)
	}
	return v, nil
}

// encodeGroupValue encodes a group offset value: 16 bytes when the commit carries neither a leader epoch
// nor metadata (the layout every earlier version reads), else 20 and the metadata.
func encodeGroupValue(offset int64, incarnation uint64, leaderEpoch int32, metadata string) []byte {
	width := groupValueWidth
	if leaderEpoch != NoLeaderEpoch || metadata != "" {
		width = groupValueWithCommitWidth + len(metadata)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, width), uint64(offset))
	v = binary.BigEndian.AppendUint64(v, incarnation)
	if width == groupValueWidth {
		return v
	}
	v = binary.BigEndian.AppendUint32(v, uint32(leaderEpoch))
	return append(v, metadata...)
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
