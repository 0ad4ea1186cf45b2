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

// AckState is a work-queue group's state in one partition: every offset below Floor is done (acked), and
// so is every offset in Acked, a sorted list of disjoint, non-adjacent ranges above Floor. Acks that come
// out of order stay small: n acked offsets in k runs take k ranges, not n keys. Every offset below
// Delivered has been delivered at least once, and Redelivered counts the deliveries of those not done that
// were delivered more than once, so that delivery counts survive a restart.
type AckState struct {
	// Topic and Partition say where; Group is the work-queue group.
	Group     string
	Topic     string
	Partition int32
	// Incarnation is the topic's incarnation the state belongs to (0: stored before incarnations).
	Incarnation uint64
	// Floor is the offset below which everything is acked.
	Floor int64
	// Acked are the acked ranges above Floor.
	Acked []AckRange
	// Delivered is the delivery cursor: every offset from Floor up to it was delivered at least once. A
	// value below Floor is saved as Floor.
	Delivered int64
	// Redelivered holds, by increasing offset, the delivery counts above 1 of offsets in [Floor,
	// Delivered) that are not acked.
	Redelivered []DeliveryCount
	// Ahead holds, by increasing offset, the delivery counts (1 or more) of offsets at or above Delivered
	// that were delivered and are not acked: a queue that orders by key delivers a later offset while an
	// earlier one waits behind its key, so its cursor cannot pass the earlier one. Empty otherwise.
	Ahead []DeliveryCount
}

// DeliveryCount is how many times a message was delivered.
type DeliveryCount struct {
	Offset int64
	Count  int32
}

// Value encoding of an ack state, version 2 (big endian fixed widths for the header, uvarints after):
//
//	+---------+-------------+--------+---------------------------+
//	| version | incarnation | floor  | delivered - floor         |
//	| uint8=2 | uint64      | int64  | uvarint                   |
//	+---------+-------------+--------+---------------------------+
//	| ranges: count, then count x (start - previous end, length); previous end starts at floor |
//	| redeliveries: count, then count x (offset - previous offset, deliveries); previous starts |
//	| at floor                                                                                  |
//	+-------------------------------------------------------------------------------------------+
//
// Version 1, written before incarnations and delivery counts, is the version byte, the floor and the
// ranges; it reads as incarnation 0, Delivered equal to Floor and no redeliveries.
//
// Version 3 is version 2 followed by the deliveries ahead of the cursor (AckState.Ahead), written only
// when there are some (a queue that orders by key), so that every other state keeps version 2's bytes:
//
//	| ahead: count, then count x (offset - previous offset, deliveries); previous starts at delivered |
const (
	ackStateVersion1 = 1
	ackStateVersion  = 2
	ackStateVersion3 = 3
)

// maxAckRanges bounds the ranges a stored value may claim, so that a corrupt count cannot allocate
// without limit.
const maxAckRanges = 1 << 20

func encodeAckState(st AckState) []byte {
	b := make([]byte, 0, 1+8+8+binary.MaxVarintLen64*(4+2*len(st.Acked)+2*len(st.Redelivered)+2*len(st.Ahead)))
	version := byte(ackStateVersion)
	if len(st.Ahead) > 0 {
		version = ackStateVersion3
	}
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, st.Incarnation)
	b = binary.BigEndian.AppendUint64(b, uint64(st.Floor))
	b = binary.AppendUvarint(b, uint64(st.Delivered-st.Floor))
	b = binary.AppendUvarint(b, uint64(len(st.Acked)))
	prev := st.Floor
	for _, r := range st.Acked {
		b = binary.AppendUvarint(b, uint64(r.Start-prev))
		b = binary.AppendUvarint(b, uint64(r.End-r.Start))
		prev = r.End
	}
	b = binary.AppendUvarint(b, uint64(len(st.Redelivered)))
	prev = st.Floor
	for _, d := range st.Redelivered {
		b = binary.AppendUvarint(b, uint64(d.Offset-prev))
		b = binary.AppendUvarint(b, uint64(d.Count))
		prev = d.Offset
	}
	if len(st.Ahead) > 0 {
		b = binary.AppendUvarint(b, uint64(len(st.Ahead)))
		prev = st.Delivered
		for _, d := range st.Ahead {
			b = binary.AppendUvarint(b, uint64(d.Offset-prev))
			b = binary.AppendUvarint(b, uint64(d.Count))
			prev = d.Offset
		}
	}
	return b
}

