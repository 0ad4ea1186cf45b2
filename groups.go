package mqlog

import (
	"errors"
	"fmt"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/wal"
)

// ErrGroupActive is returned by ResetGroup while the group has members in this process: Kafka, too,
// resets only the offsets of a group with no active members.
var ErrGroupActive = errors.New("mqlog: group has active members")

// GroupOffset is a group's position in one partition, and how far behind the readable end it is.
type GroupOffset struct {
	Topic     string
	Partition int32
	// Offset is the next offset the group reads: the committed offset, clamped to what the log holds
	// (raised to the log start when retention removed what it pointed at, lowered to the high watermark
	// when a crash under a relaxed sync policy lost the end of the log).
	Offset int64
	// Committed is the offset as stored in the index, before clamping.
	Committed int64
	// Lag is the high watermark minus Offset.
	Lag int64
}

// Groups returns the consumer groups that have committed positions, sorted.
func (db *DB) Groups() ([]string, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	return db.store.Groups()
}

// GroupOffsets returns a group's committed positions with their lag, sorted by topic and partition.
// Positions of topics that no longer exist are returned unclamped, with no lag.
func (db *DB) GroupOffsets(group string) ([]GroupOffset, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	offs, err := db.store.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	out := make([]GroupOffset, 0, len(offs))
	for _, o := range offs {
		g := GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Committed: o.Offset}
		if t, err := db.topic(o.Topic); err == nil {
			if l, err := t.partition(o.Partition); err == nil {
				g.Offset = effectiveOffset(l, o.Offset)
				g.Lag = l.HighWatermark() - g.Offset
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// effectiveOffset is where a group with committed offset reads in l: the committed offset clamped to
// [start offset, high watermark]. An offset below the start is not rewritten (docs/CONSUMERS.md): the
// next Commit replaces it, and until then every reader clamps it the same way. One past the high
// watermark was lowered durably at Open (clampConsumerState); the upper clamp here is a second guard.
func effectiveOffset(l *wal.Log, committed int64) int64 {
	return min(max(committed, l.StartOffset()), l.HighWatermark())
}

// CommitGroupOffset durably sets group's position in a partition of topic, as Consumer.CommitOffset does,
// without joining the group (for tools that reset positions).
func (db *DB) CommitGroupOffset(group, topicName string, partition int32, offset int64) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return err
	}
	t, err := db.topic(topicName)
	if err != nil {
		return err
	}
	return db.commit(group, t, partition, offset)
}

// ResetTarget is where ResetGroup moves a group: build one with ResetToEarliest, ResetToLatest,
// ResetToOffset or ResetToTime.
type ResetTarget struct {
	kind   resetKind
	offset int64
	time   time.Time
}

type resetKind int

const (
	resetEarliest resetKind = iota
	resetLatest
	resetOffset
	resetTime
)

// ResetToEarliest moves a group to each partition's start offset.
func ResetToEarliest() ResetTarget { return ResetTarget{kind: resetEarliest} }

// ResetToLatest moves a group to each partition's high watermark: it skips everything appended so far.
func ResetToLatest() ResetTarget { return ResetTarget{kind: resetLatest} }

// ResetToOffset moves a group to offset in every partition, clamped to what each holds (as Kafka's
// --to-offset does).
func ResetToOffset(offset int64) ResetTarget { return ResetTarget{kind: resetOffset, offset: offset} }

// ResetToTime moves a group to each partition's first record at or after t (the high watermark where
// there is none), found with OffsetForTime.
func ResetToTime(t time.Time) ResetTarget { return ResetTarget{kind: resetTime, time: t} }

// String describes the target as the CLI's flags spell it.
func (r ResetTarget) String() string {
	switch r.kind {
	case resetLatest:
		return "latest"
	case resetOffset:
		return fmt.Sprintf("offset %d", r.offset)
	case resetTime:
		return "time " + r.time.UTC().Format(time.RFC3339Nano)
	}
	return "earliest"
}

// GroupReset is one partition of a planned or applied reset.
type GroupReset struct {
	Topic     string
	Partition int32
	// Current is the group's position before the reset (its effective offset, or the start offset when
	// it has committed nothing there); Target is the position after it.
	Current, Target int64
}

// PlanGroupReset computes, without changing anything, where ResetGroup would move group: in every
// partition of topicName, or, with topicName empty, of every topic the group has committed positions in.
func (db *DB) PlanGroupReset(group, topicName string, to ResetTarget) ([]GroupReset, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return nil, err
	}
	committed, err := db.store.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	current := make(map[string]map[int32]int64)
	var topics []string
	for _, o := range committed {
		if current[o.Topic] == nil {
			current[o.Topic] = make(map[int32]int64)
			topics = append(topics, o.Topic)
		}
		current[o.Topic][o.Partition] = o.Offset
	}
	if topicName != "" {
		topics = []string{topicName}
	}
	var plan []GroupReset
	for _, name := range topics {
		t, err := db.topic(name)
		if err != nil {
			return nil, err
		}
		for i, l := range t.partitions {
			p := int32(i)
			cur, ok := current[name][p]
			if !ok {
				cur = l.StartOffset()
			}
			target, err := resetOffsetOf(l, to)
			if err != nil {
				return nil, fmt.Errorf("mqlog: reset %s partition %d: %w", name, p, err)
			}
			plan = append(plan, GroupReset{Topic: name, Partition: p, Current: effectiveOffset(l, cur), Target: target})
		}
	}
	return plan, nil
}

func resetOffsetOf(l *wal.Log, to ResetTarget) (int64, error) {
	switch to.kind {
	case resetLatest:
		return l.HighWatermark(), nil
	case resetOffset:
		return effectiveOffset(l, to.offset), nil
	case resetTime:
		return l.OffsetForTime(to.time.UnixMilli())
	}
	return l.StartOffset(), nil
}

// ResetGroup moves group as PlanGroupReset describes and commits the new positions in one synced batch.
// It refuses (ErrGroupActive) while the group has members in this process. Unlike commits, a reset may
// move a position backwards: that is what it is for.
func (db *DB) ResetGroup(group, topicName string, to ResetTarget) ([]GroupReset, error) {
	plan, err := db.PlanGroupReset(group, topicName, to)
	if err != nil {
		return nil, err
	}
	if db.groups.active(group) {
		return nil, fmt.Errorf("%w: %s", ErrGroupActive, group)
	}
	offsets := make([]index.GroupOffset, len(plan))
	for i, r := range plan {
		offsets[i] = index.GroupOffset{Topic: r.Topic, Partition: r.Partition, Offset: r.Target}
	}
	if err := db.store.CommitOffsets(group, offsets); err != nil {
		return nil, err
	}
	return plan, nil
}
