package mqlog

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func mustAppend(t *testing.T, db *DB, topic string, msgs ...Message) []Position {
	t.Helper()
	pos, err := db.Append(context.Background(), topic, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func mustNext(t *testing.T, q *Queue) *QueueMessage {
	t.Helper()
	m, err := nextWithin(q, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func expectNothing(t *testing.T, q *Queue) {
	t.Helper()
	if m, err := nextWithin(q, 20*time.Millisecond); err == nil {
		t.Fatalf("unexpected delivery of offset %d (%s)", m.Offset, m.Value)
	}
}

func queueState(t *testing.T, db *DB, group string) QueuePartitionState {
	t.Helper()
	states, err := db.QueueGroupState(group)
	if err != nil || len(states) != 1 {
		t.Fatalf("QueueGroupState = %+v, %v", states, err)
	}
	return states[0]
}

// TestQueueDeliverAt: a message appended with a DeliverAt in the future is not delivered before it (the
// others go on), is delivered once it has come, counts as scheduled meanwhile, and keeps its schedule and
// its delivery count across a restart. A consumer group reads every message in offset order, delays or
// not. A DeliverAt in the past is no delay.
func TestQueueDeliverAt(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	clock := newTestClock()
	clock.use(db)
	start := clock.now()
	mustAppend(t, db, "t",
		Message{Value: []byte("now")},
		Message{Value: []byte("in an hour"), DeliverAt: start.Add(time.Hour)},
		Message{Value: []byte("in ten minutes"), DeliverAt: start.Add(10 * time.Minute)},
		Message{Value: []byte("past"), DeliverAt: start.Add(-time.Hour)},
	)
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour})
	for _, want := range []string{"now", "past"} {
		if m := mustNext(t, q); string(m.Value) != want {
			t.Fatalf("got %q, want %q", m.Value, want)
		} else if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, q)
	if st := queueState(t, db, "g"); st.Scheduled != 2 || st.Unacked != 0 {
		t.Fatalf("state with two scheduled: %+v", st)
	}
	// A consumer group ignores delivery times.
	c, err := db.Consumer("t", "fanout")
	if err != nil {
		t.Fatal(err)
	}
	for off := range int64(4) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rec, err := c.Next(ctx)
		cancel()
		if err != nil || rec.Offset != off {
			t.Fatalf("consumer group read %+v, %v; want offset %d", rec, err, off)
		}
	}
	c.Close()

	clock.advance(db, 10*time.Minute-time.Millisecond)
	expectNothing(t, q)
	clock.advance(db, time.Millisecond)
	m := mustNext(t, q)
	if string(m.Value) != "in ten minutes" || m.Deliveries != 1 {
		t.Fatalf("got %q (%d deliveries), want the ten-minute one", m.Value, m.Deliveries)
	}
	// Its delivery counts across a restart, and the other one keeps waiting.
	q.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	clock.use(db)
	q = openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	m = mustNext(t, q)
	if string(m.Value) != "in ten minutes" || m.Deliveries != 2 {
		t.Fatalf("after restart got %q (%d deliveries), want the ten-minute one, second delivery", m.Value, m.Deliveries)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, q)
	if st := queueState(t, db, "g"); st.Scheduled != 1 {
		t.Fatalf("state after the ack: %+v", st)
	}
	clock.advance(db, 50*time.Minute)
	if m := mustNext(t, q); string(m.Value) != "in an hour" {
		t.Fatalf("got %q, want the hour one", m.Value)
	} else if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if st := queueState(t, db, "g"); st.Scheduled != 0 || st.Unacked != 0 || st.Floor != 4 {
		t.Fatalf("state when all is done: %+v", st)
	}
}

// TestQueueDeliverAtWakes: a blocked Next wakes when a delivery time comes, on the real clock, without
// being poked, and never returns the message before its time.
func TestQueueDeliverAtWakes(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "g", QueueOptions{})
	defer q.Close()
	at := time.Now().Add(80 * time.Millisecond)
	mustAppend(t, db, "t", Message{Value: []byte("later"), DeliverAt: at})
	m := mustNext(t, q)
	if now := time.Now(); now.Before(at.Truncate(time.Millisecond)) {
		t.Fatalf("delivered at %v, before its time %v", now, at)
	}
	if string(m.Value) != "later" {
		t.Fatalf("got %q", m.Value)
	}
	if ms := headerValue(m.Record, HeaderDeliverAt); ms != strconv.FormatInt(at.UnixMilli(), 10) {
		t.Fatalf("header %s = %q", HeaderDeliverAt, ms)
	}
}

