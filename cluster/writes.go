package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
)

// Replicated writes. Each is one raft command: proposed on the leader only (a follower answers
// *NotLeaderError without proposing), it returns once the command is committed (on a majority's raft
// logs, fsynced) and applied to the leader's DB, with the outcome of that apply, which every node's
// apply repeats. ctx is checked before the command is proposed; once proposed, the call waits for its
// outcome or for ctx to end (then the write may still commit and be applied everywhere, as after a lost
// leadership), and Config.ApplyTimeout bounds the enqueueing.
// A leader that loses its leadership while a write is in flight answers *NotLeaderError: the write may
// or may not have been committed, and a retry through the new leader may apply it twice (an idempotent
// producer's retry is recognized as a duplicate by the sequence check every node runs).

// propose applies cmd through raft on this node, which must be the leader.
func (n *Node) propose(ctx context.Context, cmd []byte) (applyResult, error) {
	return n.proposeOrdered(ctx, cmd, nil)
}

// proposeOrdered is propose that calls ordered (when not nil) once cmd has its place in the raft log's
// order, or once it is refused before it has one: raft appends the commands to its log in the order
// their raft.Apply calls handed them over, so a command proposed after ordered was called comes after
// this one in every node's apply.
func (n *Node) proposeOrdered(ctx context.Context, cmd []byte, ordered func()) (applyResult, error) {
	if ordered != nil {
		once := sync.OnceFunc(ordered)
		defer once()
		ordered = once
	}
	if err := ctx.Err(); err != nil {
		return applyResult{}, err
	}
	if err := n.fsm.Err(); err != nil {
		return applyResult{}, err
	}
	if n.raft.State() != raft.Leader {
		return applyResult{}, n.notLeader()
	}
	if len(cmd) > MaxCommandBytes {
		return applyResult{}, fmt.Errorf("%w: a command of %d bytes, limit %d", mqlog.ErrTooLarge, len(cmd), MaxCommandBytes)
	}
	f := n.raft.Apply(cmd, n.cfg.ApplyTimeout) // (returns once raft's leader loop took cmd, or timed out)
	if ordered != nil {
		ordered()
	}
	if err := n.await(ctx, f); err != nil {
		return applyResult{}, err
	}
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
			errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrRaftShutdown) {
			return applyResult{}, n.notLeader()
		}
		return applyResult{}, fmt.Errorf("mqlog/cluster: %w", err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return applyResult{}, fmt.Errorf("%w: no result", ErrBadCommand)
	}
	return res, res.err
}

// await waits for raft to answer f, for ctx to end, or for the node to stop. Raft does not answer a
// future still in its pipeline when it shuts down (hashicorp/raft issue 498: the future's Error blocks
// forever), so a stop ends the wait with *NotLeaderError (the write may or may not have been committed,
// as after a lost leadership); so does ctx, with its error. The goroutine that waits on the future then
// stays until raft answers it, which it may never do.
func (n *Node) await(ctx context.Context, f raft.ApplyFuture) error {
	answered := make(chan struct{})
	go func() { f.Error(); close(answered) }() // (raft's futures take no context)
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		select {
		case <-answered:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("mqlog/cluster: waiting for a proposed write, which may still be applied: %w", ctx.Err())
		case <-n.done:
			return n.notLeader()
		case <-tick.C:
			if n.raft.State() == raft.Shutdown { // (a local failure shut raft down: Node.failed)
				return n.notLeader()
			}
		}
	}
}

// awaitPoll is how often a write waiting for raft checks that raft still runs.
const awaitPoll = 100 * time.Millisecond

func (n *Node) notLeader() error {
	leader := n.LeaderID()
	if leader == n.cfg.ID {
		leader = -1 // (raft still names us while it steps down)
	}
	return &NotLeaderError{NodeID: n.cfg.ID, LeaderID: leader}
}

