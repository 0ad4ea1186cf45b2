package mqlog

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// queueCrashPoint is a crash image taken before one write operation during acks, with the acks that had
// returned and those in flight at that instant.
type queueCrashPoint struct {
	op       int
	fs       *vfs.MemFS
	acked    map[int64]bool // Ack returned nil
	inFlight map[int64]bool // Ack called, not returned
}

// queueCrashWorkload appends messages to a topic with tiny segments, delivers them all to a work-queue
// group, and acks them in a shuffled order from several goroutines, leaving some unacked; before every
// write operation of the engine (segments and Pebble) it takes a crash image.
func queueCrashWorkload(t *testing.T, messages, ackers, unsyncedPercent int, rng *rand.Rand) []queueCrashPoint {
	mem := vfs.NewCrashableMem()
	var mu sync.Mutex // guards what follows and serializes the images
	var points []queueCrashPoint
	acked, inFlight := map[int64]bool{}, map[int64]bool{}
	recording := false
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if !recording {
			return nil
		}
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent}
		if unsyncedPercent > 0 {
			cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
		}
		points = append(points, queueCrashPoint{op: len(points), fs: mem.CrashClone(cfg), acked: cloneSet(acked), inFlight: cloneSet(inFlight)})
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, messages)
	q, err := db.Queue("t", "g", QueueOptions{AckWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var delivered []*QueueMessage
	for range messages {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		delivered = append(delivered, m)
	}
	rng.Shuffle(len(delivered), func(i, j int) { delivered[i], delivered[j] = delivered[j], delivered[i] })
	delivered = delivered[:len(delivered)*3/4] // a quarter is never acked
	mu.Lock()
	recording = true
	mu.Unlock()
	var wg sync.WaitGroup
	for a := range ackers {
		wg.Go(func() {
			for i := a; i < len(delivered); i += ackers {
				m := delivered[i]
				mu.Lock()
				inFlight[m.Offset] = true
				mu.Unlock()
				if err := m.Ack(); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				delete(inFlight, m.Offset)
				acked[m.Offset] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	mu.Lock()
	recording = false
	mu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return points
}

func cloneSet(m map[int64]bool) map[int64]bool {
	c := make(map[int64]bool, len(m))
	for k := range m {
		c[k] = true
	}
	return c
}

// checkQueueRecovered opens a crash image and drains the group: every message whose Ack had not been
// called is delivered, no message whose Ack returned is, and one in flight may go either way. Twice, with
// a second crash-free reopen, to see that the first recovery changed nothing.
func checkQueueRecovered(t *testing.T, p queueCrashPoint, messages int) {
	t.Helper()
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: p.fs})
		if err != nil {
			t.Fatalf("op %d: open after crash: %v", p.op, err)
		}
		q, err := db.Queue("t", "g", QueueOptions{AckWait: time.Hour})
		if err != nil {
			t.Fatalf("op %d: queue: %v", p.op, err)
		}
		got := map[int64]bool{}
		for {
			m, err := nextWithin(q, 10*time.Millisecond)
			if err != nil {
				break
			}
			if got[m.Offset] {
				t.Fatalf("op %d: offset %d delivered twice", p.op, m.Offset)
			}
			got[m.Offset] = true
		}
		for off := range int64(messages) {
			switch {
			case p.acked[off] && got[off]:
				t.Fatalf("op %d round %d: acked offset %d delivered again", p.op, round, off)
			case !p.acked[off] && !p.inFlight[off] && !got[off]:
				t.Fatalf("op %d round %d: unacked offset %d not delivered", p.op, round, off)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueueCrashDuringAcks is TESTING.md item 1 for the ack state: a crash before every write operation
// while acks (out of order, concurrent) are saved.
func TestQueueCrashDuringAcks(t *testing.T) {
	messages := 40
	if testing.Short() {
		messages = 16
	}
	if torture() {
		messages = 400
	}
	for _, c := range []struct{ ackers, unsynced int }{{1, 0}, {1, 50}, {4, 0}, {4, 50}} {
		t.Run(fmt.Sprintf("ackers=%d/unsynced=%d", c.ackers, c.unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(c.ackers*100+c.unsynced)))
			points := queueCrashWorkload(t, messages, c.ackers, c.unsynced, rng)
			t.Logf("%d crash points", len(points))
			if len(points) == 0 {
				t.Fatal("no crash point: the acks wrote nothing")
			}
			for _, p := range points {
				checkQueueRecovered(t, p, messages)
			}
		})
	}
}

// TestQueueCrashDuringDeadLetter: with MaxDeliver 1, every message is nak'd once and dead-lettered by the
// next Next. A crash before any write operation must never leave a message acked without its dead letter
// (at least once); a message whose dead-lettering had finished is in the dead-letter topic and not
// delivered again; every other message is delivered again or dead-lettered.
func TestQueueCrashDuringDeadLetter(t *testing.T) {
	messages := 12
	if testing.Short() {
		messages = 6
	}
	opts := QueueOptions{AckWait: time.Hour, MaxDeliver: 1, DeadLetterTopic: "dlq"}
	mem := vfs.NewCrashableMem()
	type point struct {
		fs   *vfs.MemFS
		done map[int64]bool // dead-lettering finished: Next returned after it
	}
	var mu sync.Mutex
	var points []point
	done := map[int64]bool{}
	recording := false
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if recording {
			points = append(points, point{fs: mem.CrashClone(vfs.CrashCloneCfg{}), done: cloneSet(done)})
		}
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, messages)
	q, err := db.Queue("t", "g", opts)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	recording = true
	mu.Unlock()
	for i := range messages {
		m, err := nextWithin(q, time.Second)
		if err != nil || m.Offset != int64(i) {
			t.Fatalf("Next %d: %+v, %v", i, m, err)
		}
		if i > 0 {
			mu.Lock()
			done[int64(i-1)] = true
			mu.Unlock()
		}
		if err := m.Nak(0); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := nextWithin(q, 20*time.Millisecond); err == nil {
		t.Fatalf("unexpected delivery %d", m.Offset)
	}
	mu.Lock()
	done[int64(messages-1)] = true
	recording = false
	mu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d crash points", len(points))
	for i, p := range points {
		db, err := Open(crashDir, &Options{FS: p.fs})
		if err != nil {
			t.Fatalf("point %d: open: %v", i, err)
		}
		dead := map[int64]bool{}
		if _, err := db.TopicConfig("dlq"); err == nil {
			for rec, err := range db.Read("dlq", 0, 0) {
				if err != nil {
					t.Fatalf("point %d: read dlq: %v", i, err)
				}
				for _, h := range rec.Headers {
					if h.Key == DeadLetterHeaderOffset {
						off, _ := strconv.ParseInt(string(h.Value), 10, 64)
						dead[off] = true
					}
				}
			}
		}
		q, err := db.Queue("t", "g", QueueOptions{AckWait: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		again := map[int64]bool{}
		for {
			m, err := nextWithin(q, 10*time.Millisecond)
			if err != nil {
				break
			}
			again[m.Offset] = true
		}
		for off := range int64(messages) {
			if !again[off] && !dead[off] {
				t.Fatalf("point %d: offset %d neither dead-lettered nor delivered again", i, off)
			}
			if p.done[off] && (again[off] || !dead[off]) {
				t.Fatalf("point %d: offset %d was dead-lettered and acked, yet delivered again %v / in dlq %v", i, off, again[off], dead[off])
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
