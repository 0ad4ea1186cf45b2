package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/mqlog/mqlog/segment"
)

var ctx = context.Background()

// Appends through the leader reach every node's DB (same batches, same offsets); a follower refuses a
// write with a *NotLeaderError naming the leader, and serves reads of what it applied.
func TestReplicatedAppends(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "orders", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := range 20 {
		v := fmt.Sprintf("m%02d", i)
		pos, err := l.node.Append(ctx, "orders", int32(i%2), mqlog.Message{Key: []byte("k"), Value: []byte(v)})
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(i / 2); pos[0].Offset != want || pos[0].Partition != int32(i%2) {
			t.Fatalf("append %d landed at %+v, want partition %d offset %d", i, pos[0], i%2, want)
		}
		acked = append(acked, v)
	}
	// A producer's batch as it came, through AppendBatch.
	frame, err := segment.AppendBatch(nil, []segment.Record{{Value: []byte("raw-1"), Timestamp: 1}, {Value: []byte("raw-2"), Timestamp: 2}}, segment.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.node.AppendBatch(ctx, "orders", 1, frame, nil)
	if err != nil || res.BaseOffset != 10 {
		t.Fatalf("AppendBatch: %+v, %v; want base offset 10", res, err)
	}
	acked = append(acked, "raw-1", "raw-2")

	for _, f := range c.followers() {
		_, err := f.node.Append(ctx, "orders", 0, mqlog.Message{Value: []byte("no")})
		var nl *cluster.NotLeaderError
		if !errors.Is(err, cluster.ErrNotLeader) || !errors.As(err, &nl) || nl.LeaderID != l.id || nl.NodeID != f.id {
			t.Fatalf("append on follower %d: %v, want a NotLeaderError naming leader %d", f.id, err, l.id)
		}
		if _, err := f.node.AppendBatch(ctx, "orders", 0, frame, nil); !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("AppendBatch on a follower: %v", err)
		}
		if err := f.node.CreateTopic(ctx, "other", mqlog.TopicConfig{}); !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("CreateTopic on a follower: %v", err)
		}
	}
	c.waitApplied()
	c.checkSame("orders", 2, acked)
	for _, n := range c.running() {
		vals, offs := values(t, n.db, "orders", 1)
		if len(vals) != 12 || vals[11] != "raw-2" || offs[11] != 11 {
			t.Fatalf("node %d partition 1: %v at %v", n.id, vals, offs)
		}
		if got := len(n.node.Brokers()); got != 3 {
			t.Fatalf("node %d knows %d brokers", n.id, got)
		}
		if q := n.node.Quorum(); q.LeaderID != l.id || q.NodeID != n.id || len(q.Voters) != 3 || q.Term == 0 {
			t.Fatalf("node %d quorum %+v", n.id, q)
		}
		if id, err := n.node.WaitLeader(ctx); err != nil || id != l.id {
			t.Fatalf("node %d WaitLeader: %d, %v", n.id, id, err)
		}
	}
	// A batch refused by the state machine is refused alike on every node: nothing is appended.
	bad := append([]byte(nil), frame...)
	bad[len(bad)-1] ^= 0xff // (CRC mismatch)
	if _, err := l.node.AppendBatch(ctx, "orders", 1, bad, nil); !errors.Is(err, segment.ErrBadCRC) {
		t.Fatalf("damaged batch: %v", err)
	}
	if _, err := l.node.Append(ctx, "missing", 0, mqlog.Message{Value: []byte("x")}); !errors.Is(err, mqlog.ErrTopicNotFound) {
		t.Fatalf("append to a missing topic: %v", err)
	}
	c.waitApplied()
	c.checkSame("orders", 2, acked)
}

