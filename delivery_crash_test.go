package mqlog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// deliveryCrashState is what a delivery workload had seen return at the instant of a crash image.
type deliveryCrashState struct {
	acked       map[int64]bool // Ack returned
	ackInFlight map[int64]bool // Ack called, not returned
	deliveries  map[int64]int  // Deliveries of the last Next that returned the offset
	nextPending bool           // a Next was in flight: one more delivery may be recorded
	// dedup: the position an Append with the id returned, and the ids whose Append was in flight.
	appended map[string]Position
	inFlight map[string]bool
}

func newDeliveryCrashState() deliveryCrashState {
	return deliveryCrashState{acked: map[int64]bool{}, ackInFlight: map[int64]bool{}, deliveries: map[int64]int{},
		appended: map[string]Position{}, inFlight: map[string]bool{}}
}

func (s deliveryCrashState) clone() deliveryCrashState {
	c := s
	c.acked, c.ackInFlight, c.deliveries = maps.Clone(s.acked), maps.Clone(s.ackInFlight), maps.Clone(s.deliveries)
	c.appended, c.inFlight = maps.Clone(s.appended), maps.Clone(s.inFlight)
	return c
}

type deliveryCrashImage struct {
	op    int
	fs    *vfs.MemFS
	state deliveryCrashState
}

// deliveryCrashRecorder takes a crash image (vfs.MemFS.CrashClone, with unsynced percent of the unsynced
// data kept) before every write operation of the engine, segments and Pebble alike, while recording, with
// a copy of the workload's state at that instant.
type deliveryCrashRecorder struct {
	mem      *vfs.MemFS
	unsynced int
	rng      *rand.Rand

	mu        sync.Mutex
	recording bool
	state     deliveryCrashState
	images    []deliveryCrashImage
}

func newDeliveryCrashRecorder(unsynced int, rng *rand.Rand) *deliveryCrashRecorder {
	return &deliveryCrashRecorder{mem: vfs.NewCrashableMem(), unsynced: unsynced, rng: rng, state: newDeliveryCrashState()}
}

func (r *deliveryCrashRecorder) fs() vfs.FS {
	return errorfs.Wrap(r.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.recording {
			return nil
		}
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: r.unsynced}
		if r.unsynced > 0 {
			cfg.RNG = rand.New(rand.NewPCG(r.rng.Uint64(), 0))
		}
		r.images = append(r.images, deliveryCrashImage{op: len(r.images), fs: r.mem.CrashClone(cfg), state: r.state.clone()})
		return nil
	}))
}

func (r *deliveryCrashRecorder) record(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording = on
}

func (r *deliveryCrashRecorder) update(f func(*deliveryCrashState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.state)
}

// nextFor is Next under the recorder: in flight while it runs, its delivery recorded when it returns.
func (r *deliveryCrashRecorder) nextFor(q *Queue, d time.Duration) (*QueueMessage, error) {
	r.update(func(s *deliveryCrashState) { s.nextPending = true })
	m, err := nextWithin(q, d)
	r.update(func(s *deliveryCrashState) {
		s.nextPending = false
		if err == nil {
			s.deliveries[m.Offset] = m.Deliveries
		}
	})
	return m, err
}

func (r *deliveryCrashRecorder) ack(t *testing.T, m *QueueMessage) {
	t.Helper()
	r.update(func(s *deliveryCrashState) { s.ackInFlight[m.Offset] = true })
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	r.update(func(s *deliveryCrashState) { delete(s.ackInFlight, m.Offset); s.acked[m.Offset] = true })
}

func crashCases() []int { return []int{0, 50} }

