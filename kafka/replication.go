package kafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Replication is the replicated node a Server fronts (Options.Replication): a *cluster.Node satisfies it.
// Its writes are raft commands that return once committed and applied on the leader; on a follower they
// fail with an error matching cluster.ErrNotLeader without proposing anything. Reads stay the local DB's.
type Replication interface {
	// NodeID is this node's broker ID; LeaderID the leader's, -1 when none is known.
	NodeID() int32
	LeaderID() int32
	// Brokers lists the voters with their Kafka and raft addresses.
	Brokers() []cluster.Broker
	// Quorum describes the raft group as this node sees it (DescribeQuorum's answer).
	Quorum() cluster.Quorum

	// AppendBatch calls ordered (when not nil) once the batch has its place in the replicated order.
	AppendBatch(ctx context.Context, topic string, partition int32, batch []byte, ordered func()) (mqlog.AppendResult, error)
	CreateTopic(ctx context.Context, name string, cfg mqlog.TopicConfig) error
	DeleteTopic(ctx context.Context, name string) error
	AddPartitions(ctx context.Context, topic string, n int) (mqlog.TopicConfig, error)
	CommitGroupOffsets(ctx context.Context, group, memberID string, generation int32, offsets []mqlog.GroupOffsetCommit) ([]error, error)
	DeleteGroup(ctx context.Context, group string) error
	AddVoter(ctx context.Context, b cluster.Broker) error
	RemoveVoter(ctx context.Context, id int32) error
}

// *cluster.Node is the Replication of `mqlog serve --raft-*`.
var _ Replication = (*cluster.Node)(nil)

// A Replication may also have these (a *cluster.Node has both): IsLeader, raft's own state (LeaderID is
// the leader this node last heard of, which lags a step-down), and InitProducerID, producer ids from the
// replicated state.
type (
	leaderState interface{ IsLeader() bool }
	// reachability is a leader's view of which voters are down (their heartbeats fail): Metadata leaves
	// them out of its brokers and ISR and lists them as offline replicas.
	reachability interface{ Unreachable() []int32 }
	producerIDs  interface {
		InitProducerID(ctx context.Context) (mqlog.ProducerID, error)
	}
)

// The KIP-853 keys served with Options.Replication.
const (
	describeQuorumKey  int16 = 55
	addRaftVoterKey    int16 = 80
	removeRaftVoterKey int16 = 81
)

// Listener names of a voter in DescribeQuorum and AddRaftVoter: its Kafka listener and its raft transport.
const (
	ListenerKafka = "KAFKA"
	ListenerRaft  = "RAFT"
)

// quorumTopic is the topic DescribeQuorum names: the raft group's log, as Kafka's KRaft calls it.
const quorumTopic = "__cluster_metadata"

// isLeader says whether this node may take writes, group coordination and fetches: true without
// replication.
func (s *Server) isLeader() bool {
	repl := s.opts.Replication
	if l, ok := repl.(leaderState); ok {
		return l.IsLeader()
	}
	return repl == nil || repl.LeaderID() == repl.NodeID()
}

