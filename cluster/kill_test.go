package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// A node in a child process of the test binary (TestMain runs it when childEnv is set): killed with
// SIGKILL at random moments while the cluster appends, a worker acks through a work queue on the leader,
// and it takes snapshots, then started again. It must come back from whatever the kill left (its DB and
// raft store recovered after a crash, a snapshot maybe half written, a restore maybe half done) to
// exactly the others' batches, and, started once more, to the others' queue state.

const childEnv = "MQLOG_CLUSTER_CHILD"

// childConfig is what the parent hands the child in childEnv.
type childConfig struct {
	ID    int32            `json:"id"`
	Dir   string           `json:"dir"`
	Bind  string           `json:"bind"`
	Peers []cluster.Broker `json:"peers"`
	Sync  mqlog.SyncPolicy `json:"sync"` // of the child's DB
}

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(runChild(v))
	}
	os.Exit(m.Run())
}

// runChild runs a node until it is killed, printing "applied N" lines (its state machine's applied
// index) every few milliseconds.
func runChild(spec string) int {
	var cc childConfig
	if err := json.Unmarshal([]byte(spec), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := mqlog.Open(filepath.Join(cc.Dir, "db"), &mqlog.Options{RetentionCheckInterval: -1, Sync: cc.Sync})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, err := cluster.Start(cluster.Config{ID: cc.ID, DB: db, Bind: cc.Bind, Peers: cc.Peers,
		// Slow timeouts: the child never campaigns while the parent's nodes lead.
		HeartbeatTimeout: 5 * time.Second, ElectionTimeout: 5 * time.Second, LeaderLeaseTimeout: time.Second,
		// Frequent snapshots, so kills land in them and restarts restore them.
		SnapshotThreshold: 16, SnapshotInterval: 20 * time.Millisecond, TrailingLogs: 8})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		fmt.Printf("applied %d\n", n.AppliedIndex())
		if err := n.Err(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// child is a running child node.
type child struct {
	cmd     *exec.Cmd
	applied atomic.Uint64
	exited  chan struct{}
	stderr  strings.Builder
}

func startChild(t *testing.T, cc childConfig) *child {
	t.Helper()
	spec, _ := json.Marshal(cc)
	ch := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), exited: make(chan struct{})}
	ch.cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	ch.cmd.Stderr = &ch.stderr
	out, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(ch.exited)
		s := bufio.NewScanner(out)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "applied "); ok {
				if n, err := strconv.ParseUint(v, 10, 64); err == nil {
					ch.applied.Store(n)
				}
			}
		}
		ch.cmd.Wait()
	}()
	return ch
}

// kill SIGKILLs the child and waits for it to be gone.
func (ch *child) kill() {
	ch.cmd.Process.Kill()
	<-ch.exited
}

// With the child's DB under SyncAlways and under SyncNever (the raft log and the snapshots the only
// fsynced copies: a kill keeps the page cache, so this shows the rebuild, not a power cut's holes).
func TestChildKilledAndRestarted(t *testing.T) {
	for _, policy := range []mqlog.SyncPolicy{mqlog.SyncAlways, mqlog.SyncNever} {
		t.Run(policy.String(), func(t *testing.T) { testChildKilled(t, policy) })
	}
}

