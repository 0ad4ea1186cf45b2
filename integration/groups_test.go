package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fill creates topic with partitions partitions and appends n records to each, valued "p<P>-<i>" from
// first on.
func fill(t testing.TB, db *mqlog.DB, topic string, partitions, first, n int) {
	t.Helper()
	if first == 0 {
		if err := db.CreateTopic(topic, mqlog.TopicConfig{Partitions: partitions}); err != nil {
			t.Fatal(err)
		}
	}
	for p := 0; p < partitions; p++ {
		msgs := make([]mqlog.Message, n)
		for i := range msgs {
			msgs[i] = mqlog.Message{Value: fmt.Appendf(nil, "p%d-%d", p, first+i)}
		}
		if _, err := db.AppendPartition(context.Background(), topic, int32(p), msgs...); err != nil {
			t.Fatal(err)
		}
	}
}

// groupClient is a kgo consumer in a group, committing by hand what it polled.
func groupClient(t testing.TB, addr, group, topic string, balancer kgo.GroupBalancer) *kgo.Client {
	return newKgo(t, addr,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(balancer),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.RebalanceTimeout(20*time.Second), kgo.FetchMaxWait(200*time.Millisecond))
}

// committedSum is the sum of a group's committed offsets in topic, through the embedded API.
func committedSum(t testing.TB, db *mqlog.DB, group, topic string) int64 {
	t.Helper()
	offs, err := db.GroupOffsets(group)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range offs {
		if o.Topic == topic {
			sum += o.Offset
		}
	}
	return sum
}

// TestFranzGoGroup: kgo consumers in a group, with the range and the cooperative-sticky balancer (both
// run by the client, the broker coordinating): one member consumes and commits, a second joins and the
// two rebalance (each then consuming new records of its partitions), every record is consumed, and the
// commits land in the group the embedded API sees, with both members in its description.
func TestFranzGoGroup(t *testing.T) {
	for _, bal := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{{"range", kgo.RangeBalancer()}, {"cooperative-sticky", kgo.CooperativeStickyBalancer()}} {
		t.Run(bal.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			b := startBroker(t, nil)
			const parts, n = 3, 100
			fill(t, b.db, "orders", parts, 0, n)

			var mu sync.Mutex
			seen := map[string]int{} // value: times consumed
			by := map[string]int{}   // member: records consumed after the second joined
			poll := func(cl *kgo.Client, name string) error {
				fetches := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					return err
				}
				var errs []error
				fetches.EachError(func(topic string, p int32, err error) {
					errs = append(errs, fmt.Errorf("%s/%d: %w", topic, p, err))
				})
				if len(errs) > 0 {
					return errors.Join(errs...)
				}
				mu.Lock()
				fetches.EachRecord(func(r *kgo.Record) {
					seen[string(r.Value)]++
					by[name]++
				})
				mu.Unlock()
				// A commit racing a rebalance may be refused (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION);
				// the next one carries the offsets.
				cl.CommitUncommittedOffsets(ctx)
				return nil
			}
			consumed := func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(seen)
			}

			a := groupClient(t, b.addr, "g", "orders", bal.balancer)
			for consumed() < n {
				if err := poll(a, "first"); err != nil {
					t.Fatal(err)
				}
			}
			if committedSum(t, b.db, "g", "orders") == 0 {
				t.Fatal("nothing committed by the first member")
			}
			d, err := b.db.DescribeGroup("g")
			if err != nil || d.State != mqlog.GroupStateStable || len(d.Members) != 1 || d.ProtocolType != "consumer" {
				t.Fatalf("DescribeGroup with one member: %+v, %v", d, err)
			}

			mu.Lock()
			clear(by)
			mu.Unlock()
			second := groupClient(t, b.addr, "g", "orders", bal.balancer)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			errc := make(chan error, 2)
			for _, m := range []struct {
				name string
				cl   *kgo.Client
			}{{"first", a}, {"second", second}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if err := poll(m.cl, m.name); err != nil {
							errc <- err
							return
						}
					}
				}()
			}
			// Once both members hold partitions, new records in every partition.
			for {
				d, err := b.db.DescribeGroup("g")
				if err != nil {
					t.Fatal(err)
				}
				if d.State == mqlog.GroupStateStable && len(d.Members) == 2 {
					na, nb := assignedPartitions(t, d.Members[0]), assignedPartitions(t, d.Members[1])
					if na > 0 && nb > 0 && na+nb == parts {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			fill(t, b.db, "orders", parts, n, n)
			for committedSum(t, b.db, "g", "orders") < 2*n*parts || consumed() < 2*n*parts {
				select {
				case err := <-errc:
					t.Fatal(err)
				case <-ctx.Done():
					t.Fatalf("consumed %d of %d, committed %d", consumed(), 2*n*parts, committedSum(t, b.db, "g", "orders"))
				case <-time.After(20 * time.Millisecond):
				}
			}
			close(stop)
			a.Close() // (PollFetches returns once the client closes)
			second.Close()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if by["first"] == 0 || by["second"] == 0 {
				t.Fatalf("after the rebalance the members consumed %v: want records for both", by)
			}
			for p := 0; p < parts; p++ {
				for i := 0; i < 2*n; i++ {
					if seen[fmt.Sprintf("p%d-%d", p, i)] == 0 {
						t.Fatalf("p%d-%d never consumed", p, i)
					}
				}
			}
		})
	}
}

