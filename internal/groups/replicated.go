package groups

import (
	"fmt"

	"github.com/mqlog/mqlog/internal/base"
)

// What a replicated DB (package cluster) needs of the coordinator: the fencing of a classic commit
// checked apart from its write, on the leader only, and the writes applied on every node without the
// checks that depend on the node's in-memory members (which only the leader has).

// checkClassicCommit applies Kafka's rules to a classic OffsetCommit (see CommitClassic) without writing
// anything, and restarts the member's session as a commit does. c.gate is held (read side).
func (c *Coordinator) checkClassicCommit(group, memberID string, generation int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[group]
	switch {
	case g == nil || len(g.members) == 0:
		if generation >= 0 {
			return fmt.Errorf("%w: %d for group %s without members", ErrIllegalGeneration, generation, group)
		}
		return nil
	case g.classic == nil:
		return fmt.Errorf("%w: group %s has embedded members", base.ErrGroupActive, group)
	}
	_, m, err := c.classicMemberLocked(group, memberID, generation)
	if err != nil {
		return err
	}
	c.startSessionLocked(g, m)
	if g.classic.state == StateCompletingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// CheckClassicCommit reports whether a classic OffsetCommit of memberID at generation would be accepted
// (the checks of CommitClassic), without writing anything.
func (c *Coordinator) CheckClassicCommit(group, memberID string, generation int32) error {
	if err := base.ValidateGroup(group); err != nil {
		return err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	return c.checkClassicCommit(group, memberID, generation)
}

// SetOffsets durably writes offsets for group whatever its members: the replicated form of a commit
// whose fencing was checked elsewhere (on the leader). Each offset is still checked against its
// partition (ErrInvalidPartition, ErrOutOfRange), which gives the same answer on every node that applied
// the same appends. It returns one error per offset.
func (c *Coordinator) SetOffsets(group string, offsets []OffsetCommit) ([]error, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	errs := make([]error, len(offsets))
	for i, o := range offsets {
		errs[i] = c.write(group, o.Topic, o.Partition, o.Offset, o.LeaderEpoch, o.Metadata)
	}
	return errs, nil
}

// DeleteAllOffsets deletes every committed position of group whatever its members (the replicated form
// of DeleteGroup, whose check for members ran on the leader).
func (c *Coordinator) DeleteAllOffsets(group string) error {
	if err := base.ValidateGroup(group); err != nil {
		return err
	}
	c.gate.Lock()
	defer c.gate.Unlock()
	return c.store.DeleteGroup(group)
}
