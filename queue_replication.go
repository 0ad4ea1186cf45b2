package mqlog

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/catalog"
)

// Replicated work queues: what a replicated node (package cluster) needs of its DB's work queues. Every
// durable change of a work-queue group's state in one partition (acks, terminations, deliveries and
// their counts, the cursor, the timers of scheduled messages) is one save of the partition's whole state
// with its timer changes (internal/workqueue). On a replicated DB the save does not go to the local index:
// ReplicateQueues installs a QueueReplicator whose SaveQueueState proposes it to the replicated log and
// returns once the log applied it here; every node's apply writes it with ApplyQueueState. A save holds
// the whole state, so applying one again (a replay) changes nothing. Dead letters go through the
// replicator too, never to the local log alone.
//
// These calls are for a DB whose writes all come through one replicated state machine; mixed with
// ordinary writes they can break the promises of the calls they bypass.

// QueueAckState is a work-queue group's durable state in one partition (index.AckState): floor, done
// ranges, delivery cursor and counts. Its Incarnation is the local topic incarnation of the group that
// saved it.
type QueueAckState = index.AckState

// QueueTimerChange is a change to a scheduled message of a work-queue group (index.TimerChange).
type QueueTimerChange = index.TimerChange

// QueueStateSave is one durable change of a work-queue group's state in one partition: its whole state
// and the changes to its scheduled messages there, written in one synced batch.
type QueueStateSave struct {
	State  QueueAckState
	Timers []QueueTimerChange
}

// QueueReplicator is what a replicated node installs on its DB with ReplicateQueues.
type QueueReplicator interface {
	// SaveQueueState makes save durable on every node and returns once it is applied to this node's
	// index (by ApplyQueueState), or with the error that stops the group (the node is not the leader,
	// say): a queue's Ack and Next return only after their save did.
	SaveQueueState(save QueueStateSave) error
	// AppendDeadLetter appends msgs to one partition of an existing dead-letter topic on every node and
	// returns once it is applied here.
	AppendDeadLetter(ctx context.Context, topic string, partition int32, msgs ...Message) ([]Position, error)
}

// ReplicateQueues makes the DB's work queues save their state and append their dead letters through r
// instead of the local index and logs. Call it once, before any queue is opened (a replicated node calls
// it at its start). It also makes the DB's queues safe for the applies of a replicated log: a topic
// deleted or grown by an apply never waits for a save in flight (internal/workqueue/replication.go).
func (db *DB) ReplicateQueues(r QueueReplicator) error {
	if err := db.writable(); err != nil {
		return err
	}
	db.queueStore.replicator.Store(&r)
	db.queues.SetReplicated(true)
	return nil
}

// ApplyQueueState writes save to the local index: the apply of a replicated save on every node. The
// state goes to the local incarnation of its topic, whatever save.State.Incarnation says (each node's
// incarnations are its own); ErrTopicNotFound when the topic does not exist here. The write is not
// synced: the replicated log is the durable copy of every save, and a replicated node rebuilds its queue
// states from its snapshot and log at every start (ReplaceQueueStates), as it cuts its partitions back.
// A DB directory written so must not be opened as a DB of its own after a crash: it may miss saves.
func (db *DB) ApplyQueueState(save QueueStateSave) error {
	if err := db.writable(); err != nil {
		return err
	}
	t, err := db.catalog.Get(save.State.Topic)
	if err != nil {
		return err
	}
	if save.State.Partition < 0 || int(save.State.Partition) >= len(t.Logs()) {
		return fmt.Errorf("%w: %s partition %d", ErrInvalidPartition, save.State.Topic, save.State.Partition)
	}
	save.State.Incarnation = t.Incarnation()
	return facade(db.store.SaveQueueStateUnsynced(save.State, save.Timers))
}

