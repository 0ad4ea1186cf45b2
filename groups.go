package mqlog

import (
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/groups"
)

// GroupOffset is a group's position in one partition, and how far behind the readable end it is: Topic,
// Partition; Offset, the next offset the group reads (the committed offset clamped to what the log
// holds); Committed, the offset as stored; Lag, the high watermark minus Offset; LeaderEpoch and
// Metadata, what the committer stored with the offset (a Kafka client's committed leader epoch and commit
// metadata; -1 and "" for none).
type GroupOffset = groups.GroupOffset

// ResetTarget is where ResetGroup moves a group: build one with ResetToEarliest, ResetToLatest,
// ResetToOffset, ResetToTime or ResetShiftBy. Its String method spells it as the CLI's flags do.
type ResetTarget = groups.ResetTarget

// GroupReset is one partition of a planned or applied reset: Topic, Partition, and the group's position
// before (Current) and after (Target) it.
type GroupReset = groups.GroupReset

// GroupMember is a member of a consumer group in this process: its ID, the Topic it reads and the
// Partitions it owns.
type GroupMember = groups.MemberInfo

// ResetToEarliest moves a group to each partition's start offset.
func ResetToEarliest() ResetTarget { return groups.ResetToEarliest() }

// ResetToLatest moves a group to each partition's high watermark: it skips everything appended so far.
func ResetToLatest() ResetTarget { return groups.ResetToLatest() }

// ResetToOffset moves a group to offset in every partition, clamped to what each holds (as Kafka's
// --to-offset does).
func ResetToOffset(offset int64) ResetTarget { return groups.ResetToOffset(offset) }

// ResetToTime moves a group to each partition's first record at or after t (the high watermark where
// there is none), found with OffsetForTime.
func ResetToTime(t time.Time) ResetTarget { return groups.ResetToTime(t) }

// ResetShiftBy moves a group n offsets from its current position in each partition (back when n is
// negative), clamped to what each holds (Kafka's --shift-by).
func ResetShiftBy(n int64) ResetTarget { return groups.ResetShiftBy(n) }

// ValidateGroup reports whether group is a valid group name: not empty, without a NUL byte.
func ValidateGroup(group string) error { return base.ValidateGroup(group) }

// Groups returns the consumer groups that have committed positions, sorted.
func (db *DB) Groups() ([]string, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.groups.Groups()
}

// GroupOffsets returns a group's committed positions with their lag, sorted by topic and partition.
// Positions of topics that no longer exist are returned unclamped, with no lag.
func (db *DB) GroupOffsets(group string) ([]GroupOffset, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.groups.Offsets(group)
}

// GroupMembers returns the members a group has in this process, in joining order.
func (db *DB) GroupMembers(group string) ([]GroupMember, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.groups.Members(group), nil
}

// CommitGroupOffset durably sets group's position in a partition of topic without joining the group, as
// tools that set positions do. It is refused (ErrGroupActive) while the group has members, which commit
// through their Consumer; a Kafka commit without a generation is refused the same way for a group that is
// not empty.
func (db *DB) CommitGroupOffset(group, topic string, partition int32, offset int64) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := ValidateGroup(group); err != nil {
		return err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return err
	}
	return facade(db.groups.CommitWithoutMember(group, t, partition, offset))
}

// PlanGroupReset computes, without changing anything, where ResetGroup would move group: in every
// partition of topic, or, with topic empty, of every topic the group has committed positions in.
func (db *DB) PlanGroupReset(group, topic string, to ResetTarget) ([]GroupReset, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	plan, err := db.groups.PlanReset(group, topic, to)
	return plan, facade(err)
}

// ResetGroup moves group as PlanGroupReset describes and commits the new positions in one synced batch.
// It refuses (ErrGroupActive) while the group has members, and no member can join while it runs. Unlike
// commits, a reset may move a position backwards: that is what it is for.
func (db *DB) ResetGroup(group, topic string, to ResetTarget) ([]GroupReset, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	plan, err := db.groups.Reset(group, topic, to)
	return plan, facade(err)
}

// DeleteGroup deletes a group: its committed positions and, for a work-queue group, its ack state, so
// that it no longer holds back interest retention. It refuses (ErrGroupActive) while the group has
// members or open queues, as Kafka refuses to delete a group that is not empty.
func (db *DB) DeleteGroup(group string) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := ValidateGroup(group); err != nil {
		return err
	}
	if db.groups.Active(group) {
		return ErrGroupActive
	}
	if err := db.queues.Delete(group); err != nil {
		return err
	}
	return facade(db.groups.DeleteGroup(group))
}