// TestQueueDeliverAtManyInDueOrder: more scheduled messages than the timer window holds, with random
// delivery times and appended in random order, come out in the order of their times (ties by offset),
// each once, across window loads and evictions; appends of earlier times while the window is full go in
// front.
func TestQueueDeliverAtManyInDueOrder(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 5000 // still above the window's 4096
	}
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	clock := newTestClock()
	clock.use(db)
	start := clock.now().Truncate(time.Millisecond)
	rng := rand.New(rand.NewPCG(testSeed(t), 16))
	type sched struct {
		due time.Time
		off int64
	}
	var want []sched
	batch := make([]Message, 0, 100)
	flush := func() {
		pos := mustAppend(t, db, "t", batch...)
		for i, m := range batch {
			want = append(want, sched{m.DeliverAt, pos[i].Offset})
		}
		batch = batch[:0]
	}
	for i := range n {
		due := start.Add(time.Duration(1+rng.IntN(1000)) * time.Second)
		batch = append(batch, Message{Value: []byte(strconv.Itoa(i)), DeliverAt: due})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour, MaxAckPending: 10})
	defer q.Close()
	expectNothing(t, q) // schedules every one
	if st := queueState(t, db, "g"); st.Scheduled != int64(n) || st.Floor != int64(n) {
		t.Fatalf("after the first read: %+v, want %d scheduled and the floor past them", st, n)
	}
	// One more, earlier than everything, goes first.
	pos := mustAppend(t, db, "t", Message{Value: []byte("first"), DeliverAt: start.Add(500 * time.Millisecond)})
	expectNothing(t, q)
	want = append([]sched{{start.Add(500 * time.Millisecond), pos[0].Offset}}, want...)
	sortScheds := func(s []sched) {
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && (s[j].due.Before(s[j-1].due) || s[j].due.Equal(s[j-1].due) && s[j].off < s[j-1].off); j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
	}
	sortScheds(want)
	clock.advance(db, 2000*time.Second)
	for i, w := range want {
		m := mustNext(t, q)
		if m.Offset != w.off {
			t.Fatalf("delivery %d: offset %d, want %d (due %v)", i, m.Offset, w.off, w.due)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, q)
	if st := queueState(t, db, "g"); st.Scheduled != 0 {
		t.Fatalf("at the end: %+v", st)
	}
}

// TestQueueDeliverAtWithMaxDeliver: a scheduled message that keeps failing reaches the dead-letter topic
// after MaxDeliver deliveries, and its timer goes.
func TestQueueDeliverAtWithMaxDeliver(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	clock := newTestClock()
	clock.use(db)
	mustAppend(t, db, "t", Message{Value: []byte("poison"), DeliverAt: clock.now().Add(time.Minute)})
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour, MaxDeliver: 2, DeadLetterTopic: "dlq"})
	defer q.Close()
	expectNothing(t, q)
	clock.advance(db, time.Minute)
	for d := 1; d <= 2; d++ {
		m := mustNext(t, q)
		if m.Deliveries != d {
			t.Fatalf("delivery %d counted %d", d, m.Deliveries)
		}
		if err := m.Nak(0); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, q) // dead-letters it
	var dead []Record
	for rec, err := range db.Read("dlq", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, rec)
	}
	if len(dead) != 1 || string(dead[0].Value) != "poison" {
		t.Fatalf("dead letters %+v", dead)
	}
	if st := queueState(t, db, "g"); st.Scheduled != 0 || st.Unacked != 0 {
		t.Fatalf("after dead-lettering: %+v", st)
	}
}

