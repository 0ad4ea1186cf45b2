package cluster

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
)

// Replicated work queues. A work-queue group's durable state in one partition (floor, done ranges,
// delivery cursor and counts, bounded by MaxAckPending, and its scheduled messages' timers) changes by
// whole saves (internal/workqueue), which on a replicated DB go through raft (mqlog.DB.ReplicateQueues):
// the leader's group proposes each save as one opQueueState command, by topic name and replicated topic
// incarnation, and its Ack or Next returns once the command is committed and applied here; every node's
// apply writes the save to its own index (mqlog.DB.ApplyQueueState), into its own incarnation of the
// topic. A save holds the whole state, so the replay after a restart applies it again harmlessly.
//
// Only the leader holds live groups (Node.Queue refuses elsewhere). When it loses the leadership, its
// open groups fail (mqlog.DB.FailQueues): their Next and their messages' Ack return a *NotLeaderError,
// and their leases are gone with them; the new leader opens the group from its index, which holds every
// save the cluster committed, so no acked message is delivered again and every message delivered and not
// acked is delivered again with its count. A save of a group opened in an earlier term is refused,
// before it is proposed (queueTerm) and, by every node alike, when its entry's raft term is not the
// group's, so a node that leads again never writes a stale group's state over a newer one.

// Queue opens a competing consumer of the work-queue group named group on topic, on the leader only
// (a *NotLeaderError elsewhere), as mqlog.DB.Queue does on one node; its acks, deliveries and dead
// letters are replicated. It waits for the leader to have applied every entry before its term (a
// barrier), so the group starts from every committed save. When the node loses the leadership, the
// queue's Next and its messages' Ack, Nak, Term and InProgress return an error matching ErrNotLeader:
// open the group again on the new leader. A dead-letter topic must exist (CreateTopic); a dead letter is
// appended through raft, never to this node's log alone.
func (n *Node) Queue(topic, group string, opts mqlog.QueueOptions) (*mqlog.Queue, error) {
	var q *mqlog.Queue
	err := n.openQueue(func() (err error) {
		q, err = n.db.Queue(topic, group, opts)
		return err
	})
	return q, err
}

// PriorityQueue opens a consumer of a priority queue (mqlog.DB.PriorityQueue: one work-queue group per
// level topic) on the leader only, replicated as Queue's are. Every level topic must exist
// (ErrTopicNotFound): one created by this node alone would diverge the nodes.
func (n *Node) PriorityQueue(group string, levels []string, opts mqlog.QueueOptions, popts mqlog.PriorityOptions) (*mqlog.PriorityQueue, error) {
	var q *mqlog.PriorityQueue
	err := n.openQueue(func() (err error) {
		for _, name := range levels {
			if _, err := n.db.TopicConfig(name); err != nil {
				return err
			}
		}
		q, err = n.db.PriorityQueue(group, levels, opts, popts)
		return err
	})
	return q, err
}

// openQueue runs open (which opens queues of the DB) on the leader, once it applied every entry before
// its term, with the queues of an earlier term failed first.
func (n *Node) openQueue(open func() error) error {
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	term := n.raft.CurrentTerm()
	if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
		return n.notLeader()
	}
	n.queueMu.Lock()
	defer n.queueMu.Unlock()
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return n.notLeader()
	}
	if t := n.queueTerm.Load(); t != term {
		if t != 0 {
			n.db.FailQueues(n.notLeader()) // groups of an earlier term: their state may be stale
		}
		n.queueTerm.Store(term)
	}
	return open()
}

// stopQueues fails the open queues of this node, which no longer leads the term they were opened in
// (closing is set when the node closes: then whatever it leads).
func (n *Node) stopQueues(closing bool) {
	n.queueMu.Lock()
	defer n.queueMu.Unlock()
	t := n.queueTerm.Load()
	if t == 0 || (!closing && n.raft.State() == raft.Leader && n.raft.CurrentTerm() == t) {
		return
	}
	n.queueTerm.Store(0) // (saves in flight are refused from now on)
	n.db.FailQueues(n.notLeader())
}

// queueReplicator is the node's mqlog.QueueReplicator.
type queueReplicator struct{ n *Node }

// SaveQueueState implements mqlog.QueueReplicator: one opQueueState command.
func (r queueReplicator) SaveQueueState(save mqlog.QueueStateSave) error {
	n := r.n
	term := n.queueTerm.Load()
	if term == 0 || term != n.raft.CurrentTerm() {
		return n.notLeader()
	}
	id, err := n.replicatedTopic(save.State.Topic, save.State.Incarnation)
	if err != nil {
		return err
	}
	save.State.Incarnation = 0 // (each node applies it to its own incarnation)
	cmd, err := encodeJSON(opQueueState, queueStateCmd{TopicID: id, Term: term, Save: save})
	if err != nil {
		return err
	}
	_, err = n.propose(context.Background(), cmd)
	return err
}

// AppendDeadLetter implements mqlog.QueueReplicator: Node.Append.
func (r queueReplicator) AppendDeadLetter(ctx context.Context, topic string, partition int32, msgs ...mqlog.Message) ([]mqlog.Position, error) {
	return r.n.Append(ctx, topic, partition, msgs...)
}

// replicatedTopic returns the replicated incarnation (TopicIncarnation) of the topic whose local
// incarnation is local, or ErrTopicNotFound when the topic was deleted (and perhaps created again) since
// that incarnation. The fsm's apply of a creation creates the local topic before it records the
// replicated id, and of a deletion deletes the local topic before it forgets the id: reading the id,
// then the local incarnation, then the id again tells whether both name the same creation.
func (n *Node) replicatedTopic(topic string, local uint64) (uint64, error) {
	id, ok := n.fsm.topicID(topic)
	inc, err := n.db.TopicIncarnation(topic)
	again, still := n.fsm.topicID(topic)
	if !ok || !still || err != nil || id != again || inc != local {
		return 0, fmt.Errorf("%w: %s was deleted", mqlog.ErrTopicNotFound, topic)
	}
	return id, nil
}

// applyQueueState applies an opQueueState command of an entry of term: refused alike on every node when
// the topic's replicated incarnation is not the command's (deleted, or created again, since the save was
// proposed), or when the entry was proposed in another term than the saving group was opened in (its
// node led again after another leader: the group's state may be older than the index's).
func (f *fsm) applyQueueState(c queueStateCmd, term uint64) applyResult {
	if c.Term != term {
		return applyResult{err: fmt.Errorf("%w: queue state of group %s for %s from term %d, proposed in term %d",
			ErrNotLeader, c.Save.State.Group, c.Save.State.Topic, c.Term, term)}
	}
	if id, ok := f.topicID(c.Save.State.Topic); !ok || id != c.TopicID {
		return applyResult{err: fmt.Errorf("%w: queue state of group %s for %s, incarnation %d, which was deleted",
			mqlog.ErrTopicNotFound, c.Save.State.Group, c.Save.State.Topic, c.TopicID)}
	}
	return applyResult{err: f.db.ApplyQueueState(c.Save)}
}
