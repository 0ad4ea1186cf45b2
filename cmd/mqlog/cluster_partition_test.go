//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqlog/mqlog/segment"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"golang.org/x/sys/unix"
)

// The partition test re-executes its own test binary under `unshare -n -m`, in a network and a mount
// namespace of its own; the child knows it is the child by this variable, which holds the parent's
// network namespace (the child refuses to touch links unless its own is another one).
const partitionChildEnv = "MQLOG_PARTITION_CHILD_OF_NETNS"

// The networks of the partition test, inside its namespace: the nodes' raft transports on one bridge,
// their Kafka listeners (and the test's clients) on another, so that a node can be cut from its peers
// while the clients still reach it.
const (
	raftNet  = "10.77.0." // node N: .N, port 9093; the bridge: .254
	kafkaNet = "10.78.0." // node N: .N, port 9092; the bridge (the test's clients): .254
)

// TestClusterPartitionFault is the network partition round of issue 17 item 4: three `mqlog serve
// --raft-*` processes, each in a network namespace of its own, with a franz-go producer (acks all,
// idempotent) and consumer group in the test's namespace, as in TestClusterKillFault.
//
// Each round first cuts the leader from its peers (its raft link down; its Kafka listener stays reachable)
// for longer than the election timeout while producing: the other two elect a leader and acknowledge
// again, and the cut-off leader acknowledges nothing: produce requests sent straight to it during the cut
// must fail or go unanswered, and none of their values may ever appear on any node (raft cuts the old
// leader's uncommitted tail when it rejoins). Then it cuts a follower off entirely (both links) and heals
// it. After each half every acknowledged message is on every node once, at its acknowledged offset, in one
// order, and at the end the group never went backwards. -short: 1 round; MQLOG_TORTURE=1: 8.
//
// It needs root and unshare(1), ip(8) with bridges, veth pairs and `ip netns`; where any of them is
// missing or refused it skips, saying which. Nothing is made outside its own namespaces (/run/netns is a
// tmpfs of its mount namespace), which end with it.
func TestClusterPartitionFault(t *testing.T) {
	parent := os.Getenv(partitionChildEnv)
	if parent == "" {
		runPartitionChild(t)
		return
	}
	if own, err := os.Readlink("/proc/self/ns/net"); err != nil || own == parent {
		t.Skipf("%s is set but this process is not in a network namespace of its own (%s, parent's %s, %v)", partitionChildEnv, own, parent, err)
	}
	bin, err := exec.LookPath("mqlog") // the test binary as mqlog (testscript.Main puts it on PATH)
	if err != nil {
		t.Skip("no mqlog command on PATH:", err)
	}
	rounds := 1
	if os.Getenv("MQLOG_TORTURE") != "" {
		rounds = 8
	}
	const topic, partitions = "partition", 2
	setupPartitionNet(t, 3)

	root := t.TempDir()
	var nodes []*faultNode
	var peers, kafkaAddrs []string
	for i := range 3 {
		id := i + 1
		n := &faultNode{id: int32(id), dir: filepath.Join(root, fmt.Sprint("node", id)),
			kafka: fmt.Sprintf("%s%d:9092", kafkaNet, id), raft: fmt.Sprintf("%s%d:9093", raftNet, id),
			sysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
		peers = append(peers, fmt.Sprintf("%d@%s/%s", n.id, n.raft, n.kafka))
		kafkaAddrs = append(kafkaAddrs, n.kafka)
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		// ip netns exec execs the command after entering the namespace: the process is mqlog's.
		n.args = []string{"netns", "exec", fmt.Sprint("mq", n.id), bin, "--dir", n.dir, "serve", "--listen", n.kafka,
			"--partitions", strconv.Itoa(partitions), "--raft-id", strconv.Itoa(int(n.id)), "--raft-bind", n.raft,
			"--raft-peers", strings.Join(peers, ",")}
	}
	startFaultNodes(t, root, "ip", nodes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*time.Minute+time.Minute)
	t.Cleanup(cancel) // after the clients stop, before the nodes do
	fast := fastClient(kafkaAddrs...)
	createFaultTopic(t, ctx, fast, topic, partitions)
	written := &batchLog{}
	load := startFaultLoad(t, ctx, fast, topic, "partition-group", kgo.WithHooks(written))

	// What the rounds measured, for the last log line.
	var toLeader, toAck, oldLastAck, toCaughtUp, probeSlowest []time.Duration
	refused := map[string]int{}
	var probes int
	load.progress("start", 200)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	for round := 1; round <= rounds; round++ {
		// (a) The leader cut from its peers, while the clients still reach it.
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond) // a random moment
		old := faultLeader(t, ctx, nodes)
		probe := newLeaderProbe(t, ctx, old, topic)
		cut := time.Now()
		setLink(t, fmt.Sprint("r", old.id), false)
		probe.run()
		others := slices.DeleteFunc(slices.Clone(nodes), func(n *faultNode) bool { return n == old })
		elected, newID := newLeaderOf(t, ctx, others, old.id)
		toLeader = append(toLeader, elected.Sub(cut))
		load.progress(fmt.Sprintf("round %d, leader %d cut from its peers", round, old.id), 100)
		time.Sleep(time.Until(cut.Add(700*time.Millisecond + time.Duration(rng.IntN(500))*time.Millisecond))) // > the 300 ms election timeout
		results, slowest := probe.stop()
		probeSlowest = append(probeSlowest, slowest)
		setLink(t, fmt.Sprint("r", old.id), true)
		healed := time.Now()
		first, ok := written.first(cut, func(id int32) bool { return id != old.id })
		if !ok {
			t.Fatalf("round %d: no batch acknowledged by a node other than %d after the cut", round, old.id)
		}
		toAck = append(toAck, first)
		last, oldAcked := written.last(cut, func(id int32) bool { return id == old.id })
		lastText := "none"
		if oldAcked {
			oldLastAck = append(oldLastAck, last)
			lastText = last.Round(time.Millisecond).String()
		}
		probes += len(results)
		for _, r := range results {
			refused[r]++
			if r == "acknowledged" {
				t.Errorf("round %d: leader %d, cut from its peers, acknowledged a write", round, old.id)
			}
		}
		load.progress(fmt.Sprintf("round %d, leader %d healed", round, old.id), 100)
		followed := rejoined(t, ctx, old)
		logs := checkNodes(t, fmt.Sprintf("round %d, leader %d healed", round, old.id), nodes, topic, partitions, load.snapshot(), true)
		toCaughtUp = append(toCaughtUp, time.Since(healed))
		checkNoProbes(t, fmt.Sprintf("round %d", round), logs)
		t.Logf("round %d: leader %d cut from its peers: a new leader (%d) in %v, its first acknowledged batch %v after the cut; "+
			"the old leader's last acknowledged batch after the cut: %s; %d produce requests sent to it: %v, answered within %v; "+
			"healed, it follows %d; caught up %v after healing",
			round, old.id, newID, elected.Sub(cut).Round(time.Millisecond), first.Round(time.Millisecond), lastText,
			len(results), counts(results), slowest.Round(time.Millisecond), followed, toCaughtUp[len(toCaughtUp)-1].Round(time.Millisecond))

		// (b) A follower cut off entirely.
		l := faultLeader(t, ctx, nodes)
		f := nodes[(int(l.id)+rng.IntN(2))%3] // one of the two others
		setLink(t, fmt.Sprint("r", f.id), false)
		setLink(t, fmt.Sprint("k", f.id), false)
		load.progress(fmt.Sprintf("round %d, follower %d cut off", round, f.id), 100)
		time.Sleep(700*time.Millisecond + time.Duration(rng.IntN(500))*time.Millisecond)
		setLink(t, fmt.Sprint("r", f.id), true)
		setLink(t, fmt.Sprint("k", f.id), true)
		load.progress(fmt.Sprintf("round %d, follower %d healed", round, f.id), 100)
		checkNodes(t, fmt.Sprintf("round %d, follower %d healed", round, f.id), nodes, topic, partitions, load.snapshot(), true)
		after := faultLeader(t, ctx, nodes)
		t.Logf("round %d: follower %d (of leader %d) cut off and healed, leader %d after; every acknowledged message on every node once, in one order",
			round, f.id, l.id, after.id)
	}

	acks := load.finish()
	checkNodes(t, "before stopping", nodes, topic, partitions, acks, true)
	for _, n := range nodes {
		n.terminate(t)
	}
	logs := checkNodes(t, "after stopping", nodes, topic, partitions, acks, false)
	checkNoProbes(t, "after stopping", logs)
	load.checkGroup()
	load.mu.Lock()
	defer load.mu.Unlock()
	t.Logf("%d rounds: %d acknowledged, %d produce errors (not acknowledged, allowed), %d consumed, %d commit raises", rounds,
		len(acks), len(load.produceErrs), load.consumed, load.commits)
	t.Logf("leader cut from its peers: cut to a new leader %v; cut to the new leader's first acknowledged batch %v; "+
		"cut to the old leader's last acknowledged batch (rounds with one) %v; %d produce requests to the old leader during the cut: %v, "+
		"the slowest answer of each round %v; healed to caught up %v",
		spread(toLeader), spread(toAck), spread(oldLastAck), probes, refused, spread(probeSlowest), spread(toCaughtUp))
}

