package cluster

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Which voters the leader can reach. Raft's replication reports every failed heartbeat to a follower
// (FailedHeartbeatObservation) and the first one that succeeds after failures
// (ResumedHeartbeatObservation); the node keeps the latest of each per voter, so that the Kafka front
// end's Metadata can leave a voter that is down (killed, stopped, cut off) out of its brokers and ISR, as
// a Kafka cluster leaves out a broker that is not registered: a client then does not try to dial it.
// Observations are not blocking (raft drops them when the channel is full), so a failure counts only
// for unreachableFor after it was reported: a voter whose resumption was dropped comes back by itself,
// and one still failing is reported again (raft retries a failed heartbeat within half a heartbeat
// timeout, or once the transport's timeout ends the attempt).

// unreachableFor is how long a reported heartbeat failure marks a voter as unreachable.
const unreachableFor = 30 * time.Second

// reachability is the leader's view of its followers' heartbeats.
type reachability struct {
	mu      sync.Mutex
	failed  map[int32]time.Time // the latest failed heartbeat reported, per voter
	resumed map[int32]time.Time // the latest resumption reported, per voter
}

func (r *reachability) observe(o raft.Observation, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed, r.resumed = map[int32]time.Time{}, map[int32]time.Time{}
	}
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		r.failed[parseID(d.PeerID)] = now
	case raft.ResumedHeartbeatObservation:
		r.resumed[parseID(d.PeerID)] = now
	case raft.LeaderObservation: // (a new term: the new leader's heartbeats start afresh)
		clear(r.failed)
		clear(r.resumed)
	}
}

// unreachable returns the voters whose latest report is a failure within unreachableFor of now.
func (r *reachability) unreachable(now time.Time) []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int32
	for id, at := range r.failed {
		if now.Sub(at) < unreachableFor && !r.resumed[id].After(at) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// watchHeartbeats feeds the heartbeat and leader observations into n.reach until the node closes.
func (n *Node) watchHeartbeats() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case o := <-n.heartbeats:
			n.reach.observe(o, time.Now())
		}
	}
}

// heartbeatObservation selects what watchHeartbeats takes.
func heartbeatObservation(o *raft.Observation) bool {
	switch o.Data.(type) {
	case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
		return true
	}
	return false
}

// Unreachable returns the voters this node, as the leader, cannot reach now: those whose latest
// heartbeat failed (and not longer ago than 30 s: a failing voter is reported again while it fails).
// A follower sends no heartbeats and returns none. The Kafka front end leaves them out of Metadata's
// brokers and ISR.
func (n *Node) Unreachable() []int32 {
	if n.raft.State() != raft.Leader {
		return nil
	}
	return n.reach.unreachable(time.Now())
}