func testChildKilled(t *testing.T, policy mqlog.SyncPolicy) {
	rounds := 3
	if os.Getenv("MQLOG_TORTURE") != "" {
		rounds = 30
	}
	root := t.TempDir()
	c := &testCluster{t: t}
	var peers []cluster.Broker
	for id := int32(1); id <= 3; id++ {
		addr := freeAddr(t)
		peers = append(peers, cluster.Broker{ID: id, Host: "127.0.0.1", Port: 9000 + id, RaftAddr: addr})
		if id < 3 {
			c.nodes = append(c.nodes, &testNode{id: id, dir: filepath.Join(root, strconv.Itoa(int(id))), raftAddr: addr})
		}
	}
	cc := childConfig{ID: 3, Dir: filepath.Join(root, "3"), Bind: peers[2].RaftAddr, Peers: peers, Sync: policy}
	ch := startChild(t, cc)
	defer func() { ch.kill() }()
	for _, n := range c.nodes {
		n.peers = peers
		n.start(t)
	}
	defer func() {
		for _, n := range c.nodes {
			n.stop(t)
		}
	}()
	if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var acked []string
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			acked = append(acked, c.produce("t", fmt.Sprintf("r%03d", i), 2, 20)...)
		}
	}()
	// A worker acks the messages through a work queue on the leader meanwhile: the child applies its
	// saves (unsynced), snapshots them, and must rebuild them at every start.
	var worked atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		work(c, stop, &worked)
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for r := range rounds {
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		ch.kill()
		if s := ch.stderr.String(); s != "" {
			t.Fatalf("round %d: the child failed: %s", r, s)
		}
		ch = startChild(t, cc)
	}
	close(stop)
	wg.Wait()
	c.waitApplied()
	want := c.leader().node.AppliedIndex()
	for deadline := time.Now().Add(time.Minute); ch.applied.Load() < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the child applied %d, the leader %d; stderr: %s", ch.applied.Load(), want, ch.stderr.String())
		}
	}
	ch.kill() // (the last one too: what it left is read as it is)
	c.checkSame("t", 1, acked)
	child, err := mqlog.OpenReadOnly(filepath.Join(cc.Dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	got, wantFrames := frames(t, child, "t", 0), frames(t, c.nodes[0].db, "t", 0)
	if len(got) != len(wantFrames) {
		t.Fatalf("the child holds %d batches, node 1 %d", len(got), len(wantFrames))
	}
	for i := range got {
		if string(got[i]) != string(wantFrames[i]) {
			t.Fatalf("batch %d differs between the child and node 1", i)
		}
	}
	child.Close()
	// The child's queue saves were applied unsynced and a kill may lose the last ones (Pebble keeps an
	// unsynced write in its own buffer): started again, in this process, the node rebuilds its queue
	// state from its snapshot and the replay, and holds the others'.
	restarted := &testNode{id: 3, dir: cc.Dir, raftAddr: cc.Bind, peers: peers, sync: policy}
	restarted.start(t)
	c.nodes = append(c.nodes, restarted)
	if _, err := c.leader().node.InitProducerID(ctx); err != nil { // (its applied index counts from a command)
		t.Fatal(err)
	}
	c.waitApplied()
	c.checkQueueStatesSame("w")
	snaps, _ := os.ReadDir(filepath.Join(cc.Dir, "db", "raft", "snapshots"))
	t.Logf("%d rounds of SIGKILL; %d appends acknowledged, %d batches on every node, %d acked through a queue; the child kept %d snapshots",
		rounds, len(acked), len(got), worked.Load(), len(snaps))
}

// work takes and acks messages of topic t through a work queue of group w on whichever node leads,
// opening it again after a change of leader, until stop is closed; worked counts the acks.
func work(c *testCluster, stop <-chan struct{}, worked *atomic.Int64) {
	var q *mqlog.Queue
	defer func() {
		if q != nil {
			q.Close()
		}
	}()
	for {
		select {
		case <-stop:
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
			if q, err = n.Queue("t", "w", mqlog.QueueOptions{AckWait: time.Minute}); err != nil {
				if !errors.Is(err, cluster.ErrNotLeader) {
					c.t.Errorf("open the queue: %v", err)
					return
				}
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := q.Next(cctx)
		cancel()
		if err == nil {
			err = m.Ack()
		}
		switch {
		case err == nil:
			worked.Add(1)
		case errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, mqlog.ErrClosed):
			q.Close()
			q = nil
		default:
			c.t.Errorf("work: %v", err)
			return
		}
	}
}