// AppendBatch appends one RecordBatch v2 frame, as a Kafka producer encoded it, to a partition of an
// existing topic on every node: the frame is the raft command as it came (not re-encoded), and each
// node's apply is the DB's RawPartition.AppendBatch, so an idempotent producer's sequence checks run
// alike everywhere and a duplicate is answered with the original's offset. It returns where the batch
// landed once it is committed and applied on the leader.
//
// ordered, when not nil, is called once the batch has its place in the raft log (or is refused before
// it has one), as RawPartition.AppendBatch calls it once the batch has its offsets: a caller that
// starts its next AppendBatch only then (the Kafka front end, for the pipelined requests of one
// connection) keeps its order on every node, while raft commits both with one fsync.
func (n *Node) AppendBatch(ctx context.Context, topic string, partition int32, batch []byte, ordered func()) (mqlog.AppendResult, error) {
	res, err := n.proposeOrdered(ctx, encodeAppend(topic, partition, batch), ordered)
	if err != nil {
		return mqlog.AppendResult{}, err
	}
	r, _ := res.value.(mqlog.AppendResult)
	return r, nil
}

// Append appends msgs to one partition of an existing topic as one batch (the embedded API's replicated
// append). The batch is encoded on the leader, uncompressed, with the leader's clock for the messages
// without a Timestamp, so every node stores the same bytes. Message.ID and DeliverAt become their headers
// (mqlog.HeaderMessageID, HeaderDeliverAt), and the ids get DB.Append's duplicate window: a message whose
// id the topic holds within its DuplicateWindow is answered with the original's position (Duplicate set)
// and not appended again, whichever leader appended the original (a new leader reads the ids of its
// log's tail again once it has applied its predecessor's entries; a call with ids waits for that).
func (n *Node) Append(ctx context.Context, topic string, partition int32, msgs ...mqlog.Message) ([]mqlog.Position, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	if n.raft.State() != raft.Leader {
		return nil, n.notLeader()
	}
	if withIDs(msgs) {
		if err := n.awaitReady(ctx); err != nil {
			return nil, err
		}
	}
	return n.cfg.DB.AppendDeduplicated(topic, partition, msgs, func(msgs []mqlog.Message) ([]mqlog.Position, error) {
		return n.appendMessages(ctx, topic, partition, msgs)
	})
}

// withIDs reports whether a message has an id, as a field or a header.
func withIDs(msgs []mqlog.Message) bool {
	for i := range msgs {
		if msgs[i].ID != "" {
			return true
		}
		for _, h := range msgs[i].Headers {
			if h.Key == mqlog.HeaderMessageID {
				return true
			}
		}
	}
	return false
}

