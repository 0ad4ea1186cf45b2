package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// queueOpts keep a lease for an hour: nothing is redelivered by its AckWait during a test.
var queueOpts = mqlog.QueueOptions{AckWait: time.Hour}

// queueWorkload is a work-queue group g on topic t (2 partitions) driven through the leader: n messages,
// one more scheduled for an hour later, some acked, some nak'd for later, one nak'd and delivered again,
// the rest left leased.
type queueWorkload struct {
	acked    map[string]bool // by value
	unacked  map[string]int  // value -> deliveries so far
	messages int             // deliverable messages appended
}

func startQueueWorkload(t *testing.T, c *testCluster, n int) (*queueWorkload, *mqlog.Queue, []*mqlog.QueueMessage) {
	t.Helper()
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.node.Append(ctx, "t", int32(i%2), mqlog.Message{Value: []byte("m" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.node.Append(ctx, "t", 0, mqlog.Message{Value: []byte("later"), DeliverAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	q, err := l.node.Queue("t", "g", queueOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := &queueWorkload{acked: map[string]bool{}, unacked: map[string]int{}, messages: n}
	var held []*mqlog.QueueMessage
	for i := range n {
		m := next(t, q)
		v := string(m.Value)
		switch {
		case i%3 == 0: // acked
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
			w.acked[v] = true
		case i%5 == 1: // nak'd for later: pending, not leased
			if err := m.Nak(time.Hour); err != nil {
				t.Fatal(err)
			}
			w.unacked[v] = 1
		default: // left leased
			w.unacked[v] = 1
			held = append(held, m)
		}
	}
	// One delivered again: nak'd at once and taken by the next Next.
	m := held[0]
	if err := m.Nak(0); err != nil {
		t.Fatal(err)
	}
	again := next(t, q)
	if string(again.Value) != string(m.Value) || again.Deliveries != 2 {
		t.Fatalf("redelivery of %s: %s with %d deliveries", m.Value, again.Value, again.Deliveries)
	}
	w.unacked[string(m.Value)] = 2
	held[0] = again
	// A Next with nothing to deliver reads the scheduled message, which moves to the timer index.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if m, err := q.Next(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with every message delivered: %v, %v", m, err)
	}
	return w, q, held
}

func next(t *testing.T, q *mqlog.Queue) *mqlog.QueueMessage {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second) // (a guard against a hang)
	defer cancel()
	m, err := q.Next(cctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkResumes opens the group on the current leader: every unacked message comes again with its
// deliveries plus one, no acked one does, and nothing else (the scheduled message stays scheduled).
func (w *queueWorkload) checkResumes(t *testing.T, c *testCluster) {
	t.Helper()
	l := c.leader()
	q, err := l.node.Queue("t", "g", queueOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for range len(w.unacked) {
		m := next(t, q)
		v := string(m.Value)
		want, ok := w.unacked[v]
		if !ok {
			t.Fatalf("node %d delivered %s (acked %v) again", l.id, v, w.acked[v])
		}
		if m.Deliveries != want+1 {
			t.Fatalf("node %d delivered %s with %d deliveries, want %d", l.id, v, m.Deliveries, want+1)
		}
		delete(w.unacked, v)
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		w.acked[v] = true
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if m, err := q.Next(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("once every unacked message came again: %v, %v", m, err)
	}
	c.waitApplied()
	states := c.checkQueueStatesSame("g")
	var unacked, scheduled int64
	for _, s := range states {
		unacked += s.Unacked
		scheduled += s.Scheduled
	}
	if unacked != 0 || scheduled != 1 {
		t.Fatalf("after every message was acked: %+v", states)
	}
}

// checkQueueStatesSame fails unless every running node holds the same durable state of group, and
// returns it.
func (c *testCluster) checkQueueStatesSame(group string) []mqlog.QueuePartitionState {
	c.t.Helper()
	nodes := c.running()
	want, err := nodes[0].db.QueueGroupState(group)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		got, err := n.db.QueueGroupState(group)
		if err != nil {
			c.t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			c.t.Fatalf("queue state of group %s: node %d holds %+v, node %d %+v", group, n.id, got, nodes[0].id, want)
		}
	}
	return want
}

// A work-queue group resumes on the new leader after the leader stops: no acked message comes again,
// every one delivered and not acked does with its delivery count plus one, the scheduled message stays
// scheduled; the old leader's queue and messages answer ErrNotLeader; every node holds the same state.
func TestQueueFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	w, q, held := startQueueWorkload(t, c, 30)
	c.waitApplied()
	states := c.checkQueueStatesSame("g")
	var unacked, scheduled int64
	for _, s := range states {
		unacked += s.Unacked
		scheduled += s.Scheduled
	}
	if unacked != int64(len(w.unacked)) || scheduled != 1 {
		t.Fatalf("queue state before the failover: %+v, want %d unacked, 1 scheduled", states, len(w.unacked))
	}
	for _, f := range c.followers() {
		if _, err := f.node.Queue("t", "g", queueOpts); !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("Queue on follower %d: %v", f.id, err)
		}
	}
	old := c.leader()
	old.stop(t)
	if err := held[1].Ack(); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Ack on the stopped leader: %v", err)
	}
	if _, err := q.Next(ctx); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Next on the stopped leader: %v", err)
	}
	q.Close()
	w.checkResumes(t, c)
	old.start(t)
	c.waitApplied()
	c.checkQueueStatesSame("g")
}

// A leader that loses its leadership while it runs (a transfer) stops its queues: Next and Ack answer
// ErrNotLeader, and the group resumes on the new leader.
func TestQueueLeadershipLost(t *testing.T) {
	c := newCluster(t, 3, nil)
	w, q, held := startQueueWorkload(t, c, 12)
	old := c.leader()
	if err := old.node.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second) // (a guard against a hang)
	defer cancel()
	if _, err := q.Next(cctx); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Next on the old leader: %v", err)
	}
	if err := held[1].Ack(); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Ack on the old leader: %v", err)
	}
	q.Close()
	if c.leader() == old {
		t.Fatal("the leadership did not move")
	}
	w.checkResumes(t, c)
}

