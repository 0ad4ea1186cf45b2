package cluster_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// noAutoSnapshots leaves snapshots to the test (Raft().Snapshot()).
func noAutoSnapshots(cfg *cluster.Config) {
	cfg.SnapshotThreshold = 1 << 40
	cfg.SnapshotInterval = time.Hour
}

// A follower takes a snapshot, applies more, and stops without another one (its DB then holds more than
// the snapshot); meanwhile the cluster goes on. At its start raft restores the snapshot, which cuts each
// partition back to the snapshot's watermark, and replays the entries after it: the node ends with the
// same batches at the same offsets as the others, nothing twice, groups and producer ids as replicated.
func TestRestartFromSnapshotCutsBack(t *testing.T) {
	c := newCluster(t, 3, noAutoSnapshots)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	acked := c.produce("t", "a", 2, 40)
	for i := range 10 {
		if _, err := l.node.Append(ctx, "t", 1, mqlog.Message{Value: []byte("p1-" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.node.CommitGroupOffsets(ctx, "g", "", -1, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	f := c.followers()[0]
	if err := f.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	acked = append(acked, c.produce("t", "b", 2, 40)...) // applied by f after its snapshot
	if _, err := l.node.CommitGroupOffsets(ctx, "g", "", -1, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 60}}); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	f.stop(t)
	acked = append(acked, c.produce("t", "c", 2, 20)...) // while f is down
	f.start(t)
	c.waitApplied()
	c.checkSame("t", 2, acked)
	if off, ok, err := f.db.FetchGroupOffset("g", "t", 0); err != nil || !ok || off != 60 {
		t.Fatalf("group offset on the restarted node: %d %v %v", off, ok, err)
	}
	// Once more, now from a snapshot taken by the restarted node itself.
	if err := f.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	f.stop(t)
	f.start(t)
	acked = append(acked, c.produce("t", "d", 1, 10)...)
	c.waitApplied()
	c.checkSame("t", 2, acked)
}

// A node that is not in the initial peers is added by AddVoter after the leader compacted its log: it is
// sent a snapshot (installed from the stored batches), then the entries after it. A node is removed by
// RemoveVoter, and the cluster goes on without it.
func TestAddVoterBySnapshotAndRemove(t *testing.T) {
	trailing := func(cfg *cluster.Config) {
		noAutoSnapshots(cfg)
		cfg.TrailingLogs = 5
	}
	c := newCluster(t, 3, trailing)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	acked := c.produce("t", "a", 2, 60)
	if _, err := l.node.CommitGroupOffsets(ctx, "g", "", -1, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 11}}); err != nil {
		t.Fatal(err)
	}
	if err := l.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if first, _ := l.node.Raft().Stats()["last_snapshot_index"]; first == "0" {
		t.Fatal("the leader took no snapshot")
	}
	acked = append(acked, c.produce("t", "b", 2, 10)...)

	n4 := &testNode{id: 4, dir: t.TempDir(), raftAddr: freeAddr(t), mod: trailing}
	n4.start(t)
	c.nodes = append(c.nodes, n4)
	if err := c.leader().node.AddVoter(ctx, cluster.Broker{ID: 4, Host: "127.0.0.1", Port: 9004, RaftAddr: n4.raftAddr}); err != nil {
		t.Fatal(err)
	}
	acked = append(acked, c.produce("t", "c", 2, 10)...)
	c.waitApplied()
	c.checkSame("t", 1, acked)
	if s := n4.node.Raft().Stats()["last_snapshot_index"]; s == "0" {
		t.Fatalf("node 4 caught up without a snapshot (last_snapshot_index %s)", s)
	}
	if off, ok, err := n4.db.FetchGroupOffset("g", "t", 0); err != nil || !ok || off != 11 {
		t.Fatalf("node 4's group offset: %d %v %v", off, ok, err)
	}
	for _, n := range c.running() {
		bs := n.node.Brokers()
		if len(bs) != 4 || bs[3].ID != 4 || bs[3].Port != 9004 || bs[3].RaftAddr != n4.raftAddr {
			t.Fatalf("node %d's brokers: %+v", n.id, bs)
		}
	}

	// Remove a follower other than the new node.
	var gone *testNode
	for _, f := range c.followers() {
		if f != n4 {
			gone = f
			break
		}
	}
	if err := c.leader().node.RemoveVoter(ctx, gone.id); err != nil {
		t.Fatal(err)
	}
	gone.stop(t)
	acked = append(acked, c.produce("t", "d", 2, 10)...)
	c.waitApplied()
	c.checkSame("t", 1, acked)
	for _, n := range c.running() {
		if bs := n.node.Brokers(); len(bs) != 3 {
			t.Fatalf("node %d's brokers after the removal: %+v", n.id, bs)
		}
	}
	t.Log(fmt.Sprintf("%d appends acknowledged", len(acked)))
}