// runPartitionChild runs the test again in a network and mount namespace of its own (unshare -n -m), or
// skips it when it cannot, and passes the child's verdict on.
func runPartitionChild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a network partition needs root (for a network namespace of the test's own)")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("a network partition needs %s: %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-n", "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare -n -m: %v: %s", err, strings.TrimSpace(string(out)))
	}
	netns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skip("no /proc/self/ns/net:", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "-m", exe, "-test.run", "^" + t.Name() + "$", "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	if dl, ok := t.Deadline(); ok { // the child's panic at its timeout (with its goroutines) comes first
		args = append(args, "-test.timeout", max(time.Until(dl)-10*time.Second, time.Until(dl)/2).Truncate(time.Second).String())
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), partitionChildEnv+"="+netns)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // (unshare execs the test binary: it is the child)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		t.Log(sc.Text())
	}
	err = cmd.Wait()
	all := strings.Join(lines, "\n")
	switch {
	case err != nil:
		t.Fatalf("the test in its own namespaces failed: %v", err)
	case strings.Contains(all, "--- SKIP: "+t.Name()):
		var why []string
		for _, l := range lines {
			if strings.Contains(l, "cluster_partition_test.go") {
				why = append(why, strings.TrimSpace(l))
			}
		}
		t.Skipf("skipped in its own namespaces: %s", strings.Join(why, "; "))
	case !strings.Contains(all, "--- PASS: "+t.Name()):
		t.Fatal("the test in its own namespaces did not run")
	}
}