// A follower restarted from its snapshot plus the entries after it, with acks and deliveries both
// before and after the snapshot and while it was down, holds the same queue state as the others; so does
// it when its DB is rebuilt from its snapshot alone, and the group resumes from it when that node leads.
func TestQueueStateFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, noAutoSnapshots)
	w, q, held := startQueueWorkload(t, c, 20)
	c.waitApplied()
	f := c.followers()[0]
	if err := f.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	// After the snapshot: acks of two held messages, and two new messages delivered.
	for _, m := range held[1:3] {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		w.acked[string(m.Value)] = true
		delete(w.unacked, string(m.Value))
	}
	l := c.leader()
	if _, err := l.node.Append(ctx, "t", 1, mqlog.Message{Value: []byte("n1")}, mqlog.Message{Value: []byte("n2")}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m := next(t, q)
		w.unacked[string(m.Value)] = m.Deliveries
	}
	c.waitApplied()
	f.stop(t)
	if err := held[3].Ack(); err != nil { // while f is down
		t.Fatal(err)
	}
	w.acked[string(held[3].Value)] = true
	delete(w.unacked, string(held[3].Value))
	f.start(t)
	c.waitApplied()
	c.checkQueueStatesSame("g")
	// Once more from a snapshot the restarted node takes itself, its DB removed: all its queue state
	// (scheduled message included) comes from the snapshot. Then it leads.
	if err := f.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	f.stop(t)
	if err := os.RemoveAll(filepath.Join(f.dir, "db")); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	// (A node restored from a snapshot that holds everything counts its applied index from the next
	// command: one with no effect on the queue.)
	if _, err := l.node.InitProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	c.checkQueueStatesSame("g")
	q.Close()
	if err := l.node.Raft().LeadershipTransferToServer(raft.ServerID(strconv.Itoa(int(f.id))), raft.ServerAddress(f.raftAddr)).Error(); err != nil {
		t.Fatal(err)
	}
	if nl := c.leader(); nl != f {
		t.Fatalf("node %d leads, not the restarted node %d", nl.id, f.id)
	}
	w.checkResumes(t, c)
}

// A message that reaches MaxDeliver goes to the dead-letter topic through raft: every node holds it.
// Without the dead-letter topic the append is refused (counted, retried), never made on one node alone.
func TestQueueDeadLetterReplicated(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "t", 0, mqlog.Message{Value: []byte("poison")}, mqlog.Message{Value: []byte("fine")}); err != nil {
		t.Fatal(err)
	}
	opts := mqlog.QueueOptions{AckWait: time.Hour, MaxDeliver: 1, DeadLetterTopic: "dlq"}
	q, err := l.node.Queue("t", "g", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := next(t, q)
	if string(m.Value) != "poison" {
		t.Fatalf("first delivery %s", m.Value)
	}
	if err := m.Nak(0); err != nil {
		t.Fatal(err)
	}
	// The dead-letter topic does not exist: the append fails, nothing is created anywhere.
	if m := next(t, q); string(m.Value) != "fine" {
		t.Fatalf("second delivery %s", m.Value)
	} else if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); l.db.Metrics().QueueDeadLetterFailures == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead-letter failure within a minute")
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		q.Next(cctx) // (drives the dead-lettering)
		cancel()
	}
	for _, n := range c.running() {
		if _, err := n.db.TopicConfig("dlq"); !errors.Is(err, mqlog.ErrTopicNotFound) {
			t.Fatalf("node %d: dead-letter topic: %v", n.id, err)
		}
	}
	if err := l.node.CreateTopic(ctx, "dlq", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); l.db.Metrics().QueueDeadLettered == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not dead-lettered within a minute")
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		q.Next(cctx)
		cancel()
	}
	c.waitApplied()
	for _, n := range c.running() {
		vals, _ := values(t, n.db, "dlq", 0)
		if fmt.Sprint(vals) != "[poison]" {
			t.Fatalf("node %d: dead-letter topic holds %q", n.id, vals)
		}
	}
	states := c.checkQueueStatesSame("g")
	if len(states) != 1 || states[0].Unacked != 0 {
		t.Fatalf("queue state after the dead letter: %+v", states)
	}
}