// assignedPartitions counts the partitions a member's assignment (a ConsumerMemberAssignment, as kgo's
// balancers encode it) holds.
func assignedPartitions(t testing.TB, m mqlog.GroupMemberDescription) int {
	if len(m.Assignment) == 0 { // none yet
		return 0
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(m.Assignment); err != nil {
		t.Fatalf("member %s's assignment: %v", m.MemberID, err)
	}
	n := 0
	for _, at := range a.Topics {
		n += len(at.Partitions)
	}
	return n
}

// TestFranzGoGroupRestart: a group session commits part of a topic, the server and its DB are closed
// and opened again (on another port), and a second session of the same group goes on from the committed
// offsets: it consumes exactly the rest. The group is the embedded API's: an offset set with
// DB.CommitGroupOffset before the first session is where that session starts, and the second session's
// commits are what DB.GroupOffsets reads.
func TestFranzGoGroupRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	br, err := StartBroker(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const parts, n = 2, 50
	fill(t, br.DB, "events", parts, 0, n)
	if err := br.DB.CommitGroupOffset("g", "events", 0, 10); err != nil { // skip p0-0 .. p0-9
		t.Fatal(err)
	}

	session := func(addr string, until func(got int) bool) map[string]bool {
		cl := groupClient(t, addr, "g", "events", kgo.CooperativeStickyBalancer())
		defer cl.Close()
		got := map[string]bool{}
		for !until(len(got)) {
			fetches := cl.PollFetches(ctx)
			if err := fetches.Err(); err != nil {
				t.Fatal(err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				if got[string(r.Value)] {
					t.Errorf("%s consumed twice in one session", r.Value)
				}
				got[string(r.Value)] = true
			})
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
		return got
	}
	first := session(br.Addr, func(got int) bool { return got >= n/2 })
	if first["p0-0"] || first["p0-9"] {
		t.Fatalf("the first session consumed below the offset committed through the embedded API: %v", first)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}

	br, err = StartBroker(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := br.Close(); err != nil {
			t.Error(err)
		}
	}()
	want := parts*n - 10 - len(first)
	second := session(br.Addr, func(got int) bool { return got >= want })
	if len(second) != want {
		t.Fatalf("the second session consumed %d, want %d", len(second), want)
	}
	for v := range second {
		if first[v] {
			t.Fatalf("%s consumed again after the restart", v)
		}
	}
	if got := committedSum(t, br.DB, "g", "events"); got != parts*n {
		t.Fatalf("committed offsets sum to %d, want %d", got, parts*n)
	}
}

// kafkaGoRead reads count messages of topic with a kafka-go group Reader of group, committing each, and
// closes the Reader (leaving the group).
func kafkaGoRead(ctx context.Context, t testing.TB, addr, group, topic string, count int) []string {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, GroupID: group, Topic: topic,
		MaxWait: 100 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second,
		RebalanceTimeout: 5 * time.Second, StartOffset: kafkago.FirstOffset})
	defer r.Close()
	var got []string
	for len(got) < count {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("FetchMessage: %v", err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("CommitMessages: %v", err)
		}
		got = append(got, string(m.Value))
	}
	return got
}

