package mqlog

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestQueueBackOff: with BackOff, a Nak(0) makes the message due again after the delay of its delivery
// count, the last delay repeating; an AckWait that passes adds the delay after the lease's end; a Nak
// with a delay keeps its own; closing a consumer releases at once.
func TestQueueBackOff(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	clock := newTestClock()
	clock.use(db)
	mustAppend(t, db, "t", Message{Value: []byte("x")})
	opts := QueueOptions{AckWait: time.Minute, BackOff: []time.Duration{time.Second, 5 * time.Second}}
	q := openQueue(t, db, "t", "g", opts)
	dueAfter := func(d time.Duration, deliveries int) *QueueMessage {
		t.Helper()
		clock.advance(db, d-time.Millisecond)
		expectNothing(t, q)
		clock.advance(db, time.Millisecond)
		m := mustNext(t, q)
		if m.Deliveries != deliveries {
			t.Fatalf("delivery %d counted %d", deliveries, m.Deliveries)
		}
		return m
	}
	m := mustNext(t, q)
	if err := m.Nak(0); err != nil {
		t.Fatal(err)
	}
	m = dueAfter(time.Second, 2)
	if err := m.Nak(0); err != nil {
		t.Fatal(err)
	}
	m = dueAfter(5*time.Second, 3)
	if err := m.Nak(0); err != nil {
		t.Fatal(err)
	}
	m = dueAfter(5*time.Second, 4) // the last delay repeats
	// The lease ends after AckWait; the back-off of the fourth delivery follows.
	clock.advance(db, time.Minute)
	m = dueAfter(5*time.Second, 5)
	if err := m.Nak(2 * time.Second); err != nil { // an explicit delay is kept
		t.Fatal(err)
	}
	m = dueAfter(2*time.Second, 6)
	_ = m
	q.Close() // releases at once, no back-off
	q = openQueue(t, db, "t", "g", opts)
	defer q.Close()
	if m := mustNext(t, q); m.Deliveries != 7 {
		t.Fatalf("after close: %d deliveries", m.Deliveries)
	}
}

// TestQueueBackOffOptions: a negative delay is refused, and handles of one group must agree on BackOff.
func TestQueueBackOffOptions(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	mustAppend(t, db, "t", Message{Value: []byte("x")})
	if _, err := db.Queue("t", "g", QueueOptions{BackOff: []time.Duration{-time.Second}}); !errors.Is(err, ErrQueueOptions) {
		t.Fatalf("negative back-off: %v", err)
	}
	backoff := []time.Duration{time.Second}
	q := openQueue(t, db, "t", "g", QueueOptions{BackOff: backoff})
	defer q.Close()
	backoff[0] = time.Hour // the caller's slice is not the group's
	if _, err := db.Queue("t", "g", QueueOptions{BackOff: []time.Duration{time.Hour}}); !errors.Is(err, ErrQueueOptions) {
		t.Fatalf("another back-off for an open group: %v", err)
	}
	q2, err := db.Queue("t", "g", QueueOptions{BackOff: []time.Duration{time.Second}})
	if err != nil {
		t.Fatalf("the same back-off: %v", err)
	}
	q2.Close()
}
