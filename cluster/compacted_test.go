package cluster_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// A key-compacted topic whose leader compacted it (offset gaps where older values of a key were) is
// installed from the leader's snapshot on a node added later: the new node holds the same records at the
// same offsets, gaps included, and follows the log after. (Before, its install stopped at the first gap
// with ErrStoredOffset and the node could never catch up.)
func TestAddVoterBySnapshotOfCompactedTopic(t *testing.T) {
	trailing := func(cfg *cluster.Config) {
		noAutoSnapshots(cfg)
		cfg.TrailingLogs = 5
	}
	c := newCluster(t, 3, trailing)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "k", mqlog.TopicConfig{CleanupPolicy: mqlog.CleanupCompact, SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	for i := range 120 { // over many 1 KiB segments: 5 keys written again and again, and a key of its own every sixth
		key := fmt.Appendf(nil, "key-%d", i%6)
		if i%6 == 0 {
			key = fmt.Appendf(nil, "once-%d", i)
		}
		m := mqlog.Message{Key: key, Value: fmt.Appendf(nil, "value-%03d", i)}
		if _, err := l.node.Append(ctx, "k", 0, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.db.Compact(ctx, mqlog.CompactOptions{Topic: "k"}); err != nil { // (the leader's own cleaner)
		t.Fatal(err)
	}
	_, offs := values(t, l.db, "k", 0)
	gaps := 0
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1]+1 {
			gaps++
		}
	}
	if gaps == 0 {
		t.Fatalf("compaction left no gap in the leader's offsets: %v", offs)
	}
	if err := l.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := l.node.Append(ctx, "k", 0, mqlog.Message{Key: []byte("after"), Value: fmt.Appendf(nil, "after-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	n4 := &testNode{id: 4, dir: t.TempDir(), raftAddr: freeAddr(t), mod: trailing}
	n4.start(t)
	c.nodes = append(c.nodes, n4)
	if err := c.leader().node.AddVoter(ctx, cluster.Broker{ID: 4, Host: "127.0.0.1", Port: 9004, RaftAddr: n4.raftAddr}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.leader().node.Append(ctx, "k", 0, mqlog.Message{Key: []byte("last"), Value: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	if err := n4.node.Err(); err != nil {
		t.Fatalf("node 4 stopped: %v", err)
	}
	if s := n4.node.Raft().Stats()["last_snapshot_index"]; s == "0" {
		t.Fatalf("node 4 caught up without a snapshot (last_snapshot_index %s)", s)
	}
	wantVals, wantOffs := values(t, l.db, "k", 0)
	gotVals, gotOffs := values(t, n4.db, "k", 0)
	if !slices.Equal(gotVals, wantVals) || !slices.Equal(gotOffs, wantOffs) {
		t.Fatalf("node 4 holds %v at %v; the leader %v at %v", gotVals, gotOffs, wantVals, wantOffs)
	}
	t.Logf("%d records, %d gaps, installed from a snapshot", len(wantVals), gaps)
}