// TestKafkaGoGroup: kafka-go's group Reader (JoinGroup v1 or v2, SyncGroup v0, OffsetCommit v2,
// LeaveGroup v0 as v0.4.51 pins them) consumes and commits; a second Reader of the group after the first
// closed starts from the committed offset.
func TestKafkaGoGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(t, nil)
	const n = 40
	fill(t, b.db, "jobs", 1, 0, n)
	first := kafkaGoRead(ctx, t, b.addr, "workers", "jobs", n/2)
	if first[0] != "p0-0" {
		t.Fatalf("first message %s", first[0])
	}
	if got := committedSum(t, b.db, "workers", "jobs"); got != n/2 {
		t.Fatalf("committed %d after the first reader, want %d", got, n/2)
	}
	second := kafkaGoRead(ctx, t, b.addr, "workers", "jobs", n/2)
	if second[0] != fmt.Sprintf("p0-%d", n/2) || second[len(second)-1] != fmt.Sprintf("p0-%d", n-1) {
		t.Fatalf("second reader read %s..%s, want from the committed offset %d", second[0], second[len(second)-1], n/2)
	}
	if got := committedSum(t, b.db, "workers", "jobs"); got != n {
		t.Fatalf("committed %d, want %d", got, n)
	}
}

// TestKafkaGoGroupRestart: a kafka-go group Reader commits half of a partition, the server and its DB
// are closed and opened again, and a new Reader of the group reads exactly the other half.
func TestKafkaGoGroupRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	br, err := StartBroker(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	fill(t, br.DB, "jobs", 1, 0, n)
	kafkaGoRead(ctx, t, br.Addr, "workers", "jobs", n/2)
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	br, err = StartBroker(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := br.Close(); err != nil {
			t.Error(err)
		}
	}()
	second := kafkaGoRead(ctx, t, br.Addr, "workers", "jobs", n/2)
	for i, v := range second {
		if want := fmt.Sprintf("p0-%d", n/2+i); v != want {
			t.Fatalf("after the restart message %d is %s, want %s", i, v, want)
		}
	}
}

// TestFranzGoCooperativeThirdMember: a third kgo member joins a cooperative-sticky group of two over four
// partitions. The assignor takes a partition from one of the two in a first rebalance and hands it to the
// newcomer in a second, for which the member that gave it up joins again with its metadata changed.
// Every partition must end up assigned, each member holding some. (kgo passed this before the coordinator
// compared a follower's metadata, its leader joining again as well; kafka's
// TestFollowerRejoinWithNewMetadataRebalances pins that rule.)
func TestFranzGoCooperativeThirdMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(t, nil)
	const parts = 4
	fill(t, b.db, "coop", parts, 0, 10)
	var clients []*kgo.Client
	for i := 0; i < 3; i++ {
		cl := groupClient(t, b.addr, "coop", "coop", kgo.CooperativeStickyBalancer())
		clients = append(clients, cl)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // kgo joins and rebalances while the client polls
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
				cl.PollFetches(pctx)
				pcancel()
			}
		}()
		t.Cleanup(func() { close(stop); <-done })
		for {
			d, err := b.db.DescribeGroup("coop")
			if err != nil {
				t.Fatal(err)
			}
			total, each := 0, true
			for _, m := range d.Members {
				n := assignedPartitions(t, m)
				total += n
				each = each && n > 0
			}
			if d.State == mqlog.GroupStateStable && len(d.Members) == i+1 && total == parts && each {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("with %d members: %s, %d partitions assigned: %+v", i+1, d.State, total, d.Members)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