// DeleteGroup through the leader deletes the group's work-queue state on every node; it refuses while a
// queue of the group is open on the leader.
func TestQueueDeleteGroupReplicated(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "t", 0, mqlog.Message{Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	q, err := l.node.Queue("t", "g", queueOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := next(t, q).Ack(); err != nil {
		t.Fatal(err)
	}
	if err := l.node.DeleteGroup(ctx, "g"); !errors.Is(err, mqlog.ErrGroupActive) {
		t.Fatalf("DeleteGroup with an open queue: %v", err)
	}
	q.Close()
	c.waitApplied()
	for _, n := range c.running() {
		if gs, err := n.db.QueueGroups(); err != nil || fmt.Sprint(gs) != "[g]" {
			t.Fatalf("node %d: queue groups %v, %v", n.id, gs, err)
		}
	}
	if err := l.node.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	for _, n := range c.running() {
		if gs, err := n.db.QueueGroups(); err != nil || len(gs) != 0 {
			t.Fatalf("node %d: queue groups after DeleteGroup %v, %v", n.id, gs, err)
		}
	}
}

// A topic grown or deleted by a raft apply while a queue of it is open on the leader: the apply does not
// wait for the group's saves (which wait for the applies), the group takes the new partition in, and a
// deleted topic's queue answers ErrTopicNotFound; a topic of the same name created again starts afresh.
func TestQueueTopicChangesWhileOpen(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "t", 0, mqlog.Message{Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	q, err := l.node.Queue("t", "g", queueOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := next(t, q).Ack(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.AddPartitions(ctx, "t", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "t", 1, mqlog.Message{Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	m := next(t, q)
	if string(m.Value) != "b" || m.Partition != 1 {
		t.Fatalf("delivered %s from partition %d", m.Value, m.Partition)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied()
	if states := c.checkQueueStatesSame("g"); len(states) != 2 || states[1].Floor != 1 {
		t.Fatalf("queue state after the new partition: %+v", states)
	}
	if err := l.node.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Next(ctx); !errors.Is(err, mqlog.ErrTopicNotFound) {
		t.Fatalf("Next on a deleted topic: %v", err)
	}
	q.Close()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "t", 0, mqlog.Message{Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	q, err = l.node.Queue("t", "g", queueOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if m := next(t, q); string(m.Value) != "c" || m.Deliveries != 1 {
		t.Fatalf("the new topic's queue delivered %s with %d deliveries", m.Value, m.Deliveries)
	}
	c.waitApplied()
	c.checkQueueStatesSame("g")
}

// A priority queue on the leader replicates its levels' states; a missing level topic is refused (it
// would be created by one node alone).
func TestPriorityQueueReplicated(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	for _, name := range []string{"hi", "lo"} {
		if err := l.node.CreateTopic(ctx, name, mqlog.TopicConfig{Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.node.PriorityQueue("g", []string{"hi", "missing"}, queueOpts, mqlog.PriorityOptions{}); !errors.Is(err, mqlog.ErrTopicNotFound) {
		t.Fatalf("a missing level: %v", err)
	}
	for _, f := range c.followers() {
		if _, err := f.node.PriorityQueue("g", []string{"hi", "lo"}, queueOpts, mqlog.PriorityOptions{}); !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("on follower %d: %v", f.id, err)
		}
	}
	if _, err := l.node.Append(ctx, "lo", 0, mqlog.Message{Value: []byte("low")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.node.Append(ctx, "hi", 0, mqlog.Message{Value: []byte("high")}); err != nil {
		t.Fatal(err)
	}
	pq, err := l.node.PriorityQueue("g", []string{"hi", "lo"}, queueOpts, mqlog.PriorityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pq.Close()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := pq.Next(cctx)
	if err != nil || string(m.Value) != "high" {
		t.Fatalf("first: %v, %v", m, err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if m, err = pq.Next(cctx); err != nil || string(m.Value) != "low" {
		t.Fatalf("second: %v, %v", m, err)
	}
	c.waitApplied()
	if states := c.checkQueueStatesSame("g"); len(states) != 2 || states[0].Floor != 1 || states[1].Delivered != 1 {
		t.Fatalf("states: %+v", states)
	}
	for _, n := range c.running() {
		if _, err := n.db.TopicConfig("missing"); !errors.Is(err, mqlog.ErrTopicNotFound) {
			t.Fatalf("node %d holds the missing level: %v", n.id, err)
		}
	}
}

// Workers take and ack messages through whichever node leads while the leader is stopped under them and
// started again later: no message is delivered again after an Ack of it returned, and every message is
// done in the end: acked, or, for the few whose Ack answered ErrNotLeader, perhaps acked (committed
// before the leader stopped) and never delivered again.
func TestQueueFailoverUnderLoad(t *testing.T) {
	const total = 200
	c := newCluster(t, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		if _, err := l.node.Append(ctx, "t", int32(i%2), mqlog.Message{Value: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	uncertain := map[string]bool{} // an Ack answered an error: it may have been committed
	redelivered := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var q *mqlog.Queue
			defer func() {
				if q != nil {
					q.Close()
				}
			}()
			for {
				select {
				case <-done:
					return
				default:
				}
				if q == nil {
					n := c.anyLeader()
					if n == nil {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					var err error
					if q, err = n.Queue("t", "g", queueOpts); err != nil {
						if !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, mqlog.ErrClosed) {
							t.Errorf("open: %v", err)
							return
						}
						continue
					}
				}
				cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				m, err := q.Next(cctx)
				cancel()
				if err == nil {
					v := string(m.Value)
					mu.Lock()
					if acked[v] {
						t.Errorf("%s delivered again (deliveries %d) after its Ack returned", v, m.Deliveries)
					}
					if m.Deliveries > 1 {
						redelivered++
					}
					mu.Unlock()
					err = m.Ack()
					mu.Lock()
					if err == nil {
						acked[v] = true
					} else {
						uncertain[v] = true
					}
					mu.Unlock()
				}
				switch {
				case err == nil, errors.Is(err, context.DeadlineExceeded):
				case errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, mqlog.ErrClosed):
					q.Close()
					q = nil
				default:
					t.Errorf("worker: %v", err)
					return
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// unacked is the messages not done in the leader's durable state (-1 when it cannot tell now).
	unacked := func() int64 {
		states, err := c.leader().db.QueueGroupState("g")
		if err != nil || len(states) != 2 {
			return -1
		}
		return states[0].Unacked + states[1].Unacked
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) || t.Failed() {
				close(done)
				wg.Wait()
				t.Fatalf("not %s within a minute: %d acked, %d not done", what, count(), unacked())
			}
		}
	}
	waitFor("a third acked", func() bool { return count() >= total/3 })
	old := c.leader()
	old.stop(t)
	waitFor("two thirds acked", func() bool { return count() >= 2*total/3 })
	old.start(t)
	waitFor("all done", func() bool { return unacked() == 0 })
	close(done)
	wg.Wait()
	mu.Lock()
	for i := range total {
		if v := strconv.Itoa(i); !acked[v] && !uncertain[v] {
			t.Errorf("%s is done but no Ack of it was made", v)
		}
	}
	mu.Unlock()
	c.waitApplied()
	c.checkQueueStatesSame("g")
	t.Logf("%d messages: %d acked, %d whose Ack failed; %d deliveries were redeliveries", total, len(acked), total-len(acked), redelivered)
}

// Groups opened (each open's first save goes through raft while the registry is held) while raft
// applies topic changes that the registry observes: neither waits for the other.
func TestQueueOpenWhileTopicsChange(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	for _, name := range []string{"t", "u"} {
		if err := l.node.CreateTopic(ctx, name, mqlog.TopicConfig{Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 30
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range rounds {
			q, err := l.node.Queue("t", "g"+strconv.Itoa(i), queueOpts)
			if err != nil {
				t.Error(err)
				return
			}
			q.Close()
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			if _, err := l.node.AddPartitions(ctx, "u", 2+i); err != nil {
				t.Error(err)
				return
			}
			name := "x" + strconv.Itoa(i)
			if err := l.node.CreateTopic(ctx, name, mqlog.TopicConfig{Partitions: 1}); err != nil {
				t.Error(err)
				return
			}
			if err := l.node.DeleteTopic(ctx, name); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute): // (a guard against a hang, not a speed assertion)
		t.Fatal("opening queues while topics change hung")
	}
	c.waitApplied()
	c.checkQueueStatesSame("g0")
}