// TestQueueDeliverAtAgainstRetention: interest retention keeps the segment of a scheduled message, which
// the ack floor has passed; limits retention that deletes it makes the group skip it when it falls due.
func TestQueueDeliverAtAgainstRetention(t *testing.T) {
	db := openCleanerTestDB(t, vfs.NewMem(), Options{})
	defer db.Close()
	clock := newTestClock()
	clock.use(db)
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 256, RetentionPolicy: RetentionInterest}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "t", Message{Value: []byte("scheduled"), DeliverAt: clock.now().Add(time.Minute)})
	for i := range 40 {
		mustAppend(t, db, "t", Message{Value: crashValue(i)})
	}
	q := openQueue(t, db, "t", "g", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	for range 40 {
		if err := mustNext(t, q).Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if st := queueState(t, db, "g"); st.Floor != 41 || st.Scheduled != 1 {
		t.Fatalf("state: %+v", st)
	}
	floors, err := db.workQueueFloors("t")
	if err != nil || floors[0] != 0 {
		t.Fatalf("floors %v, %v: the scheduled offset 0 must hold retention back", floors, err)
	}
	ctx := context.Background()
	if _, err := db.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	if start, _ := db.partitionStart("t"); start != 0 {
		t.Fatalf("interest retention deleted the scheduled message: start %d", start)
	}
	// Limits retention wins, as it does over unacked messages: the message is skipped when due.
	if _, err := db.AlterTopic("t", TopicAlteration{RetentionPolicy: ptr(RetentionLimits), RetentionBytes: ptr(int64(300))}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	if start, _ := db.partitionStart("t"); start == 0 {
		t.Fatal("limits retention deleted nothing")
	}
	skipped := db.Metrics().QueueSkippedByRetention
	clock.advance(db, time.Minute)
	expectNothing(t, q)
	if st := queueState(t, db, "g"); st.Scheduled != 0 {
		t.Fatalf("the deleted scheduled message is still counted: %+v", st)
	}
	if got := db.Metrics().QueueSkippedByRetention - skipped; got != 1 {
		t.Fatalf("skipped by retention: %d, want 1", got)
	}
}

func ptr[T any](v T) *T { return &v }

// partitionStart returns partition 0's start offset.
func (db *DB) partitionStart(topic string) (int64, error) {
	infos, err := db.Partitions(topic)
	if err != nil {
		return 0, err
	}
	return infos[0].StartOffset, nil
}

// TestAppendRejectsContradictoryDelivery: a field given with its header, or a delivery time that is not a
// number, is ErrInvalidMessage, and nothing is appended.
func TestAppendRejectsContradictoryDelivery(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	for i, m := range []Message{
		{ID: "a", Headers: []Header{{Key: HeaderMessageID, Value: []byte("b")}}},
		{DeliverAt: time.Now(), Headers: []Header{{Key: HeaderDeliverAt, Value: []byte("1")}}},
		{Headers: []Header{{Key: HeaderDeliverAt, Value: []byte("soon")}}},
	} {
		if _, err := db.Append(context.Background(), "t", Message{Value: []byte("ok")}, m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("case %d: %v, want ErrInvalidMessage", i, err)
		}
	}
	if infos, err := db.Partitions("t"); err == nil && infos[0].HighWatermark != 0 {
		t.Fatalf("a refused call appended: %+v", infos)
	}
	// The caller's messages are left as they were.
	msgs := []Message{{Value: []byte("x"), ID: "id", Headers: []Header{{Key: "h"}}}}
	mustAppend(t, db, "t", msgs...)
	if msgs[0].ID != "id" || len(msgs[0].Headers) != 1 {
		t.Fatalf("Append changed the caller's message: %+v", msgs[0])
	}
}
