package index

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// AckRange is a half-open range [Start, End) of acknowledged offsets.
type AckRange struct {
	Start, End int64
}

// AckState is a work-queue group's acknowledgements in one partition: every offset below Floor is acked,
// and so is every offset in Acked, a sorted list of disjoint, non-adjacent ranges above Floor. Acks that
// come out of order stay small: n acked offsets in k runs take k ranges, not n keys.
type AckState struct {
	// Topic and Partition say where; Group is the work-queue group.
	Group     string
	Topic     string
	Partition int32
	// Floor is the offset below which everything is acked.
	Floor int64
	// Acked are the acked ranges above Floor.
	Acked []AckRange
}

// Value encoding of an ack state, version 1 (big endian fixed widths for the header, uvarints after):
//
//	+---------+--------+-----------------+------------------------------------------------+
//	| version | floor  | count (uvarint) | count x (start - previous end, length) uvarints |
//	| uint8   | int64  |                 | previous end starts at floor                    |
//	+---------+--------+-----------------+------------------------------------------------+
const ackStateVersion = 1

// maxAckRanges bounds the ranges a stored value may claim, so that a corrupt count cannot allocate
// without limit.
const maxAckRanges = 1 << 20

func encodeAckState(floor int64, acked []AckRange) []byte {
	b := make([]byte, 0, 1+8+binary.MaxVarintLen64*(1+2*len(acked)))
	b = append(b, ackStateVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(floor))
	b = binary.AppendUvarint(b, uint64(len(acked)))
	prev := floor
	for _, r := range acked {
		b = binary.AppendUvarint(b, uint64(r.Start-prev))
		b = binary.AppendUvarint(b, uint64(r.End-r.Start))
		prev = r.End
	}
	return b
}

func decodeAckState(key, value []byte) (floor int64, acked []AckRange, err error) {
	bad := func(what string) error {
		return fmt.Errorf("%w for key %q: ack state: %s", ErrCorruptValue, key, what)
	}
	if len(value) < 9 {
		return 0, nil, bad(fmt.Sprintf("%d bytes", len(value)))
	}
	if value[0] != ackStateVersion {
		return 0, nil, bad(fmt.Sprintf("unknown version %d", value[0]))
	}
	floor = int64(binary.BigEndian.Uint64(value[1:9]))
	if floor < 0 {
		return 0, nil, bad("negative floor")
	}
	rest := value[9:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > maxAckRanges || count > uint64(len(rest)) {
		return 0, nil, bad("bad range count")
	}
	rest = rest[n:]
	acked = make([]AckRange, 0, count)
	prev := floor
	for range count {
		gap, n1 := binary.Uvarint(rest)
		if n1 <= 0 {
			return 0, nil, bad("truncated range")
		}
		length, n2 := binary.Uvarint(rest[n1:])
		if n2 <= 0 {
			return 0, nil, bad("truncated range")
		}
		rest = rest[n1+n2:]
		start := prev + int64(gap)
		end := start + int64(length)
		// The first range may start at the floor's next unacked offset or later; later ranges must
		// leave a gap, and no range is empty.
		if gap > 1<<62 || length == 0 || length > 1<<62 || start < prev || end <= start || (len(acked) > 0 && start == prev) {
			return 0, nil, bad("ranges out of order")
		}
		acked = append(acked, AckRange{Start: start, End: end})
		prev = end
	}
	if len(rest) != 0 {
		return 0, nil, bad(fmt.Sprintf("%d trailing bytes", len(rest)))
	}
	return floor, acked, nil
}

// SaveAckState stores a work-queue group's ack state in one partition, replacing the previous one, synced
// before it returns (it is primary data). Concurrent callers, for other partitions or groups, share fsyncs
// through Pebble's commit pipeline; callers must serialize saves of one partition themselves, since the
// last commit wins.
func (s *Store) SaveAckState(st AckState) error {
	if err := checkGroup(st.Group); err != nil {
		return err
	}
	if err := checkTopic(st.Topic); err != nil {
		return err
	}
	if err := checkPartition(st.Partition); err != nil {
		return err
	}
	if err := checkOffset(st.Floor); err != nil {
		return err
	}
	prev := st.Floor
	for i, r := range st.Acked {
		if r.End <= r.Start || r.Start < prev || (i > 0 && r.Start == prev) {
			return fmt.Errorf("%w: ack ranges of %s-%d not sorted, disjoint and above the floor", ErrInvalidOffset, st.Topic, st.Partition)
		}
		prev = r.End
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	key := ackStateKey(st.Group, st.Topic, st.Partition)
	if err := db.Set(key, encodeAckState(st.Floor, st.Acked), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: save ack state of group %q in %s-%d: %w", st.Group, st.Topic, st.Partition, err)
	}
	return nil
}

// AckStates returns the ack states of every work-queue group, sorted by group, topic and partition.
// With group not empty, only that group's.
func (s *Store) AckStates(group string) ([]AckState, error) {
	lower := []byte{kindAckState}
	if group != "" {
		if err := checkGroup(group); err != nil {
			return nil, err
		}
		lower = ackStatePrefix(group)
	}
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	var states []AckState
	err = scan(db, lower, prefixEnd(lower), func(key, value []byte) error {
		g, rest, ok := splitName(key[1:])
		if !ok {
			return corruptKey(key)
		}
		topic, rest, ok := splitName(rest)
		if !ok || len(rest) != partitionWidth {
			return corruptKey(key)
		}
		partition := int32(binary.BigEndian.Uint32(rest))
		if partition < 0 {
			return corruptKey(key)
		}
		floor, acked, err := decodeAckState(key, value)
		if err != nil {
			return err
		}
		states = append(states, AckState{Group: g, Topic: topic, Partition: partition, Floor: floor, Acked: acked})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return states, nil
}

// DeleteAckStates deletes every ack state of a work-queue group, synced.
func (s *Store) DeleteAckStates(group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	prefix := ackStatePrefix(group)
	if err := db.DeleteRange(prefix, prefixEnd(prefix), pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: delete ack states of group %q: %w", group, err)
	}
	return nil
}