// decodeAckState decodes the value of an ack state key into st's stored fields.
func decodeAckState(key, value []byte, st *AckState) error {
	bad := func(what string) error {
		return fmt.Errorf("%w for key %q: ack state: %s", ErrCorruptValue, key, what)
	}
	if len(value) < 9 {
		return bad(fmt.Sprintf("%d bytes", len(value)))
	}
	version, rest := value[0], value[1:]
	switch version {
	case ackStateVersion1:
	case ackStateVersion, ackStateVersion3:
		if len(rest) < 16 {
			return bad(fmt.Sprintf("%d bytes", len(value)))
		}
		st.Incarnation = binary.BigEndian.Uint64(rest)
		rest = rest[8:]
	default:
		return bad(fmt.Sprintf("unknown version %d", version))
	}
	st.Floor = int64(binary.BigEndian.Uint64(rest))
	if st.Floor < 0 {
		return bad("negative floor")
	}
	rest = rest[8:]
	uvarint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > 1<<62 {
			return 0, bad("truncated or oversized " + what)
		}
		rest = rest[n:]
		return v, nil
	}
	st.Delivered = st.Floor
	if version >= ackStateVersion {
		d, err := uvarint("delivery cursor")
		if err != nil {
			return err
		}
		st.Delivered = st.Floor + int64(d)
	}
	count, err := uvarint("range count")
	if err != nil || count > maxAckRanges || count > uint64(len(rest)) {
		return bad("bad range count")
	}
	st.Acked = make([]AckRange, 0, count)
	prev := st.Floor
	for range count {
		gap, err := uvarint("range")
		if err != nil {
			return err
		}
		length, err := uvarint("range")
		if err != nil {
			return err
		}
		start := prev + int64(gap)
		end := start + int64(length)
		// The first range may start at the floor's next unacked offset or later; later ranges must
		// leave a gap, and no range is empty.
		if length == 0 || start < prev || end <= start || (len(st.Acked) > 0 && start == prev) {
			return bad("ranges out of order")
		}
		st.Acked = append(st.Acked, AckRange{Start: start, End: end})
		prev = end
	}
	if version >= ackStateVersion {
		count, err := uvarint("redelivery count")
		if err != nil || count > maxAckRanges || count > uint64(len(rest)) {
			return bad("bad redelivery count")
		}
		st.Redelivered = make([]DeliveryCount, 0, count)
		prev := st.Floor
		for i := range count {
			delta, err := uvarint("redelivery")
			if err != nil {
				return err
			}
			n, err := uvarint("redelivery")
			if err != nil {
				return err
			}
			off := prev + int64(delta)
			if (i > 0 && delta == 0) || off >= st.Delivered || n < 2 || n > 1<<31-1 {
				return bad("redeliveries out of order or out of range")
			}
			st.Redelivered = append(st.Redelivered, DeliveryCount{Offset: off, Count: int32(n)})
			prev = off
		}
	}
	if version == ackStateVersion3 {
		count, err := uvarint("ahead count")
		if err != nil || count == 0 || count > maxAckRanges || count > uint64(len(rest)) {
			return bad("bad ahead count")
		}
		st.Ahead = make([]DeliveryCount, 0, count)
		prev := st.Delivered
		for i := range count {
			delta, err := uvarint("ahead")
			if err != nil {
				return err
			}
			n, err := uvarint("ahead")
			if err != nil {
				return err
			}
			off := prev + int64(delta)
			if (i > 0 && delta == 0) || n < 1 || n > 1<<31-1 || off < 0 {
				return bad("deliveries ahead out of order or out of range")
			}
			st.Ahead = append(st.Ahead, DeliveryCount{Offset: off, Count: int32(n)})
			prev = off
		}
	}
	if len(rest) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(rest)))
	}
	return nil
}

// SaveAckState stores a work-queue group's ack state in one partition, replacing the previous one, synced
// before it returns (it is primary data). Concurrent callers, for other partitions or groups, share fsyncs
// through Pebble's commit pipeline; callers must serialize saves of one partition themselves, since the
// last commit wins.
func (s *Store) SaveAckState(st AckState) error { return s.SaveQueueState(st, nil) }

// checkAckState checks what SaveAckState stores: names, and the order and bounds of ranges and counts.
func checkAckState(st *AckState) error {
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
	st.Delivered = max(st.Delivered, st.Floor)
	for i, d := range st.Redelivered {
		if d.Offset < st.Floor || d.Offset >= st.Delivered || d.Count < 2 || (i > 0 && d.Offset <= st.Redelivered[i-1].Offset) {
			return fmt.Errorf("%w: delivery counts of %s-%d not sorted, in [floor, delivered) and above 1", ErrInvalidOffset, st.Topic, st.Partition)
		}
	}
	for i, d := range st.Ahead {
		if d.Offset < st.Delivered || d.Count < 1 || (i > 0 && d.Offset <= st.Ahead[i-1].Offset) {
			return fmt.Errorf("%w: delivery counts ahead of the cursor of %s-%d not sorted, at or above the cursor and positive", ErrInvalidOffset, st.Topic, st.Partition)
		}
	}
	prev := st.Floor
	for i, r := range st.Acked {
		if r.End <= r.Start || r.Start < prev || (i > 0 && r.Start == prev) {
			return fmt.Errorf("%w: ack ranges of %s-%d not sorted, disjoint and above the floor", ErrInvalidOffset, st.Topic, st.Partition)
		}
		prev = r.End
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
		st := AckState{Group: g, Topic: topic, Partition: partition}
		if err := decodeAckState(key, value, &st); err != nil {
			return err
		}
		states = append(states, st)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return states, nil
}

// DeleteAckStates deletes every ack state of a work-queue group, and its scheduled messages (timers.go),
// in one synced batch.
func (s *Store) DeleteAckStates(group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	b := db.NewBatch()
	prefix := ackStatePrefix(group)
	_ = b.DeleteRange(prefix, prefixEnd(prefix), nil)
	timers := timerGroupPrefix(group)
	_ = b.DeleteRange(timers, prefixEnd(timers), nil)
	return commit(b, pebble.Sync, fmt.Sprintf("delete ack states of group %q", group))
}
