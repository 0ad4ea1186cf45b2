package groups

import (
	"fmt"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// Commit durably records offset as the group's next offset in partition, for a member that synced its
// assignment at generation readGeneration. It is refused with a *base.FencedError when the member is no
// longer in the group, does not own the partition now, or has not owned it continuously since
// readGeneration, or when the topic was deleted since the member joined; with ErrOutOfRange for an offset
// past the partition's readable end.
func (m *Member) Commit(readGeneration, partition int32, offset int64) error {
	c := m.c
	c.gate.RLock()
	defer c.gate.RUnlock()
	since, current, isMember, owns := m.ownsSince(partition)
	name := m.topic.Name()
	switch {
	case !isMember:
		select {
		case <-m.topic.Deleted():
			return fenced(m.group, m.id, readGeneration, current, name, partition, base.FenceStaleTopic)
		default:
		}
		return fenced(m.group, m.id, readGeneration, current, name, partition, base.FenceUnknownMember)
	case !owns || since > readGeneration:
		return fenced(m.group, m.id, readGeneration, current, name, partition, base.FenceNotOwner)
	}
	if t, err := c.topics.Topic(name); err != nil || t.Incarnation() != m.topic.Incarnation() {
		return fenced(m.group, m.id, readGeneration, current, name, partition, base.FenceStaleTopic)
	}
	return c.write(m.group, m.topic, partition, offset, index.NoLeaderEpoch, "")
}

// CommitWithoutMember durably sets group's position in a partition of t, as a tool does: accepted only
// while the group has no members (base.ErrGroupActive otherwise), as Kafka accepts a commit of generation
// -1 only for an empty group.
func (c *Coordinator) CommitWithoutMember(group string, t base.Topic, partition int32, offset int64) error {
	if err := base.ValidateGroup(group); err != nil {
		return err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	if c.active(group) {
		return fmt.Errorf("%w: %s (commit through one of its members)", base.ErrGroupActive, group)
	}
	return c.write(group, t, partition, offset, index.NoLeaderEpoch, "")
}

// write stores one offset, tagged with t's incarnation, with the committer's leader epoch (-1 for none)
// and metadata, after checking it against the log.
func (c *Coordinator) write(group string, t base.Topic, partition int32, offset int64, leaderEpoch int32, metadata string) error {
	l, err := partitionOf(t, partition)
	if err != nil {
		return err
	}
	if hw := l.HighWatermark(); offset > hw || offset < 0 {
		return fmt.Errorf("%w: commit of offset %d, %s/%d readable end is %d", base.ErrOutOfRange, offset, t.Name(), partition, hw)
	}
	return c.store.CommitOffsets(group, []index.GroupOffset{{
		Topic: t.Name(), Partition: partition, Offset: offset, Incarnation: t.Incarnation(),
		LeaderEpoch: leaderEpoch, Metadata: metadata,
	}})
}

// partitionOf returns the log of partition p of t, or ErrInvalidPartition.
func partitionOf(t base.Topic, p int32) (*wal.Log, error) {
	logs := t.Logs()
	if p < 0 || int(p) >= len(logs) {
		return nil, fmt.Errorf("%w: %s has no partition %d", base.ErrInvalidPartition, t.Name(), p)
	}
	return logs[p], nil
}