// QueueStates returns the durable state of every work-queue group in every partition of the topics'
// current incarnations, each with its scheduled messages as timer changes that store them: what a
// replicated node's snapshot holds. State kept for a deleted incarnation of a topic is left out.
func (db *DB) QueueStates() ([]QueueStateSave, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	states, err := db.store.AckStates("")
	if err != nil {
		return nil, facade(err)
	}
	var out []QueueStateSave
	type groupTopic struct{ group, topic string }
	timers := map[groupTopic]map[int32][]QueueTimerChange{}
	for _, st := range states {
		t, err := db.catalog.Get(st.Topic)
		if err != nil || t.Incarnation() != st.Incarnation || int(st.Partition) >= len(t.Logs()) {
			continue
		}
		key := groupTopic{st.Group, st.Topic}
		if _, ok := timers[key]; !ok {
			byPartition := map[int32][]QueueTimerChange{}
			err := db.store.EachTimer(st.Group, st.Topic, st.Incarnation, nil, func(tm index.Timer) bool {
				byPartition[tm.Partition] = append(byPartition[tm.Partition], QueueTimerChange{Timer: tm})
				return true
			})
			if err != nil {
				return nil, facade(err)
			}
			timers[key] = byPartition
		}
		out = append(out, QueueStateSave{State: st, Timers: timers[key][st.Partition]})
	}
	return out, nil
}

// ReplaceQueueStates deletes the stored state of every work-queue group, then writes saves
// (ApplyQueueState): what a replicated node does when it installs a snapshot. No queue may be open.
func (db *DB) ReplaceQueueStates(saves []QueueStateSave) error {
	if err := db.writable(); err != nil {
		return err
	}
	groups, err := db.queues.Groups()
	if err != nil {
		return facade(err)
	}
	for _, g := range groups {
		if err := db.store.DeleteAckStates(g); err != nil {
			return facade(err)
		}
	}
	for _, s := range saves {
		if err := db.ApplyQueueState(s); err != nil {
			return fmt.Errorf("mqlog: queue state of group %s in %s partition %d: %w", s.State.Group, s.State.Topic, s.State.Partition, err)
		}
	}
	return nil
}

// DeleteQueueState deletes the stored state of a work-queue group (its ack states and scheduled
// messages, synced) whatever queues are open: the replicated form of DeleteGroup's queue part, checked
// on the leader (QueueGroupOpen).
func (db *DB) DeleteQueueState(group string) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := ValidateGroup(group); err != nil {
		return err
	}
	return facade(db.store.DeleteAckStates(group))
}

// QueueGroupOpen reports whether a queue of group is open in this DB.
func (db *DB) QueueGroupOpen(group string) bool {
	return db.queues != nil && db.queues.Active(group)
}

// FailQueues ends every open work-queue group: its queues' Next, and its messages' Ack, Nak, Term and
// InProgress, return err from now on, and the next Queue opens the group again from its stored state. A
// replicated node calls it when it loses the leadership: the next leader hands the messages out.
func (db *DB) FailQueues(err error) {
	if db.queues != nil {
		db.queues.FailAll(err)
	}
}

// queueStore is the work queues' store: the index, or, once a replicator is installed, the replicator
// for saves.
type queueStore struct {
	*index.Store
	replicator atomic.Pointer[QueueReplicator]
}

// SaveQueueState implements workqueue.Store.
func (s *queueStore) SaveQueueState(st index.AckState, timers []index.TimerChange) error {
	if r := s.replicator.Load(); r != nil {
		return (*r).SaveQueueState(QueueStateSave{State: st, Timers: timers})
	}
	return s.Store.SaveQueueState(st, timers)
}

// appendDeadLetter appends a dead letter through the replicator: to an existing topic only (a topic
// created by a node alone would diverge the nodes), placed as Append places it.
func (a deadLetterAppender) appendReplicated(ctx context.Context, r QueueReplicator, topic string, msgs []Message) ([]Position, error) {
	t, err := a.db.catalog.Get(topic)
	if err != nil {
		return nil, fmt.Errorf("%w: dead-letter topic %s: on a replicated node it must be created through the cluster", err, topic)
	}
	n := len(t.Logs())
	p := int32(a.db.deadLetterNext.Add(1) % uint64(n))
	if len(msgs) > 0 && msgs[0].Key != nil {
		p = catalog.PartitionForKey(msgs[0].Key, n)
	}
	return r.AppendDeadLetter(ctx, topic, p, msgs...)
}