// registerReplication, with Options.Replication set, answers the leader-only keys on a follower with the
// code that makes a Kafka client refresh its metadata and go to the leader, and adds the quorum keys.
func (s *Server) registerReplication(t apiTable) {
	if s.opts.Replication == nil {
		return
	}
	notLeader, notCoordinator, notController := kerr.NotLeaderForPartition.Code, kerr.NotCoordinator.Code, kerr.NotController.Code
	for key, code := range map[int16]int16{
		produceKey: notLeader, fetchKey: notLeader, listOffsetsKey: notLeader,
		offsetCommitKey: notCoordinator, offsetFetchKey: notCoordinator, joinGroupKey: notCoordinator,
		heartbeatKey: notCoordinator, leaveGroupKey: notCoordinator, syncGroupKey: notCoordinator,
		describeGroupsKey: notCoordinator, deleteGroupsKey: notCoordinator,
		createTopicsKey: notController, deleteTopicsKey: notController, createPartitionsKey: notController,
		incrementalAlterConfigsKey: notController,
	} {
		if a, ok := t[key]; ok {
			t[key] = s.leaderOnly(a, code)
		}
	}
	if a, ok := t[listGroupsKey]; ok { // a follower coordinates no group: its list is empty
		h := a.handle
		a.handle = func(ctx context.Context, r *request) (kmsg.Response, error) {
			if !s.isLeader() {
				return r.kreq.ResponseKind(), nil
			}
			return h(ctx, r)
		}
		t[listGroupsKey] = a
	}
	if a, ok := t[incrementalAlterConfigsKey]; ok { // no raft command alters a topic's config yet
		a.handle = func(_ context.Context, r *request) (kmsg.Response, error) {
			resp := failIncrementalAlterConfigs(r.kreq, kerr.PolicyViolation.Code).(*kmsg.IncrementalAlterConfigsResponse)
			for i := range resp.Resources {
				resp.Resources[i].ErrorMessage = errorf("topic configs cannot be altered on a replicated node")
			}
			return resp, nil
		}
		t[incrementalAlterConfigsKey] = s.leaderOnly(a, notController)
	}
	// Not replicated yet, so not served on a replicated node (ApiVersions does not list them): DeleteRecords
	// and OffsetDelete would change one node only; OffsetForLeaderEpoch answers from the epochs stored in
	// the batches, which are each node's own, not the raft terms that Metadata gives as leader epochs.
	delete(t, deleteRecordsKey)
	delete(t, offsetDeleteKey)
	delete(t, offsetForLeaderEpochKey)
	if a, ok := t[describeProducersKey]; ok {
		t[describeProducersKey] = s.leaderOnly(a, notLeader)
	}
	t[describeQuorumKey] = api{min: 0, max: 2, handle: s.describeQuorum}
	t[addRaftVoterKey] = s.leaderOnly(api{min: 0, max: 1, handle: s.addRaftVoter}, notController)
	t[removeRaftVoterKey] = s.leaderOnly(api{min: 0, max: 0, handle: s.removeRaftVoter}, notController)
}

// leaderOnly wraps a's handler: on a follower the request is answered with code everywhere (a produce
// with acks 0, which has no response, closes the connection, Kafka's way of telling such a producer).
func (s *Server) leaderOnly(a api, code int16) api {
	h := a.handle
	a.handle = func(ctx context.Context, r *request) (kmsg.Response, error) {
		if s.isLeader() {
			return h(ctx, r)
		}
		if r.ordered != nil { // the produce requests behind this one need not wait for it
			close(r.ordered)
		}
		if req, ok := r.kreq.(*kmsg.ProduceRequest); ok && req.Acks == 0 {
			return nil, fmt.Errorf("produce with acks 0 to node %d, which is not the leader", s.opts.Replication.NodeID())
		}
		return errorResponse(a, r.kreq, code), nil
	}
	return a
}

// notLeaderCode is the code of a replicated write that failed with cluster.ErrNotLeader (leadership lost
// under it), by the API that made it.
func notLeaderCode(what string) int16 {
	switch what {
	case "Produce":
		return kerr.NotLeaderForPartition.Code
	case "OffsetCommit", "DeleteGroups", "InitProducerId":
		return kerr.NotCoordinator.Code
	}
	return kerr.NotController.Code
}

// appendBatch appends a produced batch: through the DB's group commit on one node, through the raft log
// with replication. ordered is called once the batch has its place in the partition; with replication,
// once it is committed (the produce requests of a connection are then appended one after the other).
func (s *Server) appendBatch(ctx context.Context, p *mqlog.RawPartition, topic string, partition int32, batch []byte, ordered func()) (mqlog.AppendResult, error) {
	repl := s.opts.Replication
	if repl == nil {
		return p.AppendBatch(ctx, batch, ordered)
	}
	return repl.AppendBatch(ctx, topic, partition, batch, ordered)
}

// createTopic, deleteTopic, addPartitions, commitGroupOffsets and deleteGroup are the DB's calls, or the
// Replication's when it is set.
func (s *Server) createTopic(ctx context.Context, name string, cfg mqlog.TopicConfig) error {
	if repl := s.opts.Replication; repl != nil {
		return repl.CreateTopic(ctx, name, cfg)
	}
	return s.db.CreateTopic(name, cfg)
}

func (s *Server) deleteTopic(ctx context.Context, name string) error {
	if repl := s.opts.Replication; repl != nil {
		return repl.DeleteTopic(ctx, name)
	}
	return s.db.DeleteTopic(name)
}

