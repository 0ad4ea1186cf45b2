package groups

import (
	"fmt"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// ResetTarget is where Reset moves a group: build one with ResetToEarliest, ResetToLatest, ResetToOffset,
// ResetToTime or ResetShiftBy.
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
	resetShift
)

// ResetToEarliest moves a group to each partition's start offset.
func ResetToEarliest() ResetTarget { return ResetTarget{kind: resetEarliest} }

// ResetToLatest moves a group to each partition's high watermark: it skips everything appended so far.
func ResetToLatest() ResetTarget { return ResetTarget{kind: resetLatest} }

// ResetToOffset moves a group to offset in every partition, clamped to what each holds (as Kafka's
// --to-offset does).
func ResetToOffset(offset int64) ResetTarget { return ResetTarget{kind: resetOffset, offset: offset} }

// ResetToTime moves a group to each partition's first record at or after t (the high watermark where
// there is none).
func ResetToTime(t time.Time) ResetTarget { return ResetTarget{kind: resetTime, time: t} }

// ResetShiftBy moves a group by n offsets from its current position in every partition (back when n is
// negative), clamped to what each holds (Kafka's --shift-by).
func ResetShiftBy(n int64) ResetTarget { return ResetTarget{kind: resetShift, offset: n} }

// String describes the target as the CLI's flags spell it.
func (r ResetTarget) String() string {
	switch r.kind {
	case resetLatest:
		return "latest"
	case resetOffset:
		return fmt.Sprintf("offset %d", r.offset)
	case resetTime:
		return "time " + r.time.UTC().Format(time.RFC3339Nano)
	case resetShift:
		return fmt.Sprintf("shift by %d", r.offset)
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

// PlanReset computes, without changing anything, where Reset would move group: in every partition of
// topic, or, with topic empty, of every topic the group has committed positions in.
func (c *Coordinator) PlanReset(group, topic string, to ResetTarget) ([]GroupReset, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	committed, err := c.store.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	current := make(map[string]map[int32]index.GroupOffset)
	var topics []string
	for _, o := range committed {
		if current[o.Topic] == nil {
			current[o.Topic] = make(map[int32]index.GroupOffset)
			topics = append(topics, o.Topic)
		}
		current[o.Topic][o.Partition] = o
	}
	if topic != "" {
		topics = []string{topic}
	}
	var plan []GroupReset
	for _, name := range topics {
		t, err := c.topics.Topic(name)
		if err != nil {
			return nil, err
		}
		for i, l := range t.Logs() {
			p := int32(i)
			cur := l.StartOffset()
			if o, ok := current[name][p]; ok && o.Incarnation == t.Incarnation() {
				cur = o.Offset
			}
			cur = EffectiveOffset(l, cur)
			target, err := resetOffsetOf(l, cur, to)
			if err != nil {
				return nil, fmt.Errorf("mqlog: reset %s partition %d: %w", name, p, err)
			}
			plan = append(plan, GroupReset{Topic: name, Partition: p, Current: cur, Target: target})
		}
	}
	return plan, nil
}

func resetOffsetOf(l *wal.Log, current int64, to ResetTarget) (int64, error) {
	switch to.kind {
	case resetLatest:
		return l.HighWatermark(), nil
	case resetOffset:
		return EffectiveOffset(l, to.offset), nil
	case resetTime:
		return l.OffsetForTime(to.time.UnixMilli())
	case resetShift:
		return EffectiveOffset(l, max(current+to.offset, 0)), nil
	}
	return l.StartOffset(), nil
}

// Reset moves group as PlanReset describes and commits the new positions in one synced batch. It refuses
// (base.ErrGroupActive) while the group has members; no member can join while it runs. Unlike commits, a
// reset may move a position backwards: that is what it is for.
func (c *Coordinator) Reset(group, topic string, to ResetTarget) ([]GroupReset, error) {
	c.gate.Lock()
	defer c.gate.Unlock()
	if c.active(group) {
		return nil, fmt.Errorf("%w: %s", base.ErrGroupActive, group)
	}
	plan, err := c.PlanReset(group, topic, to)
	if err != nil {
		return nil, err
	}
	offsets := make([]index.GroupOffset, len(plan))
	for i, r := range plan {
		t, err := c.topics.Topic(r.Topic)
		if err != nil {
			return nil, err
		}
		offsets[i] = index.GroupOffset{Topic: r.Topic, Partition: r.Partition, Offset: r.Target, Incarnation: t.Incarnation(), LeaderEpoch: index.NoLeaderEpoch}
	}
	if err := c.store.CommitOffsets(group, offsets); err != nil {
		return nil, err
	}
	return plan, nil
}
