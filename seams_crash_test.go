package mqlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// seamsCrashPoint is a crash image of the seams workload, with what had returned at that instant.
type seamsCrashPoint struct {
	op int
	fs *vfs.MemFS
	// deliveries maps each queue offset to the Deliveries of the last Next that returned it; acked holds
	// the offsets whose Ack returned, ackInFlight the one whose Ack was called and had not returned.
	deliveries  map[int64]int
	acked       map[int64]bool
	ackInFlight int64
	nextPending bool // a Next was in flight: one more delivery may have been recorded
	// committed is the group position whose Commit had returned; the workload never commits lower.
	committed int64
	// xDeleted: DeleteTopic("x") had returned; xNew: Appends to the new x that had returned.
	xDeleted bool
	xNew     int
}

const seamsMaxDeliver = 3

// seamsCrashWorkload drives the durable state the seams added through a crash image before every write
// operation: work-queue deliveries (recorded before Next returns), naks and acks up to MaxDeliver and
// its dead letters, fenced group commits across a rebalance, and a topic deleted and created again (a new
// incarnation).
func seamsCrashWorkload(t *testing.T, unsynced int, rng *rand.Rand) []seamsCrashPoint {
	mem := vfs.NewCrashableMem()
	var mu sync.Mutex
	var points []seamsCrashPoint
	cur := seamsCrashPoint{deliveries: map[int64]int{}, acked: map[int64]bool{}, ackInFlight: -1}
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
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced}
		if unsynced > 0 {
			cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
		}
		p := cur
		p.op, p.fs = len(points), mem.CrashClone(cfg)
		p.deliveries, p.acked = cloneInts(cur.deliveries), cloneSet(cur.acked)
		points = append(points, p)
		return nil
	}))
	update := func(f func(*seamsCrashPoint)) {
		mu.Lock()
		defer mu.Unlock()
		f(&cur)
	}
	db, err := Open(crashDir, &Options{FS: fs, RetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendValues(t, db, 0, 8) // topic "t"
	for i := range 4 {
		if _, err := db.Append(ctx, "x", Message{Value: fmt.Appendf(nil, "old-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CommitGroupOffset("gx", "x", 0, 3); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	recording = true
	mu.Unlock()

	// The work queue: every message is nak'd until its third delivery, then acked, except offset 5,
	// which is nak'd every time and so reaches the dead-letter topic.
	q, err := db.Queue("t", "w", QueueOptions{AckWait: time.Hour, MaxDeliver: seamsMaxDeliver, DeadLetterTopic: "dlq"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		update(func(p *seamsCrashPoint) { p.nextPending = true })
		m, err := nextWithin(q, 50*time.Millisecond)
		update(func(p *seamsCrashPoint) { p.nextPending = false })
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		update(func(p *seamsCrashPoint) { p.deliveries[m.Offset] = m.Deliveries })
		if m.Deliveries < seamsMaxDeliver || m.Offset == 5 {
			if err := m.Nak(0); err != nil {
				t.Fatal(err)
			}
			continue
		}
		update(func(p *seamsCrashPoint) { p.ackInFlight = m.Offset })
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		update(func(p *seamsCrashPoint) { p.acked[m.Offset], p.ackInFlight = true, -1 })
	}
	q.Close()

	// Group commits across a rebalance: a's commit of a partition it lost is fenced, b's goes through.
	a, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for rec.Offset < 3 {
		if rec, err = a.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(rec); err != nil {
		t.Fatal(err)
	}
	update(func(p *seamsCrashPoint) { p.committed = 4 })
	b, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	a.Close() // the partition goes to b
	for rec.Offset < 6 {
		if rec, err = b.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(rec); err != nil {
		t.Fatal(err)
	}
	update(func(p *seamsCrashPoint) { p.committed = 7 })
	if err := a.CommitOffset(0, 1); err == nil {
		t.Fatal("a closed member's commit went through")
	}
	b.Close()

	// A topic deleted and created again: a new incarnation.
	if err := db.DeleteTopic("x"); err != nil {
		t.Fatal(err)
	}
	update(func(p *seamsCrashPoint) { p.xDeleted = true })
	for i := range 3 {
		if _, err := db.Append(ctx, "x", Message{Value: fmt.Appendf(nil, "new-%d", i)}); err != nil {
			t.Fatal(err)
		}
		update(func(p *seamsCrashPoint) { p.xNew = i + 1 })
	}
	mu.Lock()
	recording = false
	mu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return points
}

func cloneInts(m map[int64]int) map[int64]int {
	c := make(map[int64]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// checkSeamsRecovered opens a crash image and checks the seams' promises: a delivery that Next returned
// counts after the crash (the next delivery of a message not acked has a higher count, and a message that
// had reached MaxDeliver goes to the dead-letter topic instead); an acked message is not delivered again;
// the group's position is at least what a returned Commit set; the topic deleted and created again holds
// either its old messages or only new ones, and the old incarnation's group position never applies to
// the new one.
func checkSeamsRecovered(t *testing.T, p seamsCrashPoint) {
	t.Helper()
	db, err := Open(crashDir, &Options{FS: p.fs, RetentionCheckInterval: -1})
	if err != nil {
		t.Fatalf("op %d: open after crash: %v", p.op, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	q, err := db.Queue("t", "w", QueueOptions{AckWait: time.Hour, MaxDeliver: seamsMaxDeliver, DeadLetterTopic: "dlq"})
	if err != nil {
		t.Fatalf("op %d: %v", p.op, err)
	}
	redelivered := map[int64]int{}
	for {
		m, err := nextWithin(q, 20*time.Millisecond)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("op %d: %v", p.op, err)
		}
		if _, again := redelivered[m.Offset]; !again {
			redelivered[m.Offset] = m.Deliveries
		}
		if err := m.Nak(0); err != nil { // nak'd until MaxDeliver sends it to the dead-letter topic
			t.Fatal(err)
		}
	}
	q.Close()
	dead := map[int64]bool{}
	if _, err := db.TopicConfig("dlq"); err == nil {
		for _, r := range readAll(t, db, "dlq", 0) {
			var off int64
			fmt.Sscan(headerValue(r, DeadLetterHeaderOffset), &off)
			dead[off] = true
		}
	}
	for off, d := range p.deliveries {
		got, again := redelivered[off]
		switch {
		case p.acked[off] && again:
			t.Fatalf("op %d: acked offset %d delivered again", p.op, off)
		case p.acked[off] || off == p.ackInFlight:
		case again && got <= d:
			t.Fatalf("op %d: offset %d delivered %d times before the crash, delivered after it as delivery %d", p.op, off, d, got)
		case !again && !dead[off]:
			t.Fatalf("op %d: offset %d (delivered %d times, not acked) neither delivered again nor dead-lettered", p.op, off, d)
		case d >= seamsMaxDeliver && again && !p.nextPending:
			t.Fatalf("op %d: offset %d had reached MaxDeliver but was delivered again (delivery %d)", p.op, off, got)
		}
	}

	offs, err := db.GroupOffsets("g")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, o := range offs {
		if o.Topic == "t" {
			committed = o.Committed
		}
	}
	if committed < p.committed {
		t.Fatalf("op %d: group at %d after the crash, a commit of %d had returned", p.op, committed, p.committed)
	}

	if _, err := db.TopicConfig("x"); err == nil {
		var values []string
		for _, r := range readAll(t, db, "x", 0) {
			values = append(values, string(r.Value))
		}
		old := len(values) > 0 && strings.HasPrefix(values[0], "old-")
		switch {
		case old && (p.xDeleted || len(values) != 4):
			t.Fatalf("op %d: topic x holds %q (deleted: %v)", p.op, values, p.xDeleted)
		case !old && len(values) < p.xNew:
			t.Fatalf("op %d: the new x holds %q, %d appends had returned", p.op, values, p.xNew)
		case !old:
			for _, v := range values {
				if !strings.HasPrefix(v, "new-") {
					t.Fatalf("op %d: the new x holds %q: old and new mixed", p.op, values)
				}
			}
			c, err := db.Consumer("x", "gx")
			if err != nil {
				t.Fatal(err)
			}
			if len(values) > 0 {
				if rec, err := c.Next(ctx); err != nil || rec.Offset != 0 {
					t.Fatalf("op %d: the old x's group position applied to the new x: first read %+v, %v", p.op, rec, err)
				}
			}
			c.Close()
		}
	} else if !p.xDeleted && !errors.Is(err, ErrTopicNotFound) {
		t.Fatal(err)
	}
}

// TestCrashSeams is TESTING.md item 1 over the durable state of the seams: delivery counts, fenced
// commits and topic incarnations, p=0 and p=50.
func TestCrashSeams(t *testing.T) {
	for _, unsynced := range []int{0, 50} {
		t.Run(fmt.Sprintf("unsynced=%d", unsynced), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)))
			points := seamsCrashWorkload(t, unsynced, rng)
			t.Logf("%d crash points", len(points))
			if len(points) == 0 {
				t.Fatal("no crash point")
			}
			step := 1
			if testing.Short() && !torture() {
				step = max(1, len(points)/60) // sampled: about 60 images
			}
			for i := 0; i < len(points); i += step {
				checkSeamsRecovered(t, points[i])
			}
		})
	}
}
