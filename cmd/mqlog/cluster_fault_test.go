package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// faultNode is one `mqlog serve --raft-*` process of the fault test.
type faultNode struct {
	id                  int32
	dir, kafka, raft    string
	args                []string
	cmd                 *exec.Cmd
	done                chan struct{}
	stderr              *os.File
	starts, kills, stop int
	sysProcAttr         *syscall.SysProcAttr // of the process, when set (the partition test's: Pdeathsig)
}

func (n *faultNode) start(t *testing.T, bin string) {
	t.Helper()
	cmd := exec.Command(bin, n.args...)
	cmd.Stderr, cmd.Stdout = n.stderr, n.stderr
	cmd.SysProcAttr = n.sysProcAttr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	n.starts++
	go func() { cmd.Wait(); close(n.done) }()
}

func (n *faultNode) running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL and waits for it.
func (n *faultNode) kill() {
	if n.running() {
		n.cmd.Process.Signal(syscall.SIGCONT) // (a stopped process dies of SIGKILL too, but be plain)
		n.cmd.Process.Kill()
		<-n.done
		n.kills++
	}
}

// terminate ends the process with SIGTERM (it closes its raft node and DB), SIGKILL after 20 s.
func (n *faultNode) terminate(t *testing.T) {
	if !n.running() {
		return
	}
	n.cmd.Process.Signal(syscall.SIGCONT)
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		t.Errorf("node %d did not end after SIGTERM (its goroutines, from SIGQUIT, are in its log)", n.id)
		n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
		}
		n.kill()
	}
}

// threeRaftNodes returns the three nodes of a cluster under root, not started: node i+1 serves Kafka on
// addrs[i] and raft on addrs[3+i], with `serve` flags extra and every node as a raft peer.
func threeRaftNodes(root string, addrs []string, extra ...string) []*faultNode {
	var nodes []*faultNode
	var peers []string
	for i := range 3 {
		n := &faultNode{id: int32(i + 1), dir: filepath.Join(root, fmt.Sprint("node", i+1)), kafka: addrs[i], raft: addrs[3+i]}
		peers = append(peers, fmt.Sprintf("%d@%s/%s", n.id, n.raft, n.kafka))
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.args = append(append([]string{"--dir", n.dir, "serve", "--listen", n.kafka}, extra...),
			"--raft-id", strconv.Itoa(int(n.id)), "--raft-bind", n.raft, "--raft-peers", strings.Join(peers, ","))
	}
	return nodes
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// acked is what the producer was told of one message.
type acked struct {
	partition int32
	offset    int64
}

// startFaultNodes writes the nodes' log files under root, starts every node, and has t kill them at its
// end (with the tail of each node's log when t failed, and the whole log copied to the directory
// MQLOG_FAULT_LOGS names, when set: t's own directory is removed).
func startFaultNodes(t *testing.T, root, bin string, nodes []*faultNode) {
	t.Helper()
	t.Cleanup(func() {
		for _, n := range nodes {
			n.kill()
		}
		if t.Failed() {
			for _, n := range nodes {
				if n.stderr != nil {
					if d := os.Getenv("MQLOG_FAULT_LOGS"); d != "" {
						b, _ := os.ReadFile(n.stderr.Name())
						os.WriteFile(filepath.Join(d, fmt.Sprint("node", n.id, ".log")), b, 0o644)
					}
					b, _ := os.ReadFile(n.stderr.Name())
					t.Logf("node %d's log (last 3000 bytes):\n%s", n.id, tail(string(b), 3000))
				}
			}
		}
		for _, n := range nodes {
			if n.stderr != nil {
				n.stderr.Close()
			}
		}
	})
	for _, n := range nodes {
		var err error
		if n.stderr, err = os.Create(filepath.Join(root, fmt.Sprint("node", n.id, ".log"))); err != nil {
			t.Fatal(err)
		}
		n.start(t, bin)
	}
}

// fastClient are the franz-go options of the fault tests' clients: quick metadata refreshes and retries.
func fastClient(seeds ...string) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }), kgo.RetryTimeout(60 * time.Second)}
}

