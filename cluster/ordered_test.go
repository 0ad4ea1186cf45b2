package cluster_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/mqlog/mqlog/segment"
)

// TestAppendBatchOrderedBeforeCommit: AppendBatch calls its ordered hook once the batch has its place in
// the raft log, before it is committed (the Kafka front end starts a connection's next produce request
// then, so that raft commits pipelined requests together). With both followers stopped nothing can
// commit: the hook must still be called while the append waits, and the append must then fail without
// being applied.
func TestAppendBatchOrderedBeforeCommit(t *testing.T) {
	slow := func(c *cluster.Config) { // (a leader that keeps leading for a while with no follower)
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Second, time.Second, time.Second
	}
	c := newCluster(t, 3, slow)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	for _, f := range c.followers() {
		f.stop(t)
	}
	applied := l.node.AppliedIndex()
	var returned, orderedWhileWaiting atomic.Bool
	ordered := make(chan struct{})
	go func() {
		<-ordered
		time.Sleep(50 * time.Millisecond) // (the append is still waiting: nothing can commit it)
		orderedWhileWaiting.Store(!returned.Load())
	}()
	_, err := l.node.AppendBatch(ctx, "t", 0, encodedBatch(t, "x"), func() { close(ordered) })
	returned.Store(true)
	if !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("append with no follower: %v, want ErrNotLeader once the leader steps down", err)
	}
	select {
	case <-ordered:
	default:
		t.Fatal("ordered was never called")
	}
	time.Sleep(100 * time.Millisecond)
	if !orderedWhileWaiting.Load() {
		t.Fatal("ordered was called only once the append returned, not once it had its place in the log")
	}
	if got := l.node.AppliedIndex(); got != applied {
		t.Fatalf("applied index moved from %d to %d with no follower", applied, got)
	}
}

// encodedBatch is a batch of one record of value v, as a producer encodes it.
func encodedBatch(t *testing.T, v string) []byte {
	t.Helper()
	frame, err := segment.AppendBatch(nil, []segment.Record{{Value: []byte(v), Timestamp: 1}}, segment.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return frame
}
