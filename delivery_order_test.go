package mqlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func keyed(key, value string) Message {
	m := Message{Value: []byte(value)}
	if key != "" {
		m.Key = []byte(key)
	}
	return m
}

// TestQueueOrderedKeys: a key's messages go out one at a time and in offset order, a redelivery holds
// back the key's later messages, and other keys and keyless messages go on meanwhile.
func TestQueueOrderedKeys(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	mustAppend(t, db, "t", keyed("a", "a1"), keyed("a", "a2"), keyed("b", "b1"), keyed("", "n1"), keyed("a", "a3"), keyed("", "n2"))
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour, OrderedKeys: true})
	defer q.Close()
	got := func() string { return string(mustNext(t, q).Value) }
	var held []*QueueMessage
	for _, want := range []string{"a1", "b1", "n1", "n2"} {
		m := mustNext(t, q)
		if string(m.Value) != want {
			t.Fatalf("got %s, want %s", m.Value, want)
		}
		held = append(held, m)
	}
	expectNothing(t, q) // a2 and a3 wait behind a1
	if err := held[0].Nak(0); err != nil {
		t.Fatal(err)
	}
	a1 := mustNext(t, q)
	if string(a1.Value) != "a1" || a1.Deliveries != 2 {
		t.Fatalf("after the nak: %s (%d), want a1 again", a1.Value, a1.Deliveries)
	}
	expectNothing(t, q)
	if err := a1.Ack(); err != nil {
		t.Fatal(err)
	}
	if v := got(); v != "a2" {
		t.Fatalf("after a1's ack: %s, want a2", v)
	}
	expectNothing(t, q) // a3 waits behind a2
}

// TestQueueOrderedKeysAcrossRestart: what an ordered group delivered out of the cursor's order (a later
// key while an earlier message waits) keeps its delivery count across a restart, and the key order holds
// after it.
func TestQueueOrderedKeysAcrossRestart(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	opts := QueueOptions{AckWait: time.Hour, OrderedKeys: true}
	mustAppend(t, db, "t", keyed("a", "a1"), keyed("a", "a2"), keyed("b", "b1"), keyed("b", "b2"))
	q := openQueue(t, db, "t", "g", opts)
	a1, b1 := mustNext(t, q), mustNext(t, q)
	if string(a1.Value) != "a1" || string(b1.Value) != "b1" {
		t.Fatalf("got %s, %s", a1.Value, b1.Value)
	}
	if err := b1.Ack(); err != nil {
		t.Fatal(err)
	}
	b2 := mustNext(t, q) // offset 3, delivered while offset 1 (a2) waits: ahead of the cursor
	if string(b2.Value) != "b2" {
		t.Fatalf("got %s, want b2", b2.Value)
	}
	q.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	q = openQueue(t, db, "t", "g", opts)
	defer q.Close()
	first, second := mustNext(t, q), mustNext(t, q)
	if string(first.Value) != "a1" || first.Deliveries != 2 || string(second.Value) != "b2" || second.Deliveries != 2 {
		t.Fatalf("after restart: %s (%d), %s (%d); want a1 and b2, both second deliveries",
			first.Value, first.Deliveries, second.Value, second.Deliveries)
	}
	expectNothing(t, q)
	if err := first.Ack(); err != nil {
		t.Fatal(err)
	}
	if a2 := mustNext(t, q); string(a2.Value) != "a2" || a2.Deliveries != 1 {
		t.Fatalf("got %s (%d), want a2, first delivery", a2.Value, a2.Deliveries)
	}
}

// TestQueueOrderedKeysHeldBound: the messages waiting behind a busy key are bounded (MaxHeldPerPending x
// MaxAckPending); at the bound the group stops reading, and goes on as the key's messages are acked.
func TestQueueOrderedKeysHeldBound(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	limit := MaxHeldPerPending * 1
	for i := range limit + 5 {
		mustAppend(t, db, "t", keyed("hot", fmt.Sprint(i)))
	}
	mustAppend(t, db, "t", keyed("cold", "c"))
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour, OrderedKeys: true, MaxAckPending: 1})
	defer q.Close()
	for i := range limit + 5 {
		m := mustNext(t, q)
		if string(m.Value) != fmt.Sprint(i) {
			t.Fatalf("delivery %d: %s", i, m.Value)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if m := mustNext(t, q); string(m.Value) != "c" {
		t.Fatalf("got %s, want c", m.Value)
	}
}

// TestQueueOrderedKeysConcurrent: many workers, random acks, naks and expired leases, keys across three
// partitions: no two messages of one key are ever leased at once, each key's messages are first
// delivered in offset order within their partition, and every message is acked once in the end.
func TestQueueOrderedKeysConcurrent(t *testing.T) {
	const keys, perKey, workers = 12, 25, 8
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	for i := range perKey {
		var batch []Message
		for k := range keys {
			batch = append(batch, keyed(fmt.Sprintf("k%d", k), fmt.Sprintf("%d", i)))
		}
		batch = append(batch, keyed("", "free"))
		mustAppend(t, db, "t", batch...)
	}
	total := keys*perKey + perKey
	seed := testSeed(t)
	var mu sync.Mutex
	leased := map[string]bool{}      // keys with a delivery not yet acked, nak'd or given up
	lastFirst := map[string]int64{}  // per key and partition, the highest offset first delivered
	firstSeen := map[[2]int64]bool{} // partition, offset delivered at least once
	acked := map[[2]int64]bool{}
	var failure error
	fail := func(format string, args ...any) {
		if failure == nil {
			failure = fmt.Errorf(format, args...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		q := openQueue(t, db, "t", "g", QueueOptions{AckWait: 30 * time.Millisecond, OrderedKeys: true, MaxAckPending: 20})
		wg.Go(func() {
			defer q.Close()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for {
				mu.Lock()
				done := len(acked) == total || failure != nil
				mu.Unlock()
				if done {
					return
				}
				nctx, ncancel := context.WithTimeout(ctx, 50*time.Millisecond)
				m, err := q.Next(nctx)
				ncancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if err != nil {
					mu.Lock()
					fail("Next: %v", err)
					mu.Unlock()
					return
				}
				id := [2]int64{int64(m.Partition), m.Offset}
				key := string(m.Key)
				mu.Lock()
				if key != "" {
					if leased[key] {
						fail("key %s leased twice (offset %d)", key, m.Offset)
					}
					leased[key] = true
					pk := fmt.Sprintf("%s/%d", key, m.Partition)
					if !firstSeen[id] {
						if last, ok := lastFirst[pk]; ok && m.Offset < last {
							fail("key %s: offset %d first delivered after %d", pk, m.Offset, last)
						}
						lastFirst[pk] = m.Offset
					}
				}
				firstSeen[id] = true
				mu.Unlock()
				switch r := rng.IntN(10); {
				case r < 6:
					mu.Lock()
					leased[key] = false // cleared before the ack: the next delivery may come once it returns
					mu.Unlock()
					if err := m.Ack(); err != nil {
						mu.Lock()
						fail("Ack: %v", err)
						mu.Unlock()
						return
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				case r < 9:
					mu.Lock()
					leased[key] = false
					mu.Unlock()
					if err := m.Nak(0); err != nil && !errors.Is(err, ErrStaleDelivery) {
						mu.Lock()
						fail("Nak: %v", err)
						mu.Unlock()
						return
					}
				default:
					// Abandon it: the lease expires after AckWait, and the key stays busy until then.
					mu.Lock()
					leased[key] = false
					mu.Unlock()
					time.Sleep(40 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	if len(acked) != total {
		t.Fatalf("%d of %d acked", len(acked), total)
	}
}
