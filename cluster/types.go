package cluster

import (
	"errors"
	"fmt"
)

// Broker is one voter of the cluster as Kafka clients and the CLI see it: its broker ID (the raft server
// ID, a number), the address of its Kafka listener and the address of its raft transport.
type Broker struct {
	ID       int32  // broker ID; the raft server ID is its decimal form
	Host     string // Kafka listener host, as Metadata advertises it
	Port     int32  // Kafka listener port
	RaftAddr string // host:port of the raft TCP transport
}

// ErrNotLeader is matched (errors.Is) by the error of a replicated write made on a node that is not the
// leader; the error is a *NotLeaderError that names the leader when one is known.
var ErrNotLeader = errors.New("mqlog/cluster: this node is not the leader")

// NotLeaderError is the error of a replicated write made on a follower (or on a node that lost its
// leadership before the write committed, in which case the write may or may not have been applied).
type NotLeaderError struct {
	NodeID   int32 // this node
	LeaderID int32 // the leader this node knows of, -1 when there is none
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID < 0 {
		return fmt.Sprintf("mqlog/cluster: node %d is not the leader, and no leader is known", e.NodeID)
	}
	return fmt.Sprintf("mqlog/cluster: node %d is not the leader; node %d is", e.NodeID, e.LeaderID)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Quorum describes the raft group as one node sees it (the answer to Kafka's DescribeQuorum).
type Quorum struct {
	NodeID       int32  // the node answering
	LeaderID     int32  // -1 when no leader is known
	Term         uint64 // the current raft term (Kafka's leader epoch)
	CommitIndex  uint64
	AppliedIndex uint64
	Voters       []Broker
}