func (s *Server) addTopicPartitions(ctx context.Context, topic string, n int) (mqlog.TopicConfig, error) {
	if repl := s.opts.Replication; repl != nil {
		return repl.AddPartitions(ctx, topic, n)
	}
	return s.db.AddPartitions(topic, n)
}

func (s *Server) commitGroupOffsets(ctx context.Context, group, member string, generation int32, offsets []mqlog.GroupOffsetCommit) ([]error, error) {
	if repl := s.opts.Replication; repl != nil {
		return repl.CommitGroupOffsets(ctx, group, member, generation, offsets)
	}
	return s.db.CommitGroupOffsets(group, member, generation, offsets)
}

func (s *Server) removeGroup(ctx context.Context, group string) error {
	if repl := s.opts.Replication; repl != nil {
		return repl.DeleteGroup(ctx, group)
	}
	return s.db.DeleteGroup(group)
}

// producerID hands out an idempotent producer id: the DB's on one node. With replication, the leader's
// come from the replicated state (the Replication's InitProducerID). Every node answers InitProducerId,
// as every Kafka broker does (librdkafka asks any broker and keeps asking the same one): a follower, or
// a Replication without InitProducerID, hands out a random id with bit 62 set, a range the replicated
// counter never reaches, without writing its local DB (every write to it comes through raft). Two such
// ids are the same with a chance of 2^-62 per pair.
func (s *Server) producerID(ctx context.Context) (mqlog.ProducerID, error) {
	repl := s.opts.Replication
	if repl == nil {
		return s.db.InitProducerID()
	}
	if p, ok := repl.(producerIDs); ok && s.isLeader() {
		id, err := p.InitProducerID(ctx)
		if !isNotLeader(err) {
			return id, err
		}
	}
	return mqlog.ProducerID{ID: 1<<62 | rand.Int64N(1<<62)}, nil
}

// clusterBrokers is Metadata's broker list and controller: this node alone without replication; the
// voters and the leader with it (-1 when there is none).
func (s *Server) clusterBrokers(r *request) ([]kmsg.MetadataResponseBroker, int32) {
	repl := s.opts.Replication
	if repl == nil {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = s.opts.NodeID, r.c.advertised.host, r.c.advertised.port
		return []kmsg.MetadataResponseBroker{b}, s.opts.NodeID
	}
	var out []kmsg.MetadataResponseBroker
	down := s.unreachable()
	for _, v := range repl.Brokers() {
		if slices.Contains(down, v.ID) {
			continue // (a client would try to dial it)
		}
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = v.ID, v.Host, v.Port
		out = append(out, b)
	}
	return out, repl.LeaderID()
}

// unreachable returns the voters the leader cannot reach (Replication's Unreachable), none without one.
func (s *Server) unreachable() []int32 {
	if r, ok := s.opts.Replication.(reachability); ok {
		return r.Unreachable()
	}
	return nil
}

// leadership is what Metadata says of every partition: its leader, leader epoch, replicas, ISR and
// offline replicas, and an error code when no leader is known.
type leadership struct {
	leader, epoch          int32
	replicas, isr, offline []int32
	code                   int16
}

// partitionLeadership is what Metadata says of every partition. Without replication: this node, epoch -1
// (unknown, so clients skip epoch validation). With it: the raft leader, the raft term as the epoch (so
// that a client ignores the older metadata of a node that has not heard of the newest election), every
// voter as a replica, and the voters the leader reaches as the ISR (the others offline).
func (s *Server) partitionLeadership() leadership {
	repl := s.opts.Replication
	if repl == nil {
		self := []int32{s.opts.NodeID}
		return leadership{leader: s.opts.NodeID, epoch: -1, replicas: self, isr: self}
	}
	q := repl.Quorum()
	down := s.unreachable()
	var l leadership
	for _, v := range q.Voters {
		l.replicas = append(l.replicas, v.ID)
		if slices.Contains(down, v.ID) {
			l.offline = append(l.offline, v.ID)
		} else {
			l.isr = append(l.isr, v.ID)
		}
	}
	if q.LeaderID < 0 {
		l.leader, l.epoch, l.code = -1, -1, kerr.LeaderNotAvailable.Code
		return l
	}
	l.leader, l.epoch = q.LeaderID, int32(min(q.Term, 1<<31-1))
	return l
}

