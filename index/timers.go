package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// kindTimer is the key kind of a work-queue group's scheduled message: a message appended with a
// delivery time that had not come when the group read it. The group keeps it here, by due time, until it
// is acked, and counts its offset as done in the ack state, so that neither the ack state nor the
// group's memory grows with the messages scheduled for later:
//
//	's' group 0x00 topic 0x00 incarnation[8] due[8] partition[4] offset[8] -> version[1]=1 deliveries(uvarint)
//
// due is the delivery time in milliseconds since the epoch; deliveries counts the deliveries since it
// fell due (0 until then). Keys sort by group, topic, incarnation, then due time, so the scheduled
// messages of one group in one topic come out of one prefix scan in the order they fall due.
const kindTimer byte = 's'

// timerValueVersion is the first byte of a timer's value.
const timerValueVersion = 1

// Timer is a scheduled message of a work-queue group in one topic.
type Timer struct {
	Due        int64 // when it may be delivered, milliseconds since the epoch
	Partition  int32
	Offset     int64
	Deliveries int32 // deliveries since it fell due
}

// Before reports whether t sorts before u in the index: by due time, then partition, then offset.
func (t Timer) Before(u Timer) bool {
	if t.Due != u.Due {
		return t.Due < u.Due
	}
	if t.Partition != u.Partition {
		return t.Partition < u.Partition
	}
	return t.Offset < u.Offset
}

// TimerChange is a change to a scheduled message, written with its partition's ack state: Delete false
// stores the timer (new, or with a new delivery count), Delete true removes it.
type TimerChange struct {
	Timer
	Delete bool
}

// timerGroupPrefix is the prefix of every timer key of one group.
func timerGroupPrefix(group string) []byte {
	key := make([]byte, 0, 2+len(group))
	key = append(key, kindTimer)
	return appendName(key, group)
}

// timerTopicPrefix is the prefix of the timer keys of one group in one topic, every incarnation.
func timerTopicPrefix(group, topic string) []byte {
	return appendName(timerGroupPrefix(group), topic)
}

// timerPrefix is the prefix of the timer keys of one group in one incarnation of a topic.
func timerPrefix(group, topic string, incarnation uint64) []byte {
	return binary.BigEndian.AppendUint64(timerTopicPrefix(group, topic), incarnation)
}

func timerKey(prefix []byte, t Timer) []byte {
	key := make([]byte, 0, len(prefix)+8+partitionWidth+offsetWidth)
	key = append(key, prefix...)
	key = binary.BigEndian.AppendUint64(key, uint64(t.Due))
	key = binary.BigEndian.AppendUint32(key, uint32(t.Partition))
	return binary.BigEndian.AppendUint64(key, uint64(t.Offset))
}

func encodeTimerValue(t Timer) []byte {
	return binary.AppendUvarint([]byte{timerValueVersion}, uint64(t.Deliveries))
}

// decodeTimer decodes a timer key after prefix (group, topic and incarnation) and its value.
func decodeTimer(prefix, key, value []byte) (Timer, error) {
	if len(key) != len(prefix)+8+partitionWidth+offsetWidth {
		return Timer{}, corruptKey(key)
	}
	rest := key[len(prefix):]
	t := Timer{
		Due:       int64(binary.BigEndian.Uint64(rest)),
		Partition: int32(binary.BigEndian.Uint32(rest[8:])),
		Offset:    int64(binary.BigEndian.Uint64(rest[8+partitionWidth:])),
	}
	if t.Due < 0 || t.Partition < 0 || t.Offset < 0 {
		return Timer{}, corruptKey(key)
	}
	if len(value) < 2 || value[0] != timerValueVersion {
		return Timer{}, fmt.Errorf("%w for key %q: timer value %x", ErrCorruptValue, key, value)
	}
	n, w := binary.Uvarint(value[1:])
	if w <= 0 || 1+w != len(value) || n > 1<<31-1 {
		return Timer{}, fmt.Errorf("%w for key %q: timer value %x", ErrCorruptValue, key, value)
	}
	t.Deliveries = int32(n)
	return t, nil
}