// checkDeliveries checks a delivery after a crash against what had returned before it: an acked message
// is never delivered again, and the count is exact: one more than the deliveries that returned, or two
// more when a Next was in flight (its delivery may have been recorded).
func checkDeliveries(t *testing.T, img deliveryCrashImage, m *QueueMessage, extra int) {
	t.Helper()
	st := img.state
	if st.acked[m.Offset] {
		t.Fatalf("op %d: acked offset %d delivered again", img.op, m.Offset)
	}
	low := st.deliveries[m.Offset] + 1 + extra
	high := low
	if st.nextPending {
		high++
	}
	if m.Deliveries < low || m.Deliveries > high {
		t.Fatalf("op %d: offset %d delivered with count %d, want %d..%d (recorded %d, Next in flight %v)",
			img.op, m.Offset, m.Deliveries, low, high, st.deliveries[m.Offset], st.nextPending)
	}
}

// TestCrashDelayedDelivery: a crash image before every write op while a group schedules messages with a
// DeliverAt, delivers the others, and delivers, naks and acks the scheduled ones once they are due. After
// the crash, no scheduled message goes out before its time, every message not acked goes out once it is
// due, none acked does, and delivery counts are exact (those of scheduled messages live in their timers).
func TestCrashDelayedDelivery(t *testing.T) {
	messages := 12
	if testing.Short() {
		messages = 8
	}
	if torture() {
		messages = 60
	}
	for _, unsynced := range crashCases() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+161))
			rec := newDeliveryCrashRecorder(unsynced, rng)
			clock := newTestClock()
			start := clock.now()
			due := start.Add(time.Hour)
			db, err := Open(crashDir, &Options{FS: rec.fs(), RetentionCheckInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			clock.use(db)
			if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
				t.Fatal(err)
			}
			delayed := map[int64]bool{}
			for i := range messages {
				m := Message{Value: crashValue(i)}
				if i%2 == 0 {
					m.DeliverAt = due
				}
				pos := mustAppend(t, db, "t", m)
				delayed[pos[0].Offset] = i%2 == 0
			}
			opts := QueueOptions{AckWait: time.Hour}
			rec.record(true)
			q := openQueue(t, db, "t", "g", opts)
			// The immediate ones: delivered and acked; the delayed ones get scheduled by these reads.
			for range messages / 2 {
				m, err := rec.nextFor(q, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if delayed[m.Offset] {
					t.Fatalf("offset %d delivered before its time", m.Offset)
				}
				rec.ack(t, m)
			}
			if m, err := rec.nextFor(q, 20*time.Millisecond); err == nil {
				t.Fatalf("offset %d delivered before its time", m.Offset)
			}
			clock.advance(db, time.Hour)
			// The delayed ones: each nak'd once, then acked, except the last two, left leased.
			for i := range messages / 2 {
				m, err := rec.nextFor(q, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Nak(0); err != nil {
					t.Fatal(err)
				}
				if m, err = rec.nextFor(q, time.Second); err != nil || m.Deliveries != 2 {
					t.Fatalf("redelivery: %+v, %v", m, err)
				}
				if i < messages/2-2 {
					rec.ack(t, m)
				}
			}
			rec.record(false)
			q.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d crash points", len(rec.images))
			if len(rec.images) == 0 {
				t.Fatal("no crash point")
			}
			for _, img := range rec.images {
				checkDelayedRecovered(t, img, delayed, start, due)
			}
		})
	}
}