// createFaultTopic creates the topic through whichever node leads once a leader is elected.
func createFaultTopic(t *testing.T, ctx context.Context, fast []kgo.Opt, topic string, partitions int32) {
	t.Helper()
	admin, err := kgo.NewClient(fast...)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for {
		_, err := kadm.NewClient(admin).CreateTopic(ctx, partitions, -1, nil, topic)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("creating the topic: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultLoad is the fault tests' clients, in the test process: a franz-go producer of values p-N (acks
// all; franz-go's default producer is idempotent) with up to 32 records in flight, one at a time per
// partition, and a consumer group that commits what it read after every poll; a record below what the
// group committed for its partition means the group went backwards.
type faultLoad struct {
	t     *testing.T
	prod  *kgo.Client
	cons  *kgo.Client
	began time.Time

	mu           sync.Mutex
	acks         map[string]acked
	produceErrs  []error
	consumed     int
	backwards    int
	commits      int
	backwardsErr error
	committed    map[int32]int64 // per partition: the highest offset the coordinator answered committed

	stopProduce, produceDone chan struct{}
	stopConsume              context.CancelFunc
	consumeDone              chan struct{}
	stopOnce                 sync.Once
}

// startFaultLoad starts the producer (with prodOpts after fast) and the consumer group; t stops both at
// its end.
func startFaultLoad(t *testing.T, ctx context.Context, fast []kgo.Opt, topic, group string, prodOpts ...kgo.Opt) *faultLoad {
	t.Helper()
	l := &faultLoad{t: t, began: time.Now(), acks: map[string]acked{}, committed: map[int32]int64{},
		stopProduce: make(chan struct{}), produceDone: make(chan struct{}), consumeDone: make(chan struct{})}
	var err error
	l.prod, err = kgo.NewClient(append(append(fast, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(60*time.Second), kgo.ProducerLinger(time.Millisecond)), prodOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	l.cons, err = kgo.NewClient(append(fast, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		l.prod.Close()
		t.Fatal(err)
	}
	t.Cleanup(l.stop)
	produceErrsSeen := make(chan struct{}, 1)
	go func() {
		defer close(l.produceDone)
		inflight := make(chan struct{}, 32)
		for i := 0; ; i++ {
			select {
			case <-l.stopProduce:
				for range cap(inflight) {
					inflight <- struct{}{}
				}
				return
			case inflight <- struct{}{}:
			}
			if len(produceErrsSeen) > 0 { // failing (an election): do not spin
				select {
				case <-produceErrsSeen:
					time.Sleep(20 * time.Millisecond)
				default:
				}
			}
			value := fmt.Sprintf("p-%d", i)
			l.prod.Produce(ctx, &kgo.Record{Value: []byte(value)}, func(r *kgo.Record, err error) {
				defer func() { <-inflight }()
				l.mu.Lock()
				defer l.mu.Unlock()
				if err != nil {
					l.produceErrs = append(l.produceErrs, fmt.Errorf("%s: %w", value, err))
					select {
					case produceErrsSeen <- struct{}{}:
					default:
					}
					return
				}
				l.acks[value] = acked{r.Partition, r.Offset}
			})
		}
	}()
	consCtx, stopConsume := context.WithCancel(ctx)
	l.stopConsume = stopConsume
	go func() {
		defer close(l.consumeDone)
		for consCtx.Err() == nil {
			fs := l.cons.PollFetches(consCtx)
			l.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				l.consumed++
				if floor, ok := l.committed[r.Partition]; ok && r.Offset < floor {
					l.backwards++
					if l.backwardsErr == nil {
						l.backwardsErr = fmt.Errorf("partition %d: read offset %d after committing %d", r.Partition, r.Offset, floor)
					}
				}
			})
			l.mu.Unlock()
			cctx, ccancel := context.WithTimeout(consCtx, 10*time.Second)
			l.cons.CommitUncommittedOffsets(cctx)
			ccancel()
			// What the group has committed, as the coordinator answers now (only raised: an answer
			// from a moment before a later commit must not lower the floor).
			if offs, err := kadm.NewClient(l.cons).FetchOffsets(consCtx, group); err == nil {
				l.mu.Lock()
				offs.Each(func(o kadm.OffsetResponse) {
					if o.Err == nil && o.At > l.committed[o.Partition] {
						l.committed[o.Partition] = o.At
						l.commits++
					}
				})
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *faultLoad) ackCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// progress waits (up to 20 s) until the producer has more acknowledgements than now.
func (l *faultLoad) progress(what string, more int) {
	l.t.Helper()
	want := l.ackCount() + more
	deadline := time.Now().Add(20 * time.Second)
	for l.ackCount() < want {
		if time.Now().After(deadline) {
			l.mu.Lock()
			n, errs := len(l.acks), l.produceErrs[max(0, len(l.produceErrs)-5):]
			l.mu.Unlock()
			l.t.Fatalf("%s: no progress: %d acknowledged, waiting for %d; last produce errors: %v", what, n, want, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Logf("%s: %d acknowledged (%v)", what, l.ackCount(), time.Since(l.began).Round(time.Millisecond))
}

// snapshot is a copy of the acknowledgements so far.
func (l *faultLoad) snapshot() map[string]acked {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]acked, len(l.acks))
	for k, v := range l.acks {
		out[k] = v
	}
	return out
}

// finish stops the producer once its records in flight are answered, lets the consumer read on for a
// second, stops it, and returns every acknowledgement.
func (l *faultLoad) finish() map[string]acked {
	l.stopOnce.Do(func() { close(l.stopProduce) })
	<-l.produceDone
	time.Sleep(time.Second)
	l.stopConsume()
	<-l.consumeDone
	return l.snapshot()
}

// stop ends both clients (at once: records in flight fail) and waits for their goroutines.
func (l *faultLoad) stop() {
	l.stopOnce.Do(func() { close(l.stopProduce) })
	l.stopConsume()
	l.prod.Close()
	<-l.produceDone
	<-l.consumeDone
	l.cons.Close()
}

// checkGroup fails t if the group went backwards, or never read and committed.
func (l *faultLoad) checkGroup() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.backwards > 0 {
		l.t.Errorf("the consumer group went backwards %d times: %v", l.backwards, l.backwardsErr)
	}
	if l.consumed == 0 || l.commits == 0 {
		l.t.Errorf("the consumer read %d records and saw %d commits: it should have read and committed", l.consumed, l.commits)
	}
}

// faultLeader returns the node a running node names as the leader (DescribeQuorum), waiting up to 30 s.
func faultLeader(t *testing.T, ctx context.Context, nodes []*faultNode) *faultNode {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if !n.running() {
				continue
			}
			st, err := quorumOf(ctx, n.kafka)
			if err == nil && st >= 1 && int(st) <= len(nodes) {
				return nodes[st-1]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no leader for 30 s")
	return nil
}

// TestClusterKillFault runs three `mqlog serve --raft-*` processes on loopback (issue 17 item 4) with a
// franz-go producer (acks all, idempotent) and a franz-go consumer group in the test process. Each round
// SIGKILLs the leader at a random moment and restarts it, then SIGSTOPs a follower for longer than the
// election timeout and SIGCONTs it; after each round every node's data directory (opened read-only) holds
// every acknowledged message once, at the offset it was acknowledged at, with the same records in the
// same order on every node and no value twice; and the group's consumer never read below an offset it
// had committed (a commit lost in a failover would send it back). -short: 2 rounds; MQLOG_TORTURE=1: 12.
func TestClusterKillFault(t *testing.T) {
	bin, err := exec.LookPath("mqlog") // the test binary as mqlog (testscript.Main puts it on PATH)
	if err != nil {
		t.Skip("no mqlog command on PATH:", err)
	}
	rounds := 2
	if os.Getenv("MQLOG_TORTURE") != "" {
		rounds = 12
	}
	const topic, partitions = "fault", 2
	root := t.TempDir()
	addrs := freePorts(t, 6)
	nodes := threeRaftNodes(root, addrs, "--partitions", strconv.Itoa(partitions))
	startFaultNodes(t, root, bin, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*time.Minute+time.Minute)
	t.Cleanup(cancel) // after the clients stop, before the nodes do
	fast := fastClient(addrs[:3]...)
	createFaultTopic(t, ctx, fast, topic, partitions)
	load := startFaultLoad(t, ctx, fast, topic, "fault-group")

	load.progress("start", 200)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	for round := 1; round <= rounds; round++ {
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond) // a random moment
		killed := faultLeader(t, ctx, nodes)
		killed.kill()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		killed.start(t, bin)
		load.progress(fmt.Sprintf("round %d, after killing leader %d", round, killed.id), 100)

		l := faultLeader(t, ctx, nodes)
		f := nodes[(int(l.id)+rng.IntN(2))%3] // one of the two others
		f.cmd.Process.Signal(syscall.SIGSTOP)
		f.stop++
		load.progress(fmt.Sprintf("round %d, follower %d stopped", round, f.id), 50)
		time.Sleep(700*time.Millisecond + time.Duration(rng.IntN(500))*time.Millisecond) // > the 300 ms election timeout
		f.cmd.Process.Signal(syscall.SIGCONT)
		load.progress(fmt.Sprintf("round %d, follower %d continued", round, f.id), 100)

		snapshot := load.snapshot()
		checkNodes(t, fmt.Sprintf("round %d", round), nodes, topic, partitions, snapshot, true)
		t.Logf("round %d: leader %d killed and restarted, follower %d (of leader %d) stopped; %d acknowledged, every one on every node once, in one order",
			round, killed.id, f.id, l.id, len(snapshot))
	}

	acks := load.finish()
	// Every node catches up (the follower stopped last may be behind), then stops: what it applied stays.
	checkNodes(t, "before stopping", nodes, topic, partitions, acks, true)
	for _, n := range nodes {
		n.terminate(t)
	}
	checkNodes(t, "after stopping", nodes, topic, partitions, acks, false)
	load.checkGroup()
	load.mu.Lock()
	defer load.mu.Unlock()
	t.Logf("%d rounds: %d acknowledged, %d produce errors (not acknowledged, allowed), %d consumed, %d commit raises, leader kills %v",
		rounds, len(acks), len(load.produceErrs), load.consumed, load.commits, []int{nodes[0].kills, nodes[1].kills, nodes[2].kills})
}

// quorumOf asks the node at addr for the leader it knows (DescribeQuorum), 0 for none.
func quorumOf(ctx context.Context, addr string) (int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.DialTimeout(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := describeQuorum(ctx, cl.SeedBrokers()[0], addr)
	if err != nil {
		return 0, err
	}
	return max(st.LeaderID, 0), nil
}

// checkNodes reads every node's data directory (read-only, beside the running process when running) and
// checks each acknowledged message is there once at its acknowledged offset, with every node's records
// the same, in the same order, and no value twice. While running it waits (up to 30 s) for the nodes to
// apply what was acknowledged. It returns what it read: by node, by partition, the values by offset.
func checkNodes(t *testing.T, when string, nodes []*faultNode, topic string, partitions int32, acks map[string]acked, running bool) [][][]string {
	t.Helper()
	end := map[int32]int64{} // per partition: one past the highest acknowledged offset
	for _, a := range acks {
		end[a.partition] = max(end[a.partition], a.offset+1)
	}
	logs := make([][][]string, len(nodes)) // node, partition: values by offset
	for i, n := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			vals, err := readNode(n.dir, topic, partitions, end)
			if err == nil {
				logs[i] = vals
				break
			}
			if !running || time.Now().After(deadline) {
				t.Fatalf("%s: node %d: %v", when, n.id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for p := range partitions {
		seen := map[string]int64{}
		for off, v := range logs[0][p] {
			if prev, dup := seen[v]; dup {
				t.Errorf("%s: partition %d: %q at offsets %d and %d", when, p, v, prev, off)
			}
			seen[v] = int64(off)
		}
		for i := 1; i < len(nodes); i++ {
			a, b := logs[0][p], logs[i][p]
			n := min(len(a), len(b))
			for off := range n {
				if a[off] != b[off] {
					t.Fatalf("%s: partition %d offset %d: node 1 has %q, node %d %q", when, p, off, a[off], i+1, b[off])
				}
			}
		}
	}
	for v, a := range acks {
		for i := range nodes {
			vals := logs[i][a.partition]
			if a.offset >= int64(len(vals)) || vals[a.offset] != v {
				got := "nothing"
				if a.offset < int64(len(vals)) {
					got = strconv.Quote(vals[a.offset])
				}
				t.Fatalf("%s: node %d: acknowledged %q at partition %d offset %d, found %s", when, i+1, v, a.partition, a.offset, got)
			}
		}
	}
	return logs
}

// readNode reads the values of every partition of topic from the data directory, read-only: an error
// when a partition does not reach end yet.
func readNode(dir, topic string, partitions int32, end map[int32]int64) ([][]string, error) {
	db, err := mqlog.OpenReadOnly(dir, nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := make([][]string, partitions)
	for p := range partitions {
		for rec, err := range db.Read(topic, p, 0) {
			if err != nil {
				if errors.Is(err, mqlog.ErrOutOfRange) {
					break
				}
				return nil, err
			}
			if rec.Offset != int64(len(out[p])) {
				return nil, fmt.Errorf("partition %d: offset %d after %d records", p, rec.Offset, len(out[p]))
			}
			out[p] = append(out[p], string(rec.Value))
		}
		if int64(len(out[p])) < end[p] {
			return nil, fmt.Errorf("partition %d: %d records, %d acknowledged", p, len(out[p]), end[p])
		}
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
