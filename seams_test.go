package mqlog

// Tests of the seams between consumer concerns: each pairs two rooms that share state (the work queue and
// retention or compaction, commits and rebalances or topic deletion, delivery counts and restarts) and
// fails on the code before the rooms made the join explicit.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestQueueBehindRetentionMovesOn: size retention deletes the segments a lagging work-queue group has
// not finished. The group's floor jumps to the new log start and the skipped messages are counted; Next
// goes on from there instead of returning ErrOutOfRange for ever.
func TestQueueBehindRetentionMovesOn(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1, RetentionBytes: 1}); err != nil { // a batch per segment
		t.Fatal(err)
	}
	appendN(t, db, "t", 5)
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	m, err := nextWithin(q, time.Second)
	if err != nil || m.Offset != 0 {
		t.Fatalf("first delivery %+v, %v", m, err)
	}
	appendN(t, db, "t", 5) // offsets 5-9
	if _, err := db.Compact(context.Background(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	parts, _ := db.Partitions("t")
	start := parts[0].StartOffset
	if start == 0 {
		t.Fatal("retention deleted nothing")
	}
	for want := start; want < 10; want++ {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatalf("Next after retention moved the start to %d: %v", start, err)
		}
		if m.Offset != want {
			t.Fatalf("delivered offset %d, want %d", m.Offset, want)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	// Offsets 1 to start-1 were never delivered; 0 was, and is gone too: all skipped.
	if got := db.Metrics().QueueSkippedByRetention; got != start {
		t.Errorf("QueueSkippedByRetention = %d, want %d", got, start)
	}
	// The lease of the deleted message 0 ended; its Ack still succeeds (it is below the floor).
	if err := m.Ack(); err != nil {
		t.Errorf("ack of a message retention deleted: %v", err)
	}
	states, err := db.QueueGroupState("w")
	if err != nil || states[0].Floor != 10 || states[0].Unacked != 0 {
		t.Fatalf("state %+v, %v", states, err)
	}
}

// TestQueueCompactionGapsCountAsDone: offsets compaction removed are never delivered, so never acked; they
// count as done, so the floor reaches the high watermark once everything delivered is acked, the stored
// ranges stay small, and interest retention goes on.
func TestQueueCompactionGapsCountAsDone(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 256, CleanupPolicy: CleanupCompact, RetentionPolicy: RetentionInterest}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		if _, err := db.Append(ctx, "t", Message{Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	delivered := 0
	for {
		m, err := nextWithin(q, 200*time.Millisecond)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		delivered++
	}
	q.Close()
	if delivered >= 200 {
		t.Fatalf("compaction removed nothing: %d delivered", delivered)
	}
	states, err := db.QueueGroupState("w")
	if err != nil {
		t.Fatal(err)
	}
	if s := states[0]; s.Floor != 200 || s.AckRanges != 0 || s.Unacked != 0 {
		t.Fatalf("after acking all %d delivered: %+v (want the floor at the high watermark 200)", delivered, s)
	}
	// Interest retention: the group has consumed everything, so every closed segment may go.
	reps, err := db.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Deleted.Segments == 0 {
		t.Errorf("interest retention deleted nothing after the group finished: %+v", reps[0])
	}
}

// TestFencedCommitByMemberThatLostThePartition: the sharp form of the sequence above, with two members
// on a two-partition topic. a owns both partitions and reads from partition 1; b joins and takes
// partition 1; b reads and commits further; a's commit of its old record of partition 1 is fenced, and
// the group's position stays where b put it.
func TestFencedCommitByMemberThatLostThePartition(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := db.AppendPartition(ctx, "t", 1, Message{Value: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	old, err := a.Next(ctx) // partition 1, offset 0: a owns both partitions
	if err != nil || old.Partition != 1 || old.Offset != 0 {
		t.Fatalf("a read %+v, %v", old, err)
	}
	b, err := db.Consumer("t", "g") // partition 1 goes to b
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Assigned(); !slices.Equal(got, []int32{1}) {
		t.Fatalf("b assigned %v, want [1]", got)
	}
	var rec Record
	for range 8 {
		if rec, err = b.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(rec); err != nil { // the group is at 8 in partition 1
		t.Fatal(err)
	}
	err = a.Commit(old) // would move it back to 1
	var fe *FencedError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFenced) || fe.Reason != FenceNotOwner || fe.Partition != 1 {
		t.Fatalf("commit of a partition the member lost = %v, want a FencedError (not owner)", err)
	}
	offs, _ := db.GroupOffsets("g")
	if len(offs) != 1 || offs[0].Partition != 1 || offs[0].Committed != 8 {
		t.Fatalf("group offsets %+v, want partition 1 at 8", offs)
	}
	// Partition 1 coming back to a (b leaves) does not make a's old read committable: a has not owned it
	// since the assignment it read under.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(old); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit of an old read after the partition came back: %v", err)
	}
	// Once a has read under the new assignment, its commits go through.
	rec, err = a.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Partition != 1 || rec.Offset != 8 {
		t.Fatalf("a resumed at %+v, want partition 1 offset 8", rec)
	}
	if err := a.Commit(rec); err != nil {
		t.Fatal(err)
	}
}

// TestStaleHandlesOfDeletedTopic: a consumer and a queue of a deleted topic cannot commit or ack into
// a new topic of the same name, which starts at its first message for every group.
func TestStaleHandlesOfDeletedTopic(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	appendN(t, db, "t", 10)
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	var last Record
	for range 6 {
		if last, err = c.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var leased []*QueueMessage
	for range 6 {
		m, err := q.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		leased = append(leased, m)
	}
	if err := db.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 10) // a new topic of the same name
	if err := c.Commit(last); err == nil {
		t.Errorf("commit of a deleted topic's record into the new topic was accepted")
	}
	for _, m := range leased {
		if err := m.Ack(); err == nil {
			t.Errorf("ack of a deleted topic's message %d was accepted", m.Offset)
			break
		}
	}
	if _, err := c.Next(ctx); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("Next of a deleted topic's consumer: %v, want ErrTopicNotFound", err)
	}
	c2, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if rec, err := c2.Next(ctx); err != nil || rec.Offset != 0 {
		t.Errorf("a member of the new topic starts at %+v, %v; want offset 0", rec, err)
	}
	q2 := openQueue(t, db, "t", "w2", QueueOptions{})
	defer q2.Close()
	q3 := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	defer q3.Close()
	if m, err := q3.Next(ctx); err != nil || m.Offset != 0 || m.Deliveries != 1 {
		t.Errorf("the old queue group on the new topic delivers %+v, %v; want offset 0, first delivery", m, err)
	}
}

// TestDeliveryCountsSurviveRestart: a message delivered to a worker that dies each time (the DB is
// reopened without an ack) counts every delivery, so with MaxDeliver 3 it reaches the dead-letter topic
// instead of being redelivered for ever with Deliveries 1.
func TestDeliveryCountsSurviveRestart(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	appendN(t, db, "t", 2)
	opts := QueueOptions{AckWait: time.Hour, MaxDeliver: 3, DeadLetterTopic: "dlq"}
	for want := 1; want <= 3; want++ {
		q := openQueue(t, db, "t", "w", opts)
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Offset != 0 || m.Deliveries != want {
			t.Fatalf("restart %d: delivered offset %d with Deliveries %d, want offset 0 delivery %d", want, m.Offset, m.Deliveries, want)
		}
		// The worker dies: no ack, the process goes away.
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = openMemDB(t, fs)
	}
	defer db.Close()
	q := openQueue(t, db, "t", "w", opts)
	defer q.Close()
	m, err := nextWithin(q, time.Second)
	if err != nil || m.Offset != 1 || m.Deliveries != 1 {
		t.Fatalf("after MaxDeliver, next delivery %+v, %v; want offset 1, first delivery", m, err)
	}
	dead := readAll(t, db, "dlq", 0)
	if len(dead) != 1 || string(dead[0].Value) != "m0" {
		t.Fatalf("dead letters %+v, want m0", dead)
	}
	if got := headerValue(dead[0], DeadLetterHeaderDeliveries); got != "3" {
		t.Errorf("dead letter's delivery count %q, want 3", got)
	}
}

func headerValue(r Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestDeadLetterFailureDoesNotWedge: when the dead-letter topic cannot be written, the message that
// reached MaxDeliver waits and is tried again later, while Next goes on delivering the others; before,
// the message stayed first in line and every Next returned the same error.
func TestDeadLetterFailureDoesNotWedge(t *testing.T) {
	mem := vfs.NewMem()
	var failDLQ atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failDLQ.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, "dlq-0") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	db := openMemDB(t, fs)
	defer db.Close()
	appendN(t, db, "dlq", 1) // exists before its writes fail
	appendN(t, db, "t", 5)
	failDLQ.Store(true)
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour, MaxDeliver: 1, DeadLetterTopic: "dlq"})
	defer q.Close()
	m, err := nextWithin(q, time.Second)
	if err != nil || m.Offset != 0 {
		t.Fatalf("first delivery %+v, %v", m, err)
	}
	if err := m.Nak(0); err != nil { // due again at once, with MaxDeliver reached: a dead letter
		t.Fatal(err)
	}
	for want := int64(1); want < 5; want++ {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatalf("Next while the dead-letter topic fails: %v", err)
		}
		if m.Offset != want {
			t.Fatalf("delivered %d, want %d", m.Offset, want)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if db.Metrics().QueueDeadLetterFailures == 0 {
		t.Error("the failed dead-letter append was not counted")
	}
	states, _ := db.QueueGroupState("w")
	if states[0].Floor != 0 || states[0].Unacked != 1 {
		t.Errorf("state %+v: message 0 must stay not done while its dead letter cannot be written", states[0])
	}
}

// TestPartialAppendSaysWhatIsDurable: an Append across partitions that fails in one of them returns an
// *AppendError whose positions give the durable messages (the others NoOffset), so that a retry of the
// failed ones duplicates nothing; before, it returned no positions at all.
func TestPartialAppendSaysWhatIsDurable(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if fail.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, "t-1") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	db := openMemDB(t, fs)
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for i := range 20 {
		msgs = append(msgs, Message{Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	fail.Store(true)
	pos, err := db.Append(context.Background(), "t", msgs...)
	var ae *AppendError
	if !errors.As(err, &ae) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Append = %v, want an *AppendError wrapping the injected error", err)
	}
	if len(pos) != len(msgs) || !slices.Equal(pos, ae.Positions) {
		t.Fatalf("positions %v, error's %v", pos, ae.Positions)
	}
	durable := 0
	for i, p := range pos {
		switch {
		case p.Partition == 1 && p.Offset != NoOffset:
			t.Errorf("message %d on the failed partition has offset %d", i, p.Offset)
		case p.Partition == 0 && p.Offset == NoOffset:
			t.Errorf("message %d on the good partition has no offset", i)
		case p.Partition == 0:
			durable++
		}
	}
	if n := len(readAll(t, db, "t", 0)); n != durable || durable == 0 || len(ae.Failed()) != len(msgs)-durable {
		t.Errorf("partition 0 holds %d, positions say %d durable, %d failed", n, durable, len(ae.Failed()))
	}
}

// TestResetGroupRacesNoJoin: ResetGroup's check for members and its commit are one step for the
// coordinator: a member that joins concurrently either sees the reset position, or the reset fails with
// ErrGroupActive. Before, a member could join between the check and the commit, start at the old
// position, and the reset's commit then landed under it.
func TestResetGroupRacesNoJoin(t *testing.T) {
	db, err := Open(t.TempDir(), nil) // a real disk: the commit's fsync keeps the window open
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	appendN(t, db, "t", 20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 200 {
		if err := db.CommitGroupOffset("g", "t", 0, 5); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var resetErr error
		var first Record
		var c *Consumer
		wg.Go(func() { _, resetErr = db.ResetGroup("g", "t", ResetToOffset(15)) })
		delay := time.Duration(round%20) * 25 * time.Microsecond // sweep the join across the reset's window
		wg.Go(func() {
			time.Sleep(delay)
			var err error
			if c, err = db.Consumer("t", "g"); err != nil {
				t.Error(err)
				return
			}
			if first, err = c.Next(ctx); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if t.Failed() {
			return
		}
		switch {
		case resetErr == nil && first.Offset != 15:
			t.Fatalf("round %d: the reset succeeded but a member that joined meanwhile started at %d", round, first.Offset)
		case resetErr != nil && !errors.Is(resetErr, ErrGroupActive):
			t.Fatal(resetErr)
		}
		c.Close()
	}
}

// TestQueueRedeliveryOrderAcrossPartitions: messages due again go out earliest due first, across
// partitions (before, the smallest offset of the first partition found went first).
func TestQueueRedeliveryOrderAcrossPartitions(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		for p := range int32(2) {
			if _, err := db.AppendPartition(ctx, "t", p, Message{Value: fmt.Appendf(nil, "p%d-%d", p, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := openQueue(t, db, "t", "w", QueueOptions{AckWait: time.Hour})
	defer q.Close()
	byName := map[string]*QueueMessage{}
	for range 6 {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		byName[string(m.Value)] = m
	}
	// Nak so that the due order is p1-2, p0-1, p1-0, p0-2: neither partition order nor offset order.
	order := []string{"p1-2", "p0-1", "p1-0", "p0-2"}
	base := 50 * time.Millisecond
	for i, name := range order {
		if err := byName[name].Nak(base + time.Duration(i)*20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(base + time.Duration(len(order))*20*time.Millisecond) // all four are due when Next looks
	for _, want := range order {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Value) != want {
			t.Fatalf("redelivered %s, want %s (earliest due first)", m.Value, want)
		}
	}
}