func checkDelayedRecovered(t *testing.T, img deliveryCrashImage, delayed map[int64]bool, start, due time.Time) {
	t.Helper()
	clock := &testClock{t: start}
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("op %d: open after crash: %v", img.op, err)
		}
		clock.use(db)
		q, err := db.Queue("t", "g", QueueOptions{AckWait: 10 * time.Hour}) // leases outlive the clock's move
		if err != nil {
			t.Fatalf("op %d: queue: %v", img.op, err)
		}
		got := map[int64]bool{}
		drain := func() {
			for {
				m, err := nextWithin(q, 10*time.Millisecond)
				if errors.Is(err, context.DeadlineExceeded) {
					return
				}
				if err != nil {
					t.Fatalf("op %d: %v", img.op, err)
				}
				if got[m.Offset] {
					t.Fatalf("op %d: offset %d delivered twice", img.op, m.Offset)
				}
				if delayed[m.Offset] && clock.now().Before(due) {
					t.Fatalf("op %d round %d: offset %d delivered before its time", img.op, round, m.Offset)
				}
				checkDeliveries(t, img, m, round)
				got[m.Offset] = true
			}
		}
		if round == 0 {
			drain() // at the start: only immediate ones may come
			clock.advance(db, time.Hour)
		}
		drain()
		for off := range int64(len(delayed)) {
			if !img.state.acked[off] && !img.state.ackInFlight[off] && !got[off] {
				t.Fatalf("op %d round %d: offset %d (delayed %v) not acked and not delivered", img.op, round, off, delayed[off])
			}
		}
		q.Close()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashDedup: a crash image before every write op while two appenders append messages with ids,
// many of them twice. After the crash, re-appending every id is answered with the original position for
// each id whose Append had returned, and with a new position or the original for one in flight, and the
// log holds every id exactly once; a second reopen (the window rebuilt from the log again) answers every
// id with that position.
func TestCrashDedup(t *testing.T) {
	ids := 16
	if testing.Short() {
		ids = 10
	}
	if torture() {
		ids = 80
	}
	for _, unsynced := range crashCases() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+162))
			rec := newDeliveryCrashRecorder(unsynced, rng)
			db, err := Open(crashDir, &Options{FS: rec.fs(), RetentionCheckInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTopic("t", TopicConfig{Partitions: 2, SegmentBytes: 512}); err != nil {
				t.Fatal(err)
			}
			orders := [][]int{rng.Perm(ids), rng.Perm(ids)} // before the appenders start: rng is the recorder's then
			rec.record(true)
			var wg sync.WaitGroup
			for a := range 2 {
				order := orders[a]
				wg.Go(func() {
					for _, k := range order {
						id := fmt.Sprintf("id-%d", k)
						rec.update(func(s *deliveryCrashState) { s.inFlight[id] = true })
						pos, err := db.Append(context.Background(), "t", Message{ID: id, Value: fmt.Appendf(nil, "%d-%s", a, id)})
						if err != nil {
							t.Error(err)
							return
						}
						rec.update(func(s *deliveryCrashState) {
							delete(s.inFlight, id)
							if prev, ok := s.appended[id]; ok && (prev.Partition != pos[0].Partition || prev.Offset != pos[0].Offset) {
								t.Errorf("id %s answered %+v and %+v", id, prev, pos[0])
							}
							s.appended[id] = Position{Partition: pos[0].Partition, Offset: pos[0].Offset}
						})
					}
				})
			}
			wg.Wait()
			rec.record(false)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d crash points", len(rec.images))
			for _, img := range rec.images {
				checkDedupRecovered(t, img, ids)
			}
		})
	}
}

