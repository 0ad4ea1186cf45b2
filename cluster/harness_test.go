package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/mqlog/mqlog/segment"
)

// testNode is one node of an in-process cluster: its DB, its Node, and where they live, so that it can
// be stopped and started again on the same directories and raft address.
type testNode struct {
	id       int32
	dir      string
	raftAddr string
	peers    []cluster.Broker
	mod      func(*cluster.Config)
	sync     mqlog.SyncPolicy // of the DB
	db       *mqlog.DB
	node     *cluster.Node
}

// freeAddr returns a loopback address with a port nobody listens on now, never one it returned before
// in this process (a port just closed may be handed out again).
func freeAddr(t testing.TB) string {
	t.Helper()
	givenMu.Lock()
	defer givenMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !given[addr] {
			given[addr] = true
			return addr
		}
	}
}

var (
	givenMu sync.Mutex
	given   = map[string]bool{}
)

// start opens the node's DB and starts its Node.
func (n *testNode) start(t testing.TB) {
	t.Helper()
	db, err := mqlog.Open(filepath.Join(n.dir, "db"), &mqlog.Options{RetentionCheckInterval: -1, Sync: n.sync})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.Config{ID: n.id, DB: db, Bind: n.raftAddr, Peers: n.peers,
		Kafka: cluster.Broker{ID: n.id, Host: "127.0.0.1", Port: 9000 + n.id}}
	if n.mod != nil {
		n.mod(&cfg)
	}
	node, err := cluster.Start(cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	nodesMu.Lock()
	n.db, n.node = db, node
	nodesMu.Unlock()
}

// nodesMu guards the db and node fields of every testNode: producers' goroutines look for the leader
// while the test stops and starts nodes.
var nodesMu sync.Mutex

// stop closes the Node (raft shut down, no snapshot taken) and the DB.
func (n *testNode) stop(t testing.TB) {
	t.Helper()
	nodesMu.Lock()
	node, db := n.node, n.db
	n.node, n.db = nil, nil
	nodesMu.Unlock()
	if node == nil {
		return
	}
	if err := node.Close(); err != nil {
		t.Error(err)
	}
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

type testCluster struct {
	t     testing.TB
	nodes []*testNode
}

// newCluster starts size nodes on loopback that bootstrap together; mod, when not nil, adjusts each
// node's Config. Every node is stopped at the test's end.
func newCluster(t testing.TB, size int, mod func(*cluster.Config)) *testCluster {
	t.Helper()
	return newClusterSync(t, size, mod, mqlog.SyncAlways)
}

// newClusterSync is newCluster with the nodes' DBs under sync.
func newClusterSync(t testing.TB, size int, mod func(*cluster.Config), sync mqlog.SyncPolicy) *testCluster {
	t.Helper()
	root := t.TempDir()
	c := &testCluster{t: t}
	var peers []cluster.Broker
	for i := range size {
		id := int32(i + 1)
		n := &testNode{id: id, dir: filepath.Join(root, strconv.Itoa(int(id))), raftAddr: freeAddr(t), mod: mod, sync: sync}
		peers = append(peers, cluster.Broker{ID: id, Host: "127.0.0.1", Port: 9000 + id, RaftAddr: n.raftAddr})
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.peers = peers
		n.start(t)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop(t)
		}
	})
	return c
}

// running returns the nodes that are started.
func (c *testCluster) running() []*testNode {
	nodesMu.Lock()
	defer nodesMu.Unlock()
	var out []*testNode
	for _, n := range c.nodes {
		if n.node != nil {
			out = append(out, n)
		}
	}
	return out
}

// leader waits (at most a minute: a guard against a hang, not a speed assertion) for a running node to
// be the leader and returns it.
func (c *testCluster) leader() *testNode {
	c.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, n := range c.running() {
			if n.node.IsLeader() {
				return n
			}
		}
	}
	c.t.Fatal("no leader within a minute")
	return nil
}

// followers returns the running nodes but the leader.
func (c *testCluster) followers() []*testNode {
	l := c.leader()
	var out []*testNode
	for _, n := range c.running() {
		if n != l {
			out = append(out, n)
		}
	}
	return out
}

// waitApplied waits until every running node applied the leader's last index.
func (c *testCluster) waitApplied() {
	c.t.Helper()
	var leader *testNode
	var want uint64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if l := c.leader(); l != leader {
			if err := l.node.Raft().Barrier(10 * time.Second).Error(); err != nil {
				continue // (leadership changed)
			}
			leader, want = l, l.node.AppliedIndex() // (the barrier waited for the leader's state machine)
		}
		done := true
		for _, n := range c.running() {
			if n.node.AppliedIndex() < want {
				done = false
			}
		}
		if done {
			return
		}
	}
	var state []string
	for _, n := range c.running() {
		state = append(state, fmt.Sprintf("node %d: applied %d, last %d, leader %v, err %v", n.id, n.node.AppliedIndex(), n.node.Raft().LastIndex(), n.node.IsLeader(), n.node.Err()))
	}
	c.t.Fatalf("the nodes did not apply the leader's log within a minute: %v", state)
}

