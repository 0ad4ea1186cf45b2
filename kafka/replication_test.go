package kafka

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeCluster stands in for raft in the Kafka front end's tests: nodes over their own DBs, one of them the
// leader (set by the test), every write made on the leader applied to every node's DB in one order.
type fakeCluster struct {
	mu      sync.Mutex
	leader  int32
	term    uint64
	brokers []cluster.Broker
	nodes   []*fakeNode
}

type fakeNode struct {
	c  *fakeCluster
	id int32
	db *mqlog.DB
}

func (c *fakeCluster) setLeader(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = id
	c.term++
}

func (n *fakeNode) NodeID() int32 { return n.id }
func (n *fakeNode) LeaderID() int32 {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.c.leader
}
func (n *fakeNode) Brokers() []cluster.Broker {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return append([]cluster.Broker(nil), n.c.brokers...)
}
func (n *fakeNode) Quorum() cluster.Quorum {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return cluster.Quorum{NodeID: n.id, LeaderID: n.c.leader, Term: n.c.term, CommitIndex: 7, AppliedIndex: 7,
		Voters: append([]cluster.Broker(nil), n.c.brokers...)}
}

// write runs apply on every node's DB, leader first, under the cluster's lock; the leader's result is the
// answer. On a follower it is the typed error of cluster.
func (n *fakeNode) write(apply func(db *mqlog.DB, leader bool) error) error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	if n.c.leader != n.id {
		return &cluster.NotLeaderError{NodeID: n.id, LeaderID: n.c.leader}
	}
	if err := apply(n.db, true); err != nil {
		return err
	}
	for _, o := range n.c.nodes {
		if o != n {
			if err := apply(o.db, false); err != nil {
				return fmt.Errorf("node %d: %w", o.id, err)
			}
		}
	}
	return nil
}

func (n *fakeNode) AppendBatch(ctx context.Context, topic string, partition int32, batch []byte, ordered func()) (res mqlog.AppendResult, err error) {
	if ordered != nil {
		defer ordered() // (the fake replicates one write at a time, in the order they came)
	}
	err = n.write(func(db *mqlog.DB, leader bool) error {
		p, err := db.RawPartition(topic, partition)
		if err != nil {
			return err
		}
		r, err := p.AppendBatch(ctx, append([]byte(nil), batch...), nil)
		if leader {
			res = r
		}
		return err
	})
	return res, err
}
func (n *fakeNode) CreateTopic(_ context.Context, name string, cfg mqlog.TopicConfig) error {
	return n.write(func(db *mqlog.DB, _ bool) error { return db.CreateTopic(name, cfg) })
}
func (n *fakeNode) DeleteTopic(_ context.Context, name string) error {
	return n.write(func(db *mqlog.DB, _ bool) error { return db.DeleteTopic(name) })
}
func (n *fakeNode) AddPartitions(_ context.Context, topic string, count int) (cfg mqlog.TopicConfig, err error) {
	err = n.write(func(db *mqlog.DB, leader bool) error {
		c, err := db.AddPartitions(topic, count)
		if leader {
			cfg = c
		}
		return err
	})
	return cfg, err
}
func (n *fakeNode) CommitGroupOffsets(_ context.Context, group, member string, generation int32, offsets []mqlog.GroupOffsetCommit) (errs []error, err error) {
	err = n.write(func(db *mqlog.DB, leader bool) error {
		if leader { // fenced by the leader's coordinator, then set on the followers
			var err error
			errs, err = db.CommitGroupOffsets(group, member, generation, offsets)
			return err
		}
		_, err := db.CommitGroupOffsets(group, "", -1, offsets)
		return err
	})
	return errs, err
}
func (n *fakeNode) DeleteGroup(_ context.Context, group string) error {
	return n.write(func(db *mqlog.DB, _ bool) error { return db.DeleteGroup(group) })
}
func (n *fakeNode) AddVoter(_ context.Context, b cluster.Broker) error {
	return n.write(func(*mqlog.DB, bool) error { return nil })
}
func (n *fakeNode) RemoveVoter(_ context.Context, id int32) error {
	return n.write(func(*mqlog.DB, bool) error { return nil })
}

var _ Replication = (*fakeNode)(nil)

