package cluster_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// Node.Append applies DB.Append's duplicate window to message ids: a message whose id was appended
// within the window is answered with the original's position and not appended again, on the leader that
// appended it and on the next leader after a failover (which read the ids of its log's tail again).
func TestAppendDeduplicatesAcrossFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	first, err := l.node.Append(ctx, "t", 0, mqlog.Message{ID: "order-1", Value: []byte("v1")}, mqlog.Message{Value: []byte("no id")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.node.Append(ctx, "t", 0, mqlog.Message{ID: "order-1", Value: []byte("v1 again")}, mqlog.Message{ID: "order-2", Value: []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Duplicate || again[0].Offset != first[0].Offset || again[1].Duplicate {
		t.Fatalf("on the same leader: %+v after %+v, want the first a duplicate of offset %d", again, first, first[0].Offset)
	}
	both := mqlog.Message{ID: "x", Headers: []mqlog.Header{{Key: mqlog.HeaderMessageID, Value: []byte("y")}}}
	if _, err := l.node.Append(ctx, "t", 0, both); !errors.Is(err, mqlog.ErrInvalidMessage) {
		t.Fatalf("an ID and an id header: %v, want ErrInvalidMessage", err)
	}
	c.waitApplied()

	l.stop(t)
	var pos []mqlog.Position
	if err := c.onLeader(func(n *cluster.Node) (err error) {
		pos, err = n.Append(ctx, "t", 0, mqlog.Message{ID: "order-2", Value: []byte("v2 retried")}, mqlog.Message{ID: "order-3", Value: []byte("v3")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !pos[0].Duplicate || pos[0].Offset != again[1].Offset || pos[1].Duplicate {
		t.Fatalf("on the new leader: %+v, want the first a duplicate of offset %d", pos, again[1].Offset)
	}
	c.waitApplied()

	// Back to a node that led before and has its own table: the ids another leader appended meanwhile
	// must be found too (its table is read again when it leads again).
	nl := c.leader()
	var back *testNode
	for _, f := range c.followers() {
		back = f
	}
	if _, err := back.node.Append(ctx, "t", 0, mqlog.Message{ID: "order-0", Value: []byte("unused")}); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("append on a follower: %v", err)
	}
	if err := nl.node.Raft().LeadershipTransferToServer(raft.ServerID(fmt.Sprint(back.id)), raft.ServerAddress(back.raftAddr)).Error(); err != nil {
		t.Fatal(err)
	}
	if err := c.onLeader(func(n *cluster.Node) error {
		_, err := n.Append(ctx, "t", 0, mqlog.Message{ID: "order-4", Value: []byte("v4")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.leader().node.Raft().LeadershipTransferToServer(raft.ServerID(fmt.Sprint(nl.id)), raft.ServerAddress(nl.raftAddr)).Error(); err != nil {
		t.Fatal(err)
	}
	if err := c.onLeader(func(n *cluster.Node) (err error) {
		pos, err = n.Append(ctx, "t", 0, mqlog.Message{ID: "order-4", Value: []byte("v4 retried")}, mqlog.Message{ID: "order-3", Value: []byte("v3 retried")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !pos[0].Duplicate || !pos[1].Duplicate {
		t.Fatalf("back on a leader of before: %+v, want both duplicates", pos)
	}
	c.waitApplied()
	for _, n := range c.running() {
		vals, _ := values(t, n.db, "t", 0)
		want := []string{"v1", "no id", "v2", "v3", "v4"}
		if len(vals) != len(want) {
			t.Fatalf("node %d holds %q, want %q", n.id, vals, want)
		}
		for i := range want {
			if vals[i] != want[i] {
				t.Fatalf("node %d holds %q, want %q", n.id, vals, want)
			}
		}
	}
}