// awaitReady waits until this node is the leader with its predecessor's entries applied (IsLeader), so
// that its DB's tables of message ids hold every id appended before its term (applyBarrier drops them
// first); *NotLeaderError once it is not the leader.
func (n *Node) awaitReady(ctx context.Context) error {
	for !n.IsLeader() {
		if n.raft.State() != raft.Leader {
			return n.notLeader()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return n.notLeader()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// appendMessages encodes msgs (their ids and delivery times already in their headers) as one batch and
// appends it through raft.
func (n *Node) appendMessages(ctx context.Context, topic string, partition int32, msgs []mqlog.Message) ([]mqlog.Position, error) {
	now := time.Now().UnixMilli()
	recs := make([]segment.Record, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		recs[i] = segment.Record{Timestamp: now, Key: m.Key, Value: m.Value}
		if !m.Timestamp.IsZero() {
			recs[i].Timestamp = m.Timestamp.UnixMilli()
		}
		for _, h := range m.Headers {
			recs[i].Headers = append(recs[i].Headers, segment.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{})
	if err != nil {
		return nil, err
	}
	r, err := n.AppendBatch(ctx, topic, partition, frame, nil)
	if err != nil {
		return nil, err
	}
	out := make([]mqlog.Position, len(msgs))
	for i := range out {
		out[i] = mqlog.Position{Partition: partition, Offset: r.BaseOffset + int64(i)}
	}
	return out, nil
}

// CreateTopic creates a topic on every node (DB.CreateTopic: creating one that exists with the same
// partition count is not an error). The config is completed with the defaults and validated on the
// leader.
func (n *Node) CreateTopic(ctx context.Context, name string, cfg mqlog.TopicConfig) error {
	if err := mqlog.ValidateTopicName(name); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	cmd, err := encodeJSON(opCreateTopic, createTopicCmd{Name: name, Config: cfg})
	if err != nil {
		return err
	}
	_, err = n.propose(ctx, cmd)
	return err
}

// DeleteTopic deletes a topic on every node (DB.DeleteTopic).
func (n *Node) DeleteTopic(ctx context.Context, name string) error {
	cmd, err := encodeJSON(opDeleteTopic, nameCmd{Name: name})
	if err != nil {
		return err
	}
	_, err = n.propose(ctx, cmd)
	return err
}

// AddPartitions raises a topic's partition count to count on every node (DB.AddPartitions) and returns
// its new config.
func (n *Node) AddPartitions(ctx context.Context, topic string, count int) (mqlog.TopicConfig, error) {
	cmd, err := encodeJSON(opAddPartitions, addPartitionsCmd{Topic: topic, Count: count})
	if err != nil {
		return mqlog.TopicConfig{}, err
	}
	res, err := n.propose(ctx, cmd)
	if err != nil {
		return mqlog.TopicConfig{}, err
	}
	cfg, _ := res.value.(mqlog.TopicConfig)
	return cfg, nil
}

// CommitGroupOffsets commits a group's offsets (Kafka's OffsetCommit) on every node. The leader is the
// coordinator of every group: it checks the commit's fencing against its in-memory group state (member,
// generation, rebalance: DB.CheckGroupCommit), then replicates the offsets as plain sets, which every
// node writes (DB.SetGroupOffsets) whatever members it knows (only the leader has members). The error is
// for the whole request; the slice has one error per offset, nil for those committed.
func (n *Node) CommitGroupOffsets(ctx context.Context, group, memberID string, generation int32, offsets []mqlog.GroupOffsetCommit) ([]error, error) {
	if n.raft.State() != raft.Leader {
		return nil, n.notLeader()
	}
	if err := n.db.CheckGroupCommit(group, memberID, generation); err != nil {
		return nil, err
	}
	return n.SetGroupOffsets(ctx, group, offsets)
}

// SetGroupOffsets sets a group's offsets on every node without fencing (the tools' commit, as
// DB.CommitGroupOffset without its check that the group has no members).
func (n *Node) SetGroupOffsets(ctx context.Context, group string, offsets []mqlog.GroupOffsetCommit) ([]error, error) {
	if err := mqlog.ValidateGroup(group); err != nil {
		return nil, err
	}
	cmd, err := encodeJSON(opSetOffsets, setOffsetsCmd{Group: group, Offsets: offsets})
	if err != nil {
		return nil, err
	}
	res, err := n.propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	errs, _ := res.value.([]error)
	return errs, nil
}

// DeleteGroup deletes a group's committed offsets and its work-queue state on every node. It refuses a
// group with members or open queues on the leader (mqlog.ErrGroupActive), as DB.DeleteGroup does.
func (n *Node) DeleteGroup(ctx context.Context, group string) error {
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if d, err := n.db.DescribeGroup(group); err == nil && len(d.Members) > 0 {
		return fmt.Errorf("%w: %s", mqlog.ErrGroupActive, group)
	}
	if m, err := n.db.GroupMembers(group); err == nil && len(m) > 0 {
		return fmt.Errorf("%w: %s", mqlog.ErrGroupActive, group)
	}
	if n.db.QueueGroupOpen(group) {
		return fmt.Errorf("%w: %s has open queues", mqlog.ErrGroupActive, group)
	}
	cmd, err := encodeJSON(opDeleteGroup, nameCmd{Name: group})
	if err != nil {
		return err
	}
	_, err = n.propose(ctx, cmd)
	return err
}

// InitProducerID returns a new idempotent producer (Kafka's InitProducerId without a transactional id):
// an id the cluster never handed out before, epoch 0. Ids come from the replicated state, so a new
// leader never hands out an id its predecessor did.
func (n *Node) InitProducerID(ctx context.Context) (mqlog.ProducerID, error) {
	res, err := n.propose(ctx, []byte{byte(opProducerID)})
	if err != nil {
		return mqlog.ProducerID{}, err
	}
	id, _ := res.value.(mqlog.ProducerID)
	return id, nil
}
