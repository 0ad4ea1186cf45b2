package mqlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openMemDB(t *testing.T, fs vfs.FS) *DB {
	t.Helper()
	db, err := Open("/data", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openQueue(t *testing.T, db *DB, topic, group string, opts QueueOptions) *Queue {
	t.Helper()
	q, err := db.Queue(topic, group, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// nextWithin calls Next with a deadline; a test that expects no message passes a short one.
func nextWithin(q *Queue, d time.Duration) (*QueueMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return q.Next(ctx)
}

// TestQueueCompetingConsumers: several handles of one group share the messages of a multi-partition
// topic; each message goes to exactly one of them when every delivery is acked, and a second group gets
// every message too.
func TestQueueCompetingConsumers(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("jobs", TopicConfig{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	ctx := context.Background()
	for i := range n {
		if _, err := db.Append(ctx, "jobs", Message{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	perConsumer := make([]int, 4)
	var wg sync.WaitGroup
	for c := range perConsumer {
		q := openQueue(t, db, "jobs", "workers", QueueOptions{})
		wg.Go(func() {
			defer q.Close()
			for {
				m, err := nextWithin(q, 200*time.Millisecond)
				if errors.Is(err, context.DeadlineExceeded) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[string(m.Value)]++
				perConsumer[c]++
				mu.Unlock()
				if err := m.Ack(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct messages delivered, want %d", len(seen), n)
	}
	for v, k := range seen {
		if k != 1 {
			t.Fatalf("message %s delivered %d times", v, k)
		}
	}
	t.Logf("per consumer: %v", perConsumer)

	// Another group has its own state: it gets everything again.
	other := openQueue(t, db, "jobs", "auditors", QueueOptions{})
	defer other.Close()
	for range n {
		m, err := nextWithin(other, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := nextWithin(other, 20*time.Millisecond); err == nil {
		t.Fatalf("extra message %d/%d", m.Partition, m.Offset)
	}
}

func TestQueueLeaseRules(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	appendN(t, db, "t", 3)
	const ackWait = 100 * time.Millisecond
	// The queue's clock moves only when the test says so: on a loaded machine a real clock passed AckWait
	// between two steps and expired a lease the test holds.
	var clockMu sync.Mutex
	clock := time.Unix(1_700_000_000, 0)
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	SetQueueClockForTest(db, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock })
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: ackWait})
	defer q.Close()

	// AckWait passes: the message is delivered again, to any consumer, with a higher count; the old
	// delivery's Nak, InProgress and Term are stale.
	m0, err := nextWithin(q, time.Second)
	if err != nil || m0.Offset != 0 || m0.Deliveries != 1 {
		t.Fatalf("first Next = %+v, %v", m0, err)
	}
	m1, _ := nextWithin(q, time.Second)
	m2, _ := nextWithin(q, time.Second)
	if m1.Offset != 1 || m2.Offset != 2 {
		t.Fatalf("offsets %d %d", m1.Offset, m2.Offset)
	}
	if err := m1.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := m2.Nak(0); err != nil {
		t.Fatal(err)
	}
	again, err := nextWithin(q, time.Second)
	if err != nil || again.Offset != 2 || again.Deliveries != 2 {
		t.Fatalf("after Nak: %+v, %v", again, err)
	}
	if err := m2.InProgress(); !errors.Is(err, ErrStaleDelivery) {
		t.Fatalf("InProgress of the nak'd delivery: %v", err)
	}
	// InProgress keeps offset 2 leased past AckWait while offset 0's lease runs out.
	for range 8 {
		if err := again.InProgress(); err != nil {
			t.Fatal(err)
		}
		advance(ackWait / 4)
	}
	redelivered, err := nextWithin(q, time.Second)
	if err != nil || redelivered.Offset != 0 || redelivered.Deliveries != 2 {
		t.Fatalf("after AckWait: %+v, %v", redelivered, err)
	}
	if err := m0.Nak(0); !errors.Is(err, ErrStaleDelivery) {
		t.Fatalf("Nak of an expired lease: %v", err)
	}
	if err := m0.Term(); !errors.Is(err, ErrStaleDelivery) {
		t.Fatalf("Term of an expired lease: %v", err)
	}
	if err := redelivered.Term(); err != nil {
		t.Fatal(err)
	}
	// Nak with a delay: not due before it.
	if err := again.Nak(150 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	advance(100 * time.Millisecond)
	if m, err := nextWithin(q, 50*time.Millisecond); err == nil {
		t.Fatalf("delivered %d before the Nak delay", m.Offset)
	}
	advance(50 * time.Millisecond)
	m, err := nextWithin(q, time.Second)
	if err != nil || m.Offset != 2 || m.Deliveries != 3 {
		t.Fatalf("after the Nak delay: %+v, %v", m, err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		t.Fatalf("second Ack: %v", err)
	}
	if m, err := nextWithin(q, 20*time.Millisecond); err == nil {
		t.Fatalf("all acked or termed, yet %d delivered", m.Offset)
	}
	floors, err := db.workQueueFloors("t")
	if err != nil || floors[0] != 3 {
		t.Fatalf("floors %v, %v", floors, err)
	}
}

func TestQueueMaxAckPending(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	appendN(t, db, "t", 5)
	q := openQueue(t, db, "t", "g", QueueOptions{MaxAckPending: 2})
	defer q.Close()
	a, _ := nextWithin(q, time.Second)
	b, _ := nextWithin(q, time.Second)
	if m, err := nextWithin(q, 30*time.Millisecond); err == nil {
		t.Fatalf("third message %d delivered with MaxAckPending 2", m.Offset)
	}
	// A blocked Next wakes on the Ack that frees a slot.
	got := make(chan int64, 1)
	go func() {
		m, err := nextWithin(q, 2*time.Second)
		if err != nil {
			got <- -1
			return
		}
		got <- m.Offset
	}()
	time.Sleep(20 * time.Millisecond)
	if err := b.Ack(); err != nil {
		t.Fatal(err)
	}
	if off := <-got; off != 2 {
		t.Fatalf("after Ack: offset %d, want 2", off)
	}
	// A nak'd message still counts, but is delivered again.
	if err := a.Nak(0); err != nil {
		t.Fatal(err)
	}
	if m, err := nextWithin(q, time.Second); err != nil || m.Offset != 0 {
		t.Fatalf("redelivery at the bound: %+v %v", m, err)
	}
}

func TestQueueDeadLetter(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Append(ctx, "t", Message{Key: []byte("k"), Value: []byte("poison"), Headers: []Header{{Key: "h", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 1)
	q := openQueue(t, db, "t", "g", QueueOptions{MaxDeliver: 3, DeadLetterTopic: "t.dlq"})
	defer q.Close()
	for i := 1; i <= 3; i++ {
		m, err := nextWithin(q, time.Second)
		if err != nil || m.Offset != 0 || m.Deliveries != i {
			t.Fatalf("delivery %d: %+v, %v", i, m, err)
		}
		if err := m.Nak(0); err != nil {
			t.Fatal(err)
		}
	}
	// The fourth time it is due it goes to the dead-letter topic instead; the next message comes.
	m, err := nextWithin(q, time.Second)
	if err != nil || m.Offset != 1 {
		t.Fatalf("after MaxDeliver: %+v, %v", m, err)
	}
	dead := readAll(t, db, "t.dlq", 0)
	if len(dead) != 1 || string(dead[0].Value) != "poison" || string(dead[0].Key) != "k" {
		t.Fatalf("dead letters %+v", dead)
	}
	headers := map[string]string{}
	for _, h := range dead[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{"h": "v", DeadLetterHeaderTopic: "t", DeadLetterHeaderPartition: "0",
		DeadLetterHeaderOffset: "0", DeadLetterHeaderDeliveries: "3", DeadLetterHeaderGroup: "g"}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, headers[k], v)
		}
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	floors, _ := db.workQueueFloors("t")
	if floors[0] != 2 {
		t.Fatalf("floor %d, want 2 (the dead letter is acked)", floors[0])
	}
}

// TestQueueReopen: acked messages (in order and out of order) are not delivered after reopen; every other
// one is, delivered-but-unacked ones included.
func TestQueueReopen(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	appendN(t, db, "t", 10)
	q := openQueue(t, db, "t", "g", QueueOptions{})
	var delivered []*QueueMessage
	for range 8 {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		delivered = append(delivered, m)
	}
	acked := []int64{0, 1, 4, 6, 7}
	for _, off := range acked {
		if err := delivered[off].Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	q = openQueue(t, db, "t", "g", QueueOptions{})
	defer q.Close()
	var got []int64
	for {
		m, err := nextWithin(q, 30*time.Millisecond)
		if err != nil {
			break
		}
		got = append(got, m.Offset)
	}
	if want := []int64{2, 3, 5, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("after reopen delivered %v, want %v", got, want)
	}
}

func TestQueueWakesOnAppend(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "g", QueueOptions{})
	defer q.Close()
	got := make(chan error, 1)
	go func() {
		m, err := nextWithin(q, 5*time.Second)
		if err == nil && string(m.Value) != "late" {
			err = fmt.Errorf("value %q", m.Value)
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := db.Append(context.Background(), "t", Message{Value: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestQueueOptionsMismatch(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	appendN(t, db, "t", 1)
	q := openQueue(t, db, "t", "g", QueueOptions{MaxDeliver: 2})
	if _, err := db.Queue("t", "g", QueueOptions{MaxDeliver: 3}); !errors.Is(err, ErrQueueOptions) {
		t.Fatalf("mismatched options: %v", err)
	}
	if _, err := db.Queue("t", "g2", QueueOptions{DeadLetterTopic: "t"}); !errors.Is(err, ErrQueueOptions) {
		t.Fatalf("DLQ = own topic: %v", err)
	}
	if _, err := db.Queue("nope", "g", QueueOptions{}); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("missing topic: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := q.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	// After the last handle closed, other options are fine.
	q = openQueue(t, db, "t", "g", QueueOptions{MaxDeliver: 3})
	q.Close()
}

// TestQueueCloseReleasesLeases: a closed consumer's messages go to another one at once.
func TestQueueCloseReleasesLeases(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	appendN(t, db, "t", 1)
	a := openQueue(t, db, "t", "g", QueueOptions{})
	b := openQueue(t, db, "t", "g", QueueOptions{})
	defer b.Close()
	if _, err := nextWithin(a, time.Second); err != nil {
		t.Fatal(err)
	}
	if m, err := nextWithin(b, 20*time.Millisecond); err == nil {
		t.Fatalf("b got leased message %d", m.Offset)
	}
	a.Close()
	if m, err := nextWithin(b, time.Second); err != nil || m.Offset != 0 {
		t.Fatalf("after a closed: %+v %v", m, err)
	}
}

// TestQueueAckAfterLastClose: once the group's last handle closed, its messages cannot be acked (a stale
// group must not overwrite the state of a newer open), and they are delivered to the next opener.
func TestQueueAckAfterLastClose(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	appendN(t, db, "t", 2)
	q := openQueue(t, db, "t", "g", QueueOptions{})
	m, err := nextWithin(q, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := m.Ack(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after the last Close: %v", err)
	}
	q = openQueue(t, db, "t", "g", QueueOptions{})
	defer q.Close()
	if m, err := nextWithin(q, time.Second); err != nil || m.Offset != 0 {
		t.Fatalf("reopened group: %+v, %v", m, err)
	}
}

// TestWorkQueueFloors: per partition, the smallest durable floor over the topic's work-queue groups;
// other topics' groups and partitions without state are left out.
func TestWorkQueueFloors(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 8) // round-robin: 4 per partition
	appendN(t, db, "other", 3)
	if floors, err := db.workQueueFloors("t"); err != nil || len(floors) != 0 {
		t.Fatalf("no groups: %v, %v", floors, err)
	}
	ackFirst := func(q *Queue, n int) {
		t.Helper()
		var ms []*QueueMessage
		for range n {
			m, err := nextWithin(q, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		for _, m := range ms {
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fast := openQueue(t, db, "t", "fast", QueueOptions{})
	defer fast.Close()
	ackFirst(fast, 8) // both partitions: floor 4
	slow := openQueue(t, db, "t", "slow", QueueOptions{})
	defer slow.Close()
	ackFirst(slow, 3) // two from the first partition taken, one from the other (in turn)
	o := openQueue(t, db, "other", "fast", QueueOptions{})
	defer o.Close()
	ackFirst(o, 3)
	floors, err := db.workQueueFloors("t")
	if err != nil {
		t.Fatal(err)
	}
	states, _ := db.QueueGroupState("slow")
	want := map[int32]int64{}
	for _, s := range states {
		want[s.Partition] = s.Floor
	}
	if len(floors) != 2 || floors[0] != want[0] || floors[1] != want[1] || floors[0]+floors[1] != 3 {
		t.Fatalf("floors %v, want the slow group's %v", floors, want)
	}
	if _, err := db.workQueueFloors("nope"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("missing topic: %v", err)
	}
}

// TestQueueRandomized: consumers that ack, nak (with and without delay), extend, term, or let the lease
// run out, at random and at once (run it with -race). In the end every message is acked or termed, the
// floor is at the end of the log, and no message is delivered while another consumer holds its lease.
func TestQueueRandomized(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if _, err := db.Append(context.Background(), "t", Message{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	seed := testSeed(t)
	var mu sync.Mutex
	// By partition/offset: when its Ack or Term returned, and a lower bound of the end of its current
	// lease (taken before the call that started or extended it), so that the checks have no false alarms.
	finished := map[string]time.Time{}
	leased := map[string]time.Time{}
	var wg sync.WaitGroup
	for c := range 4 {
		q := openQueue(t, db, "t", "g", QueueOptions{AckWait: 30 * time.Millisecond, MaxAckPending: 16})
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		wg.Go(func() {
			defer q.Close()
			for {
				before := time.Now()
				m, err := nextWithin(q, 300*time.Millisecond)
				if err != nil {
					return // idle: everything is finished
				}
				key := fmt.Sprintf("%d/%d", m.Partition, m.Offset)
				mu.Lock()
				if end, ok := leased[key]; ok && time.Now().Before(end) {
					mu.Unlock()
					t.Errorf("%s delivered while leased", key)
					return
				}
				if at, ok := finished[key]; ok && before.After(at) {
					mu.Unlock()
					t.Errorf("%s delivered after its ack", key)
					return
				}
				leased[key] = before.Add(30 * time.Millisecond)
				mu.Unlock()
				var err2 error
				switch r := rng.IntN(10); {
				case r < 6:
					mu.Lock()
					delete(leased, key)
					mu.Unlock()
					err2 = m.Ack()
					if err2 == nil {
						mu.Lock()
						finished[key] = time.Now()
						mu.Unlock()
					}
				case r < 7:
					mu.Lock()
					delete(leased, key)
					mu.Unlock()
					if err2 = m.Term(); err2 == nil {
						mu.Lock()
						finished[key] = time.Now()
						mu.Unlock()
					}
				case r < 9:
					mu.Lock()
					delete(leased, key)
					mu.Unlock()
					err2 = m.Nak(time.Duration(rng.IntN(3)) * time.Millisecond)
				default:
					before := time.Now()
					if m.InProgress() == nil { // then abandon it: the lease runs out
						mu.Lock()
						leased[key] = before.Add(30 * time.Millisecond)
						mu.Unlock()
					}
				}
				if err2 != nil && !errors.Is(err2, ErrStaleDelivery) {
					t.Error(err2)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(finished) != n {
		t.Fatalf("%d of %d messages finished", len(finished), n)
	}
	states, err := db.QueueGroupState("g")
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := db.Partitions("t")
	for _, s := range states {
		if s.Floor != parts[s.Partition].HighWatermark || s.AckRanges != 0 || s.Unacked != 0 {
			t.Fatalf("state %+v, high watermark %d", s, parts[s.Partition].HighWatermark)
		}
	}
}

// TestQueueAckNext: AckNext acks the message and delivers the next; one worker taking messages one at a
// time pays one synced save per message (the ack shares the next delivery's save), and the acks are
// durable: after a reopen, no message AckNext acked is delivered again.
func TestQueueAckNext(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	appendN(t, db, "t", 10)
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := q.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := db.Metrics().QueueSaves
	for want := int64(1); want < 6; want++ {
		if m, err = m.AckNext(ctx); err != nil {
			t.Fatal(err)
		}
		if m.Offset != want || m.Deliveries != 1 {
			t.Fatalf("AckNext delivered %d (delivery %d), want %d", m.Offset, m.Deliveries, want)
		}
	}
	if saves := db.Metrics().QueueSaves - before; saves != 5 {
		t.Errorf("5 AckNext calls made %d saves, want 5 (one each)", saves)
	}
	// The last one is left leased; the first five are acked.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	q = openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	m, err = q.Next(ctx)
	if err != nil || m.Offset != 5 || m.Deliveries != 2 {
		t.Fatalf("after reopen: %+v, %v; want offset 5, its second delivery", m, err)
	}
}