func checkDedupRecovered(t *testing.T, img deliveryCrashImage, ids int) {
	t.Helper()
	final := map[string]Position{}
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("op %d: open after crash: %v", img.op, err)
		}
		for k := range ids {
			id := fmt.Sprintf("id-%d", k)
			pos, err := db.Append(context.Background(), "t", Message{ID: id, Value: []byte("retry")})
			if err != nil {
				t.Fatalf("op %d: %v", img.op, err)
			}
			p := Position{Partition: pos[0].Partition, Offset: pos[0].Offset}
			if want, ok := img.state.appended[id]; ok && (!pos[0].Duplicate || p != want) {
				t.Fatalf("op %d round %d: id %s, acknowledged at %+v, answered %+v", img.op, round, id, want, pos[0])
			}
			if round == 1 && (!pos[0].Duplicate || p != final[id]) {
				t.Fatalf("op %d: id %s answered %+v after a second reopen, %+v after the first", img.op, id, pos[0], final[id])
			}
			final[id] = p
		}
		inLog := logIDs(t, db, "t")
		for k := range ids {
			id := fmt.Sprintf("id-%d", k)
			if len(inLog[id]) != 1 || inLog[id][0] != final[id] {
				t.Fatalf("op %d round %d: id %s in the log at %v, answered %+v", img.op, round, id, inLog[id], final[id])
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashOrderedKeys: a crash image before every write op while an OrderedKeys group delivers, naks and
// acks messages of four keys (so that later offsets go out while earlier ones wait behind their keys, and
// their counts are saved ahead of the cursor). After the crash, each key's messages not acked go out one
// at a time in offset order, none acked does, and every delivery count is exact.
func TestCrashOrderedKeys(t *testing.T) {
	messages := 16
	if testing.Short() {
		messages = 12
	}
	if torture() {
		messages = 80
	}
	const keys = 4
	for _, unsynced := range crashCases() {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)+163))
			rec := newDeliveryCrashRecorder(unsynced, rng)
			db, err := Open(crashDir, &Options{FS: rec.fs(), RetentionCheckInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
				t.Fatal(err)
			}
			keyOf := map[int64]string{}
			for i := range messages {
				key := fmt.Sprintf("k%d", i%keys)
				pos := mustAppend(t, db, "t", Message{Key: []byte(key), Value: crashValue(i)})
				keyOf[pos[0].Offset] = key
			}
			opts := QueueOptions{AckWait: time.Hour, OrderedKeys: true}
			rec.record(true)
			q := openQueue(t, db, "t", "g", opts)
			var leased []*QueueMessage
			for {
				m, err := rec.nextFor(q, 20*time.Millisecond)
				if errors.Is(err, context.DeadlineExceeded) {
					if len(leased) == 0 {
						break
					}
					// Every key is busy: end one lease (the oldest), by an ack or a nak.
					m, leased = leased[0], leased[1:]
					if m.Deliveries < 2 && rng.IntN(2) == 0 {
						if err := m.Nak(0); err != nil {
							t.Fatal(err)
						}
					} else {
						rec.ack(t, m)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				leased = append(leased, m)
				if len(leased) > keys {
					t.Fatalf("%d messages leased with %d keys", len(leased), keys)
				}
			}
			rec.record(false)
			q.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d crash points", len(rec.images))
			for _, img := range rec.images {
				checkOrderedRecovered(t, img, keyOf, opts)
			}
		})
	}
}

func checkOrderedRecovered(t *testing.T, img deliveryCrashImage, keyOf map[int64]string, opts QueueOptions) {
	t.Helper()
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: img.fs, RetentionCheckInterval: -1})
		if err != nil {
			t.Fatalf("op %d: open after crash: %v", img.op, err)
		}
		q, err := db.Queue("t", "g", opts)
		if err != nil {
			t.Fatalf("op %d: queue: %v", img.op, err)
		}
		last := map[string]int64{}
		var got []int64
		for {
			// One consumer, acking each message before the next: a key's next message can only come
			// after its previous one is done.
			m, err := nextWithin(q, 10*time.Millisecond)
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatalf("op %d: %v", img.op, err)
			}
			key := string(m.Key)
			if prev, ok := last[key]; ok && m.Offset <= prev {
				t.Fatalf("op %d round %d: key %s delivered offset %d after %d", img.op, round, key, m.Offset, prev)
			}
			last[key] = m.Offset
			if round == 0 {
				checkDeliveries(t, img, m, 0)
			}
			got = append(got, m.Offset)
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if round == 1 && len(got) != 0 {
			t.Fatalf("op %d: everything was acked in the first reopen, yet %v came again", img.op, got)
		}
		if round == 0 {
			for off := range int64(len(keyOf)) {
				if !img.state.acked[off] && !img.state.ackInFlight[off] && !slices.Contains(got, off) {
					t.Fatalf("op %d: offset %d (key %s) not acked and not delivered (got %v)", img.op, off, keyOf[off], got)
				}
			}
		}
		q.Close()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