// startFakeCluster starts n servers over a fakeCluster, node 1 the leader.
func startFakeCluster(t *testing.T, n int) (*fakeCluster, []*testServer) {
	t.Helper()
	c := &fakeCluster{leader: 1, term: 1}
	var servers []*testServer
	for i := range n {
		db, err := mqlog.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		node := &fakeNode{c: c, id: int32(i + 1), db: db}
		c.nodes = append(c.nodes, node)
		ts := startServerOn(t, db, &Options{Replication: node, NoServingFile: true})
		host, portText, _ := net.SplitHostPort(ts.addr)
		port, _ := strconv.Atoi(portText)
		c.mu.Lock()
		c.brokers = append(c.brokers, cluster.Broker{ID: node.id, Host: host, Port: int32(port), RaftAddr: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
		c.mu.Unlock()
		servers = append(servers, ts)
	}
	return c, servers
}

// TestReplicationFollowerSendsClientsToTheLeader checks the answers of a follower and of the leader with
// Options.Replication: Metadata lists the voters and the leader (epoch the term), FindCoordinator the
// leader, and the leader-only keys on a follower carry the codes that make a client go to the leader.
func TestReplicationFollowerSendsClientsToTheLeader(t *testing.T) {
	c, servers := startFakeCluster(t, 3)
	leader, follower := dial(t, servers[0].addr), dial(t, servers[1].addr)

	// Metadata (on the follower) creates the topic through the leader's replicated write: not on a follower.
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	topic := "t"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	md.Topics = append(md.Topics, mt)
	md.AllowAutoTopicCreation = true
	resp := follower.do(md).(*kmsg.MetadataResponse)
	if got := resp.Topics[0].ErrorCode; got != kerr.NotController.Code {
		t.Fatalf("auto-create on a follower: %v, want NOT_CONTROLLER", kerr.ErrorForCode(got))
	}
	resp = leader.do(md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 3 || resp.ControllerID != 1 {
		t.Fatalf("Metadata: %d brokers, controller %d; want 3 and 1", len(resp.Brokers), resp.ControllerID)
	}
	for i, b := range resp.Brokers {
		if want := servers[i].addr; net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))) != want || b.NodeID != int32(i+1) {
			t.Errorf("broker %d: %d at %s:%d, want %d at %s", i, b.NodeID, b.Host, b.Port, i+1, want)
		}
	}
	if p := resp.Topics[0].Partitions; len(p) != 1 || p[0].Leader != 1 || p[0].LeaderEpoch != 1 || len(p[0].ISR) != 3 || p[0].ErrorCode != 0 {
		t.Fatalf("partition metadata: %+v", p)
	}
	for _, s := range servers { // created on every node
		if _, err := s.db.TopicConfig(topic); err != nil {
			t.Fatalf("topic not on every node: %v", err)
		}
	}

	// The follower refuses produce, fetch, group and admin keys with the codes that send a client to the leader.
	if code := follower.do(produceReq(9, topic, 0, batch(t, 1, "f"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce on a follower: %v", kerr.ErrorForCode(code))
	}
	if code := follower.do(fetchReq(12, topic, 0, 0, 0, 0)).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("fetch on a follower: %v", kerr.ErrorForCode(code))
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType, join.SessionTimeoutMillis = 5, "g", "consumer", 10_000
	if code := follower.do(join).(*kmsg.JoinGroupResponse).ErrorCode; code != kerr.NotCoordinator.Code {
		t.Errorf("JoinGroup on a follower: %v", kerr.ErrorForCode(code))
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 5
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "u", 1, -1
	ct.Topics = append(ct.Topics, rt)
	if code := follower.do(ct).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != kerr.NotController.Code {
		t.Errorf("CreateTopics on a follower: %v", kerr.ErrorForCode(code))
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "g"
	if r := follower.do(fc).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 || r.NodeID != 1 || net.JoinHostPort(r.Host, strconv.Itoa(int(r.Port))) != servers[0].addr {
		t.Errorf("FindCoordinator on a follower: %v node %d at %s:%d, want node 1 at %s", kerr.ErrorForCode(r.ErrorCode), r.NodeID, r.Host, r.Port, servers[0].addr)
	}

	// InitProducerId is answered on a follower too (librdkafka asks any broker), from a range of its own.
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	if r := follower.do(ip).(*kmsg.InitProducerIDResponse); r.ErrorCode != 0 || r.ProducerID>>62 != 1 {
		t.Errorf("InitProducerId on a follower: %v, id %#x", kerr.ErrorForCode(r.ErrorCode), r.ProducerID)
	}

	// The leader appends through the replication: the batch is on every node at the same offset.
	if r := leader.do(produceReq(9, topic, 0, batch(t, 3, "l"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce on the leader: %v at %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	for i, s := range servers {
		if hw := mustPartition(t, s.db, topic, 0).HighWatermark(); hw != 3 {
			t.Errorf("node %d: high watermark %d, want 3", i+1, hw)
		}
	}

	// Leadership moves: the old leader now refuses, Metadata everywhere names the new one with the new term.
	c.setLeader(2)
	if code := leader.do(produceReq(9, topic, 0, batch(t, 1, "x"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce on the old leader: %v", kerr.ErrorForCode(code))
	}
	resp = leader.do(md).(*kmsg.MetadataResponse)
	if p := resp.Topics[0].Partitions[0]; resp.ControllerID != 2 || p.Leader != 2 || p.LeaderEpoch != 2 {
		t.Errorf("after the election: controller %d, leader %d epoch %d; want 2, 2, 2", resp.ControllerID, p.Leader, p.LeaderEpoch)
	}

	// DescribeQuorum names the voters with their Kafka and raft listeners.
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dq.Version = 2
	dt := kmsg.NewDescribeQuorumRequestTopic()
	dt.Topic = quorumTopic
	dt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	dq.Topics = append(dq.Topics, dt)
	q := leader.do(dq).(*kmsg.DescribeQuorumResponse)
	if p := q.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderID != 2 || len(p.CurrentVoters) != 3 || len(q.Nodes) != 3 || len(q.Nodes[2].Listeners) != 2 || q.Nodes[2].Listeners[1].Port != 7002 {
		t.Errorf("DescribeQuorum: %+v nodes %+v", p, q.Nodes)
	}
}

// TestReplicationFranzGoFollowsFailover produces through franz-go (acks all, idempotent) while the leader
// moves between nodes, seeded with a follower only: every record is acknowledged and is on every node
// once, in the order produced.
func TestReplicationFranzGoFollowsFailover(t *testing.T) {
	c, servers := startFakeCluster(t, 3)
	if err := c.nodes[0].CreateTopic(context.Background(), "f", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers[2].addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic("f"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 60
	for i := range n {
		if i%20 == 10 {
			c.setLeader(int32((i/20+1)%3 + 1)) // 2, then 3, then 1
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	for id, s := range servers {
		var i int
		for rec, err := range s.db.Read("f", 0, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Value) != strconv.Itoa(i) || rec.Offset != int64(i) {
				t.Fatalf("node %d offset %d: %q, want %d", id+1, rec.Offset, rec.Value, i)
			}
			i++
			if i == n {
				break
			}
		}
		if i != n {
			t.Fatalf("node %d has %d records, want %d", id+1, i, n)
		}
	}
}