// frames returns the stored batches of a partition as they are, but for the partitionLeaderEpoch (bytes
// 12 to 15, each node's own write epoch), zeroed.
func frames(t testing.TB, db *mqlog.DB, topic string, p int32) [][]byte {
	t.Helper()
	raw, err := db.RawPartition(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for from := raw.StartOffset(); from < raw.HighWatermark(); {
		buf, err := raw.ReadBatches(nil, from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for len(buf) > 0 {
			h, err := segment.ParseHeader(buf)
			if err != nil {
				t.Fatal(err)
			}
			f := bytes.Clone(buf[:h.FrameSize()])
			copy(f[12:16], []byte{0, 0, 0, 0})
			out = append(out, f)
			buf, from = buf[h.FrameSize():], h.LastOffset()+1
		}
	}
	return out
}

// values returns the values of a partition's records in offset order, with their offsets.
func values(t testing.TB, db *mqlog.DB, topic string, p int32) ([]string, []int64) {
	t.Helper()
	var vals []string
	var offs []int64
	for rec, err := range db.Read(topic, p, 0) {
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, string(rec.Value))
		offs = append(offs, rec.Offset)
	}
	return vals, offs
}

// checkSame fails unless every running node holds the same batches in every partition of topic (byte
// for byte, but for the epoch), each value once, every acknowledged value among them.
func (c *testCluster) checkSame(topic string, partitions int32, acked []string) {
	c.t.Helper()
	nodes := c.running()
	id, err := nodes[0].node.TopicIncarnation(topic)
	if err != nil || id == 0 {
		c.t.Fatalf("node %d: topic %s incarnation %d, %v", nodes[0].id, topic, id, err)
	}
	for _, n := range nodes[1:] {
		if got, err := n.node.TopicIncarnation(topic); err != nil || got != id {
			c.t.Fatalf("node %d: topic %s incarnation %d (%v), node %d's %d", n.id, topic, got, err, nodes[0].id, id)
		}
	}
	seen := map[string]bool{}
	for p := range partitions {
		want := frames(c.t, nodes[0].db, topic, p)
		for _, n := range nodes[1:] {
			got := frames(c.t, n.db, topic, p)
			if len(got) != len(want) {
				c.t.Fatalf("partition %d: node %d holds %d batches, node %d %d", p, n.id, len(got), nodes[0].id, len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					c.t.Fatalf("partition %d: batch %d differs between node %d and node %d", p, i, n.id, nodes[0].id)
				}
			}
		}
		vals, _ := values(c.t, nodes[0].db, topic, p)
		for _, v := range vals {
			if seen[v] {
				c.t.Fatalf("%.40q appended twice", v)
			}
			seen[v] = true
		}
	}
	for _, v := range acked {
		if !seen[v] {
			c.t.Fatalf("acknowledged %.40q is missing", v)
		}
	}
}

// produce appends count messages named prefix-i to partition 0 of topic from writers goroutines, each
// through whichever node is the leader, retrying a message not acknowledged as a new value
// (prefix-i-attempt: one that was committed after all is then not taken for a duplicate). It returns the
// values acknowledged.
func (c *testCluster) produce(topic, prefix string, writers, count int) []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += writers {
				for attempt := 0; attempt < 1000; attempt++ {
					v := fmt.Sprintf("%s-%04d-%d", prefix, i, attempt)
					n := c.anyLeader()
					if n == nil {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					_, err := n.Append(context.Background(), topic, 0, mqlog.Message{Value: []byte(v)})
					if err == nil {
						mu.Lock()
						acked = append(acked, v)
						mu.Unlock()
						break
					}
					if !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, mqlog.ErrClosed) {
						c.t.Errorf("append %s: %v", v, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

// anyLeader returns the Node of a running leader now, or nil.
func (c *testCluster) anyLeader() *cluster.Node {
	nodesMu.Lock()
	defer nodesMu.Unlock()
	for _, n := range c.nodes {
		if node := n.node; node != nil && node.IsLeader() {
			return node
		}
	}
	return nil
}

// onLeader runs fn on the leader, again on the next one while fn's error is ErrNotLeader (a write that
// lost its leader may have been applied: only for writes that a retry cannot duplicate, or whose test
// counts that), and returns fn's last error.
func (c *testCluster) onLeader(fn func(*cluster.Node) error) error {
	for {
		err := fn(c.leader().node)
		if !errors.Is(err, cluster.ErrNotLeader) {
			return err
		}
	}
}
