package cluster

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// Membership changes, on the leader. A voter's Kafka address is part of the replicated state (a command
// of its own, applied before the configuration change), so every node's Brokers names it.

// AddVoter adds b as a voter: its Kafka address is replicated, then raft adds it to the configuration
// and starts replicating to it (from the log, or with a snapshot when the log it needs was compacted).
// The new node is started with Start, without Peers (or with Peers that do not name it), on an empty DB.
func (n *Node) AddVoter(ctx context.Context, b Broker) error {
	if b.ID < 0 || b.RaftAddr == "" {
		return fmt.Errorf("%w: a voter needs an ID >= 0 and a raft address", ErrConfig)
	}
	cmd, err := encodeJSON(opSetBroker, b)
	if err != nil {
		return err
	}
	if _, err := n.propose(ctx, cmd); err != nil {
		return err
	}
	return n.raftErr(n.raft.AddVoter(serverID(b.ID), raft.ServerAddress(b.RaftAddr), 0, n.cfg.ApplyTimeout).Error())
}

// RemoveVoter removes voter id from the configuration, then its Kafka address from the replicated
// state. Removing the leader itself makes it step down once the change is committed.
func (n *Node) RemoveVoter(ctx context.Context, id int32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if err := n.raftErr(n.raft.RemoveServer(serverID(id), 0, n.cfg.ApplyTimeout).Error()); err != nil {
		return err
	}
	if id == n.cfg.ID {
		return nil // (no longer the leader: its address stays until the next leader's removal, harmless)
	}
	cmd, err := encodeJSON(opRemoveBroker, idCmd{ID: id})
	if err != nil {
		return err
	}
	_, err = n.propose(ctx, cmd)
	return err
}

func (n *Node) raftErr(err error) error {
	switch err {
	case nil:
		return nil
	case raft.ErrNotLeader, raft.ErrLeadershipLost, raft.ErrRaftShutdown, raft.ErrLeadershipTransferInProgress:
		return n.notLeader()
	}
	return fmt.Errorf("mqlog/cluster: %w", err)
}