// SaveQueueState stores a work-queue group's ack state in one partition and applies changes to its
// scheduled messages in that partition, in one batch synced before it returns: a message counted done in
// the ack state because it was scheduled is never without its timer, after a crash at any instant. With
// no changes it is SaveAckState, one Set. The rules of SaveAckState apply.
func (s *Store) SaveQueueState(st AckState, timers []TimerChange) error {
	return s.saveQueueState(st, timers, pebble.Sync)
}

// SaveQueueStateUnsynced is SaveQueueState without the sync: for a replicated node, whose replicated log
// is the durable copy of every save and which rebuilds its queue states from it at every start.
func (s *Store) SaveQueueStateUnsynced(st AckState, timers []TimerChange) error {
	return s.saveQueueState(st, timers, pebble.NoSync)
}

func (s *Store) saveQueueState(st AckState, timers []TimerChange, sync *pebble.WriteOptions) error {
	if err := checkAckState(&st); err != nil {
		return err
	}
	for _, c := range timers {
		if c.Partition != st.Partition || c.Due < 0 || c.Offset < 0 || c.Deliveries < 0 {
			return fmt.Errorf("%w: timer %+v does not belong to %s-%d", ErrInvalidOffset, c.Timer, st.Topic, st.Partition)
		}
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	key := ackStateKey(st.Group, st.Topic, st.Partition)
	if len(timers) == 0 {
		if err := db.Set(key, encodeAckState(st), sync); err != nil {
			return fmt.Errorf("mqlog/index: save ack state of group %q in %s-%d: %w", st.Group, st.Topic, st.Partition, err)
		}
		return nil
	}
	b := db.NewBatch()
	_ = b.Set(key, encodeAckState(st), nil)
	prefix := timerPrefix(st.Group, st.Topic, st.Incarnation)
	for _, c := range timers {
		if c.Delete {
			_ = b.Delete(timerKey(prefix, c.Timer), nil)
		} else {
			_ = b.Set(timerKey(prefix, c.Timer), encodeTimerValue(c.Timer), nil)
		}
	}
	return commit(b, sync, fmt.Sprintf("save queue state of group %q in %s-%d", st.Group, st.Topic, st.Partition))
}

// EachTimer calls fn for the scheduled messages of group in incarnation of topic, in the order they fall
// due (then partition, then offset), starting after the timer after (from the first when after is nil),
// until fn returns false.
func (s *Store) EachTimer(group, topic string, incarnation uint64, after *Timer, fn func(Timer) bool) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if err := checkTopic(topic); err != nil {
		return err
	}
	db, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	prefix := timerPrefix(group, topic, incarnation)
	lower := prefix
	if after != nil {
		lower = append(timerKey(prefix, *after), 0) // the smallest key after it
	}
	err = scan(db, lower, prefixEnd(prefix), func(key, value []byte) error {
		t, err := decodeTimer(prefix, key, value)
		if err != nil {
			return err
		}
		if !fn(t) {
			return errStopScan
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

// errStopScan ends a scan early; it never leaves the package.
var errStopScan = errors.New("mqlog/index: scan stopped")

// DeleteOtherTimers deletes, synced, the scheduled messages of group in topic that belong to another
// incarnation than the given one: those a handle of a deleted topic saved after the deletion.
func (s *Store) DeleteOtherTimers(group, topic string, incarnation uint64) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if err := checkTopic(topic); err != nil {
		return err
	}
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	all := timerTopicPrefix(group, topic)
	this := timerPrefix(group, topic, incarnation)
	b := db.NewBatch()
	_ = b.DeleteRange(all, this, nil)
	if end, upper := prefixEnd(this), prefixEnd(all); end != nil && bytes.Compare(end, upper) < 0 {
		_ = b.DeleteRange(end, upper, nil)
	}
	return commit(b, pebble.Sync, fmt.Sprintf("delete stale timers of group %q in %s", group, topic))
}
