package groups

import (
	"fmt"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// GroupOffset is a group's position in one partition (base.GroupOffset).
type GroupOffset = base.GroupOffset

// Groups returns the groups that have committed positions, sorted.
func (c *Coordinator) Groups() ([]string, error) { return c.store.Groups() }

// Offsets returns a group's committed positions with their lag, sorted by topic and partition. Positions
// of topics that no longer exist are returned unclamped, with no lag; positions stored for another
// incarnation of a topic (a commit that raced the topic's deletion) are left out.
func (c *Coordinator) Offsets(group string) ([]GroupOffset, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	offs, err := c.store.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	out := make([]GroupOffset, 0, len(offs))
	for _, o := range offs {
		g := GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Committed: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata}
		if t, err := c.topics.Topic(o.Topic); err == nil {
			if t.Incarnation() != o.Incarnation {
				continue
			}
			if l, err := partitionOf(t, o.Partition); err == nil {
				g.Offset = EffectiveOffset(l, o.Offset)
				g.Lag = l.HighWatermark() - g.Offset
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// committed returns the group's committed offset in a partition of t, or ok false when it has none in
// t's incarnation.
func (c *Coordinator) committed(group string, t base.Topic, partition int32) (int64, bool, error) {
	o, ok, err := c.committedCommit(group, t, partition)
	return o.Offset, ok, err
}

// committedCommit is committed with the commit's leader epoch and metadata.
func (c *Coordinator) committedCommit(group string, t base.Topic, partition int32) (index.GroupOffset, bool, error) {
	o, ok, err := c.store.GroupCommit(group, t.Name(), partition)
	if err != nil || !ok || o.Incarnation != t.Incarnation() {
		return index.GroupOffset{}, false, err
	}
	return o, true, nil
}

// EffectiveOffset is where a group with committed offset reads in l: the committed offset clamped to
// [start offset, high watermark]. An offset below the start is not rewritten: the next commit replaces it,
// and until then every reader clamps it the same way. One past the high watermark was lowered durably at
// Open (ClampToLogs); the upper clamp here is a second guard.
func EffectiveOffset(l *wal.Log, committed int64) int64 {
	return min(max(committed, l.StartOffset()), l.HighWatermark())
}

// ClampToLogs runs at Open, after every partition's recovery and before anything is appended: it lowers,
// durably, the offsets that point past a partition's readable end, which only a crash under SyncInterval
// or SyncNever can leave (it loses acknowledged-but-unsynced messages, while commits are synced). The
// offsets past the end would otherwise name new messages, which the group would skip. Under SyncAlways it
// finds nothing and writes nothing. Offsets below the log start (retention) are not rewritten: they are
// clamped where they are read.
func (c *Coordinator) ClampToLogs() error {
	names, err := c.store.Groups()
	if err != nil {
		return err
	}
	for _, group := range names {
		offsets, err := c.store.GroupOffsets(group)
		if err != nil {
			return err
		}
		var lowered []index.GroupOffset
		for _, o := range offsets {
			t, err := c.topics.Topic(o.Topic)
			if err != nil || t.Incarnation() != o.Incarnation {
				continue
			}
			l, err := partitionOf(t, o.Partition)
			if err != nil {
				continue
			}
			if hw := l.HighWatermark(); o.Offset > hw {
				c.logger.Info("mqlog: group offset past the end of the log after a crash; lowered",
					"group", group, "topic", o.Topic, "partition", o.Partition, "offset", o.Offset, "end", hw)
				o.Offset = hw
				lowered = append(lowered, o)
			}
		}
		if err := c.store.CommitOffsets(group, lowered); err != nil {
			return err
		}
	}
	return nil
}

// DeleteGroup deletes every committed position of group. It refuses (base.ErrGroupActive) while the group
// has members, as Kafka refuses to delete a non-empty group.
func (c *Coordinator) DeleteGroup(group string) error {
	if err := base.ValidateGroup(group); err != nil {
		return err
	}
	c.gate.Lock() // no member joins meanwhile
	defer c.gate.Unlock()
	if c.active(group) {
		return base.ErrGroupActive
	}
	c.mu.Lock()
	for id := range c.mu.pending[group] {
		c.dropPendingLocked(group, id) // their join with the id is then UNKNOWN_MEMBER_ID
	}
	c.mu.Unlock()
	return c.store.DeleteGroup(group)
}

// Floors returns, per partition of t, the offset below which every consumer group of t has consumed (its
// committed offset; 0 where it has committed nothing), or nil when no group has committed in t. Offsets
// are durable ones: never above what a crash would leave committed. It implements cleaner.FloorSource.
func (c *Coordinator) Floors(t base.Topic) (map[int32]int64, error) {
	names, err := c.store.Groups()
	if err != nil {
		return nil, err
	}
	n := len(t.Logs())
	floors := make(map[int32]int64, n)
	interested := false
	for _, g := range names {
		offs, err := c.store.GroupOffsets(g)
		if err != nil {
			return nil, err
		}
		committed := map[int32]int64{}
		for _, o := range offs {
			if o.Topic == t.Name() && o.Incarnation == t.Incarnation() {
				committed[o.Partition] = o.Offset
			}
		}
		if len(committed) == 0 {
			continue // not a consumer of this topic
		}
		for p := range int32(n) {
			floor := committed[p] // 0 where the group has not committed: nothing consumed
			if cur, ok := floors[p]; !ok || floor < cur {
				floors[p] = floor
			}
		}
		interested = true
	}
	if !interested {
		return nil, nil
	}
	return floors, nil
}

// DeleteOffsets deletes group's committed positions in partitions (Kafka's OffsetDelete), in one synced
// batch, with no member joining meanwhile. subscribed gets the group's description and returns the
// topics its members read (the caller knows how its members' protocol says so); a partition of one of
// them is refused with base.ErrGroupSubscribed and kept. It returns one error per partition, nil for
// those deleted (and for those that had no position), or one error for all.
func (c *Coordinator) DeleteOffsets(group string, partitions []index.TopicPartition, subscribed func(GroupDescription) map[string]bool) ([]error, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	c.gate.Lock()
	defer c.gate.Unlock()
	d, err := c.Describe(group)
	if err != nil {
		return nil, err
	}
	var read map[string]bool
	if len(d.Members) > 0 {
		read = subscribed(d)
	}
	errs := make([]error, len(partitions))
	var gone []index.TopicPartition
	for i, p := range partitions {
		if read[p.Topic] {
			errs[i] = fmt.Errorf("%w: group %s reads %s", base.ErrGroupSubscribed, group, p.Topic)
			continue
		}
		gone = append(gone, p)
	}
	if err := c.store.DeleteOffsets(group, gone); err != nil {
		return nil, err
	}
	return errs, nil
}