// An idempotent producer's retry is a duplicate on the leader and, after a failover, on the new leader:
// every node ran the same sequence checks. Producer ids are never handed out twice across leaders.
func TestIdempotentAcrossFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	pid, err := l.node.InitProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(seq int32, v string) []byte {
		f, err := segment.AppendBatch(nil, []segment.Record{{Value: []byte(v), Timestamp: 1}}, segment.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		segment.SetProducer(f, pid.ID, pid.Epoch, seq)
		return f
	}
	for seq := range int32(3) {
		if _, err := l.node.AppendBatch(ctx, "t", 0, batch(seq, fmt.Sprint(seq)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := l.node.AppendBatch(ctx, "t", 0, batch(2, "2"), nil); err != nil || !r.Duplicate || r.BaseOffset != 2 {
		t.Fatalf("retry on the leader: %+v, %v", r, err)
	}
	c.waitApplied()
	l.stop(t)
	nl := c.leader()
	if r, err := nl.node.AppendBatch(ctx, "t", 0, batch(2, "2"), nil); err != nil || !r.Duplicate || r.BaseOffset != 2 {
		t.Fatalf("retry on the new leader: %+v, %v", r, err)
	}
	if _, err := nl.node.AppendBatch(ctx, "t", 0, batch(5, "5"), nil); !errors.Is(err, mqlog.ErrOutOfOrderSequence) {
		t.Fatalf("a gap in the sequence on the new leader: %v", err)
	}
	pid2, err := nl.node.InitProducerID(ctx)
	if err != nil || pid2.ID == pid.ID {
		t.Fatalf("new leader's producer id %+v (first %+v), %v", pid2, pid, err)
	}
	c.waitApplied()
	c.checkSame("t", 1, []string{"0", "1", "2"})
}

// The leader is closed with appends in flight; a new leader takes over; the old one comes back from its
// raft log and catches up. One order on every node, nothing acknowledged lost, nothing twice.
func TestFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	acked := c.produce("t", "before", 4, 100)
	var wg sync.WaitGroup
	var during []string
	wg.Add(1)
	go func() { defer wg.Done(); during = c.produce("t", "during", 4, 100) }()
	time.Sleep(30 * time.Millisecond) // (let the appends start: the leader stops under them)
	old := c.leader()
	old.stop(t) // with the producers' appends in flight
	wg.Wait()
	acked = append(acked, during...)
	acked = append(acked, c.produce("t", "after", 2, 20)...)
	if len(acked) != 220 {
		t.Fatalf("%d of 220 appends acknowledged", len(acked))
	}
	old.start(t)
	c.waitApplied()
	c.checkSame("t", 1, acked)
}

// Group offsets committed through the leader survive a failover; a fenced commit replicates nothing.
func TestGroupOffsetsFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := l.node.Append(ctx, "t", int32(i%2), mqlog.Message{Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	errs, err := l.node.CommitGroupOffsets(ctx, "g", "", -1, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 3}, {Topic: "t", Partition: 1, Offset: 5}, {Topic: "t", Partition: 1, Offset: 99}, {Topic: "nope", Partition: 0, Offset: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], mqlog.ErrOutOfRange) || !errors.Is(errs[3], mqlog.ErrTopicNotFound) {
		t.Fatalf("per-offset errors %v", errs)
	}
	if _, err := l.node.CommitGroupOffsets(ctx, "g", "someone", 4, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 4}}); !errors.Is(err, mqlog.ErrIllegalGeneration) {
		t.Fatalf("fenced commit: %v", err)
	}
	if err := l.node.DeleteGroup(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	l.stop(t)
	nl := c.leader()
	if _, err := nl.node.CommitGroupOffsets(ctx, "h", "", -1, []mqlog.GroupOffsetCommit{{Topic: "t", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	l.start(t)
	c.waitApplied()
	for _, n := range c.running() {
		for _, want := range []struct {
			group string
			p     int32
			off   int64
		}{{"g", 0, 3}, {"g", 1, 5}, {"h", 0, 1}} {
			off, ok, err := n.db.FetchGroupOffset(want.group, "t", want.p)
			if err != nil || !ok || off != want.off {
				t.Fatalf("node %d group %s partition %d: %d %v %v, want %d", n.id, want.group, want.p, off, ok, err, want.off)
			}
		}
	}
	if err := c.leader().node.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	for _, n := range c.running() {
		if gs, _ := n.db.Groups(); slices.Contains(gs, "g") {
			t.Fatalf("node %d still has group g: %v", n.id, gs)
		}
	}
}

// A batch larger than the raft store's default entry limit (1 MiB) replicates: the store takes commands
// up to MaxCommandBytes; a larger one is refused on the leader before it is proposed.
func TestLargeBatch(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	// An idempotent producer's batch, through whichever node leads (megabytes on 2 cores under -race may
	// cost a leadership): a retry of it is a duplicate, never a second copy.
	var pid mqlog.ProducerID
	if err := c.onLeader(func(n *cluster.Node) (err error) { pid, err = n.InitProducerID(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	var recs []segment.Record
	for i := range 3 {
		big := make([]byte, 900<<10)
		big[0] = byte(i)
		recs = append(recs, segment.Record{Value: big, Timestamp: 1})
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	segment.SetProducer(frame, pid.ID, pid.Epoch, 0)
	if err := c.onLeader(func(n *cluster.Node) error { _, err := n.AppendBatch(ctx, "t", 0, frame, nil); return err }); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	c.checkSame("t", 1, nil)
	huge := make([]byte, cluster.MaxCommandBytes)
	if err := c.onLeader(func(n *cluster.Node) error { _, err := n.AppendBatch(ctx, "t", 0, huge, nil); return err }); !errors.Is(err, mqlog.ErrTooLarge) {
		t.Fatalf("a command over the limit: %v", err)
	}
	for _, n := range c.running() {
		if vals, _ := values(t, n.db, "t", 0); len(vals) != 3 {
			t.Fatalf("node %d holds %d records", n.id, len(vals))
		}
	}
}

// Start refuses a config without a DB or Bind, and a new node (no raft state) whose DB holds topics: a
// node's DB is built from the raft log alone, and the restore at start would delete them.
func TestStartRefuses(t *testing.T) {
	if _, err := cluster.Start(cluster.Config{ID: 1, Bind: "127.0.0.1:0"}); !errors.Is(err, cluster.ErrConfig) {
		t.Fatalf("no DB: %v", err)
	}
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("kept", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Start(cluster.Config{ID: 1, DB: db, Bind: freeAddr(t)}); !errors.Is(err, cluster.ErrNotEmpty) {
		t.Fatalf("a DB with topics: %v", err)
	}
	if got := db.Topics(); len(got) != 1 {
		t.Fatalf("topics after the refusal: %v", got)
	}
}

// A node counts as the leader (IsLeader) only once it has applied everything acknowledged before its
// term: the moment IsLeader holds on the new leader after a failover, its DB has every record the old
// leader acknowledged. (Raft makes a node the leader before it has applied its predecessor's last
// entries; a Kafka fetch served then would miss them.)
func TestNewLeaderHasAllAcknowledged(t *testing.T) {
	c := newCluster(t, 3, nil)
	if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for round := range 3 {
		acked = append(acked, c.produce("t", fmt.Sprintf("round%d", round), 4, 60)...)
		old := c.leader()
		old.stop(t) // at once: the followers may not have heard yet that the last entries committed
		var nl *testNode
		for deadline := time.Now().Add(time.Minute); nl == nil && time.Now().Before(deadline); runtime.Gosched() {
			for _, n := range c.running() { // polled without sleeping: the first moment IsLeader holds
				if n.node.IsLeader() {
					nl = n
					break
				}
			}
		}
		if nl == nil {
			t.Fatal("no leader within a minute")
		}
		got, _ := values(t, nl.node.DB(), "t", 0)
		have := make(map[string]bool, len(got))
		for _, v := range got {
			have[v] = true
		}
		for _, v := range acked {
			if !have[v] {
				t.Fatalf("round %d: new leader %d counts as the leader without acknowledged %s (it has %d of %d)", round, nl.id, v, len(got), len(acked))
			}
		}
		old.start(t)
	}
}

// Writes in flight on a leader that stops all return (a *NotLeaderError: they may or may not have been
// committed): raft leaves a future still in its pipeline at shutdown unanswered (hashicorp/raft issue
// 498), and a write waiting on it alone would wait forever.
func TestFaultLeaderStopsUnderWrites(t *testing.T) {
	c := newCluster(t, 3, nil)
	if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	rounds := 3
	if !testing.Short() {
		rounds = 10
	}
	for round := range rounds {
		l := c.leader()
		node := l.node
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					_, err := node.Append(context.Background(), "t", int32(w%4), mqlog.Message{Value: []byte(fmt.Sprintf("%d-%d-%d", round, w, i))})
					if err != nil {
						if !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, mqlog.ErrClosed) {
							t.Errorf("append on a stopping leader: %v", err)
						}
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		l.stop(t)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute): // a guard against the hang, not a speed assertion
			t.Fatalf("round %d: writes on the stopped leader still waiting after a minute", round)
		}
		l.start(t)
	}
}