// setupPartitionNet makes, in the test's network namespace, the bridges br-raft and br-kafka and, for
// nodes 1..n, a network namespace mqN with a veth pair on each bridge (rN and kN on the bridge side), or
// skips saying which step failed. /run/netns becomes a tmpfs of the test's mount namespace first, so
// that `ip netns add` leaves nothing outside.
func setupPartitionNet(t *testing.T, n int) {
	t.Helper()
	dir := "/run/netns"
	if _, err := os.Stat(dir); err != nil {
		dir = "/run" // (hidden by the tmpfs in this mount namespace only; ip netns makes /run/netns in it)
	}
	if err := unix.Mount("none", dir, "tmpfs", 0, ""); err != nil {
		t.Skipf("mount a tmpfs on %s: %v", dir, err)
	}
	steps := [][]string{{"link", "set", "lo", "up"}}
	for _, br := range []struct{ name, addr string }{{"br-raft", raftNet + "254/24"}, {"br-kafka", kafkaNet + "254/24"}} {
		steps = append(steps, []string{"link", "add", br.name, "type", "bridge"}, []string{"link", "set", br.name, "up"},
			[]string{"addr", "add", br.addr, "dev", br.name})
	}
	for id := 1; id <= n; id++ {
		ns := fmt.Sprint("mq", id)
		steps = append(steps, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
		for _, l := range []struct{ side, bridge, net string }{{"r", "br-raft", raftNet}, {"k", "br-kafka", kafkaNet}} {
			outer, inner := fmt.Sprint(l.side, id), fmt.Sprint(l.side, id, "-in")
			steps = append(steps,
				[]string{"link", "add", outer, "type", "veth", "peer", "name", inner},
				[]string{"link", "set", inner, "netns", ns},
				[]string{"link", "set", outer, "master", l.bridge},
				[]string{"link", "set", outer, "up"},
				[]string{"-n", ns, "addr", "add", fmt.Sprint(l.net, id, "/24"), "dev", inner},
				[]string{"-n", ns, "link", "set", inner, "up"})
		}
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Skipf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	// TCP from every node's namespace to the bridges' addresses, through bash's /dev/tcp (before a node's
	// failure to elect could be taken for the cluster's).
	for _, subnet := range []string{raftNet, kafkaNet} {
		l, err := net.Listen("tcp", subnet+"254:0")
		if err != nil {
			t.Skipf("listen on %s254: %v", subnet, err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		for id := 1; id <= n; id++ {
			cmd := exec.Command("ip", "netns", "exec", fmt.Sprint("mq", id), "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/"+strings.Replace(l.Addr().String(), ":", "/", 1))
			if out, err := cmd.CombinedOutput(); err != nil {
				l.Close()
				t.Skipf("TCP from namespace mq%d to %s: %v: %s", id, l.Addr(), err, strings.TrimSpace(string(out)))
			}
		}
		l.Close()
	}
}

// setLink sets a bridge-side link of the partition test's network up or down.
func setLink(t *testing.T, name string, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if out, err := exec.Command("ip", "link", "set", name, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v: %s", name, state, err, out)
	}
}

// newLeaderOf waits (up to 30 s) until one of nodes names a leader other than old, and returns when,
// and which.
func newLeaderOf(t *testing.T, ctx context.Context, nodes []*faultNode, old int32) (time.Time, int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if st, err := quorumOf(ctx, n.kafka); err == nil && st >= 1 && st != old {
				return time.Now(), st
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no leader other than %d for 30 s", old)
	return time.Time{}, 0
}

// rejoined waits (up to 30 s) until node, healed, names a leader other than itself, and returns it.
func rejoined(t *testing.T, ctx context.Context, node *faultNode) int32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := quorumOf(ctx, node.kafka); err == nil && st >= 1 && st != node.id {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("node %d, healed, names no other leader for 30 s", node.id)
	return 0
}

// batchLog is a franz-go hook: when each produced batch was acknowledged, and by which broker.
type batchLog struct {
	mu     sync.Mutex
	events []batchWritten
}

type batchWritten struct {
	at   time.Time
	node int32
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (b *batchLog) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.ProduceBatchMetrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, batchWritten{time.Now(), meta.NodeID})
}

// first is how long after since the first batch acknowledged by a node that match accepts was.
func (b *batchLog) first(since time.Time, match func(int32) bool) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.events {
		if e.at.After(since) && match(e.node) {
			return e.at.Sub(since), true
		}
	}
	return 0, false
}

// last is how long after since the last batch acknowledged by a node that match accepts was (false: none).
func (b *batchLog) last(since time.Time, match func(int32) bool) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var d time.Duration
	var ok bool
	for _, e := range b.events {
		if e.at.After(since) && match(e.node) {
			d, ok = e.at.Sub(since), true
		}
	}
	return d, ok
}

// leaderProbe sends produce requests straight to one node (its connection only, never following the
// metadata elsewhere), values probe-N, and keeps what became of each: "acknowledged", the error code's
// name, or the client's error (a request unanswered at its deadline), and the longest time an answer took.
type leaderProbe struct {
	t      *testing.T
	node   *faultNode
	topic  string
	cl     *kgo.Client
	br     *kgo.Broker
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	out    []string
	slow   time.Duration // the longest a request took to be answered
	done   chan struct{}
}

var probeSeq int

// newLeaderProbe connects to node (before the cut, so the connection is there when it comes).
func newLeaderProbe(t *testing.T, ctx context.Context, node *faultNode, topic string) *leaderProbe {
	t.Helper()
	// (Kafka 3.8's versions: its Produce names topics; a later one would need the topic's id.)
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.kafka), kgo.RequestRetries(0), kgo.DialTimeout(time.Second), kgo.MaxVersions(kversion.V3_8_0()))
	if err != nil {
		t.Fatal(err)
	}
	p := &leaderProbe{t: t, node: node, topic: topic, cl: cl, br: cl.SeedBrokers()[0], done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(ctx)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.br.Request(wctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		cl.Close()
		t.Fatalf("probe of node %d: %v", node.id, err)
	}
	return p
}

// run sends a produce request every 20 ms, each with its own 3 s deadline, until stop.
func (p *leaderProbe) run() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.ctx.Done():
				return
			case <-p.done:
				return
			case <-tick.C:
			}
			probeSeq++
			value := fmt.Sprintf("probe-%d", probeSeq)
			frame, err := segment.AppendBatch(nil, []segment.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte(value)}}, segment.EncodeOptions{})
			if err != nil {
				p.record(err.Error())
				return
			}
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 2000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = p.topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = int32(i%2), frame
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				rctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
				defer cancel()
				start := time.Now()
				kresp, err := p.br.Request(rctx, req)
				if err == nil {
					p.mu.Lock()
					p.slow = max(p.slow, time.Since(start))
					p.mu.Unlock()
				}
				switch {
				case err != nil:
					p.record("no answer: " + errName(err))
				case len(kresp.(*kmsg.ProduceResponse).Topics) != 1 || len(kresp.(*kmsg.ProduceResponse).Topics[0].Partitions) != 1:
					p.record("a malformed answer")
				default:
					code := kresp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
					if code == 0 {
						p.record("acknowledged")
					} else {
						p.record(errName(kerr.ErrorForCode(code)))
					}
				}
			}()
		}
	}()
}

func errName(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled at the heal"
	}
	return err.Error()
}

func (p *leaderProbe) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = append(p.out, s)
}

// stop ends the probe (requests still unanswered are abandoned) and returns what became of each request
// and the longest time an answer took.
func (p *leaderProbe) stop() ([]string, time.Duration) {
	close(p.done)
	p.cancel()
	p.wg.Wait()
	p.cl.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out, p.slow
}

// checkNoProbes fails t when a probe value (written to a leader cut from its peers) is on a node.
func checkNoProbes(t *testing.T, when string, logs [][][]string) {
	t.Helper()
	for i, node := range logs {
		for p, vals := range node {
			for off, v := range vals {
				if strings.HasPrefix(v, "probe-") {
					t.Errorf("%s: node %d partition %d offset %d holds %q, written to a leader cut from its peers", when, i+1, p, off, v)
				}
			}
		}
	}
}

func counts(results []string) map[string]int {
	m := map[string]int{}
	for _, r := range results {
		m[r]++
	}
	return m
}

// spread is "min / median / max (n)" of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v / median %v / max %v (%d rounds)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}