// coordinator is the node FindCoordinator answers for groups: this one, or the raft leader.
func (s *Server) coordinator(r *request) (int32, string, int32, error) {
	repl := s.opts.Replication
	if repl == nil {
		return s.opts.NodeID, r.c.advertised.host, r.c.advertised.port, nil
	}
	leader := repl.LeaderID()
	for _, b := range repl.Brokers() {
		if b.ID == leader {
			return b.ID, b.Host, b.Port, nil
		}
	}
	return -1, "", -1, kerr.CoordinatorNotAvailable
}

// describeQuorum answers KIP-853's DescribeQuorum from this node's view of the raft group: the leader,
// the term as its epoch, the commit index as the high watermark, the voters (with their Kafka and raft
// addresses as listeners, v2+). Log end offsets are not tracked per voter: this node's applied index is
// reported for itself, -1 for the others.
func (s *Server) describeQuorum(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	q := s.opts.Replication.Quorum()
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeQuorumResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeQuorumResponseTopicPartition()
			rp.Partition = p.Partition
			if t.Topic != quorumTopic || p.Partition != 0 {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp.LeaderID, rp.LeaderEpoch, rp.HighWatermark = q.LeaderID, int32(min(q.Term, 1<<31-1)), int64(q.CommitIndex)
			for _, v := range q.Voters {
				rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
				rs.ReplicaID, rs.LogEndOffset = v.ID, -1
				if v.ID == q.NodeID {
					rs.LogEndOffset = int64(q.AppliedIndex)
				}
				rp.CurrentVoters = append(rp.CurrentVoters, rs)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, v := range q.Voters {
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = v.ID
		kl := kmsg.NewDescribeQuorumResponseNodeListener()
		kl.Name, kl.Host, kl.Port = ListenerKafka, v.Host, uint16(v.Port)
		n.Listeners = append(n.Listeners, kl)
		if host, port, err := splitHostPort(v.RaftAddr); err == nil {
			rl := kmsg.NewDescribeQuorumResponseNodeListener()
			rl.Name, rl.Host, rl.Port = ListenerRaft, host, uint16(port)
			n.Listeners = append(n.Listeners, rl)
		}
		resp.Nodes = append(resp.Nodes, n)
	}
	return resp, nil
}

// addRaftVoter adds a voter (KIP-853's AddRaftVoter) whose listeners name its Kafka listener (KAFKA) and
// raft transport (RAFT). It answers once the configuration change is committed.
func (s *Server) addRaftVoter(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	b := cluster.Broker{ID: req.VoterID}
	for _, l := range req.Listeners {
		switch l.Name {
		case ListenerKafka:
			b.Host, b.Port = l.Host, int32(l.Port)
		case ListenerRaft:
			b.RaftAddr = joinHostPort(l.Host, int32(l.Port))
		}
	}
	if b.Host == "" || b.RaftAddr == "" || b.ID < 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = errorf("AddRaftVoter needs a voter id and the listeners %s and %s", ListenerKafka, ListenerRaft)
		return resp, nil
	}
	if err := s.opts.Replication.AddVoter(ctx, b); err != nil {
		resp.ErrorCode, resp.ErrorMessage = s.errorCode(r, "AddRaftVoter", err), errorf("%v", err)
	}
	return resp, nil
}

// removeRaftVoter removes a voter (KIP-853's RemoveRaftVoter), once the change is committed.
func (s *Server) removeRaftVoter(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.RemoveRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	known := false
	for _, b := range s.opts.Replication.Brokers() {
		known = known || b.ID == req.VoterID
	}
	if !known {
		resp.ErrorCode, resp.ErrorMessage = kerr.VoterNotFound.Code, errorf("no voter %d", req.VoterID)
		return resp, nil
	}
	if err := s.opts.Replication.RemoveVoter(ctx, req.VoterID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = s.errorCode(r, "RemoveRaftVoter", err), errorf("%v", err)
	}
	return resp, nil
}

// isNotLeader reports a replicated write refused or lost because this node is not (or no longer) the
// leader.
func isNotLeader(err error) bool { return errors.Is(err, cluster.ErrNotLeader) }

func splitHostPort(hostPort string) (string, int32, error) {
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: bad port", hostPort)
	}
	return host, int32(port), nil
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
