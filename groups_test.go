package mqlog

import (
	"context"
	"errors"
	"github.com/mqlog/mqlog/wal"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
)

func TestResetGroup(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	base := time.UnixMilli(1_700_000_000_000)
	ctx := context.Background()
	for i := range 10 { // keyless: round-robin over the two partitions
		if _, err := db.Append(ctx, "t", Message{Value: []byte("x"), Timestamp: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ := db.Partitions("t")
	hw := []int64{parts[0].HighWatermark, parts[1].HighWatermark}
	if err := db.CommitGroupOffset("g", "t", 0, 2); err != nil {
		t.Fatal(err)
	}
	// A dry run changes nothing.
	plan, err := db.PlanGroupReset("g", "", ResetToLatest())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 2 || plan[0].Current != 2 || plan[0].Target != hw[0] || plan[1].Current != 0 || plan[1].Target != hw[1] {
		t.Fatalf("plan %+v, hw %v", plan, hw)
	}
	if offs, _ := db.GroupOffsets("g"); len(offs) != 1 || offs[0].Offset != 2 || offs[0].Lag != hw[0]-2 {
		t.Fatalf("after a plan: %+v", offs)
	}
	for _, c := range []struct {
		to   ResetTarget
		want func(p int) int64
	}{
		{ResetToLatest(), func(p int) int64 { return hw[p] }},
		{ResetToEarliest(), func(int) int64 { return 0 }},
		{ResetToOffset(3), func(p int) int64 { return min(3, hw[p]) }},
		{ResetToOffset(1 << 40), func(p int) int64 { return hw[p] }}, // clamped
		{ResetToTime(base.Add(1 << 40)), func(p int) int64 { return hw[p] }},
	} {
		if _, err := db.ResetGroup("g", "t", c.to); err != nil {
			t.Fatal(err)
		}
		offs, err := db.GroupOffsets("g")
		if err != nil || len(offs) != 2 {
			t.Fatalf("%v: %+v, %v", c.to, offs, err)
		}
		for p, o := range offs {
			if o.Offset != c.want(p) || o.Lag != hw[p]-o.Offset {
				t.Fatalf("reset to %v: partition %d at %d lag %d, want %d", c.to, p, o.Offset, o.Lag, c.want(p))
			}
		}
	}
	// To a time: partition by partition, the first record at or after it.
	at := base.Add(5 * time.Second)
	if _, err := db.ResetGroup("g", "t", ResetToTime(at)); err != nil {
		t.Fatal(err)
	}
	offs, _ := db.GroupOffsets("g")
	for _, o := range offs {
		want := int64(-1)
		for rec, err := range db.Read("t", o.Partition, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Timestamp.Before(at) {
				want = rec.Offset
				break
			}
		}
		if want < 0 {
			want = hw[o.Partition]
		}
		if o.Offset != want {
			t.Fatalf("reset to time: partition %d at %d, want %d", o.Partition, o.Offset, want)
		}
	}
	// Not while a member is active.
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ResetGroup("g", "t", ResetToEarliest()); !errors.Is(err, ErrGroupActive) {
		t.Fatalf("reset of an active group: %v", err)
	}
	c.Close()
	if _, err := db.ResetGroup("g", "nope", ResetToEarliest()); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("reset on a missing topic: %v", err)
	}
}

// deleteBelow applies retention by consumption to a partition whose batches each fill a segment, so that
// the log start becomes exactly start.
func deleteBelow(t *testing.T, db *DB, topic string, partition int32, start int64) {
	t.Helper()
	tp, err := db.catalog.Get(topic)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tp.Partition(partition)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteSegments(wal.Retention{ConsumedBefore: start}); err != nil {
		t.Fatal(err)
	}
	if got := l.StartOffset(); got != start {
		t.Fatalf("retention moved the log start to %d, want %d", got, start)
	}
}

// TestGroupClampedToLogStart: a committed offset below the log start reads, lags and resumes from the
// log start, and the stored offset stays as it was until the next commit. Likewise a work-queue floor.
func TestGroupClampedToLogStart(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1}); err != nil { // one batch per segment
		t.Fatal(err)
	}
	appendN(t, db, "t", 10)
	if err := db.CommitGroupOffset("g", "t", 0, 2); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "w", QueueOptions{})
	m, err := nextWithin(q, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	q.Close()
	deleteBelow(t, db, "t", 0, 6) // retention removes offsets 0 to 5; the positions stay as they were stored
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	if parts, _ := db.Partitions("t"); parts[0].StartOffset != 6 {
		t.Fatalf("start offset %d, want 6", parts[0].StartOffset)
	}
	offs, err := db.GroupOffsets("g")
	if err != nil || len(offs) != 1 || offs[0].Offset != 6 || offs[0].Committed != 2 || offs[0].Lag != 4 {
		t.Fatalf("GroupOffsets %+v, %v", offs, err)
	}
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rec, err := c.Next(ctx)
	if err != nil || rec.Offset != 6 {
		t.Fatalf("Next = %d, %v; want 6", rec.Offset, err)
	}
	if err := c.Commit(rec); err != nil {
		t.Fatal(err)
	}
	if offs, _ := db.GroupOffsets("g"); offs[0].Committed != 7 {
		t.Fatalf("after a commit: %+v", offs)
	}
	c.Close()
	q = openQueue(t, db, "t", "w", QueueOptions{})
	defer q.Close()
	if m, err := nextWithin(q, time.Second); err != nil || m.Offset != 6 {
		t.Fatalf("queue after retention: %+v, %v", m, err)
	}
	states, err := db.QueueGroupState("w")
	if err != nil || len(states) != 1 || states[0].Floor != 6 || states[0].Unacked != 4 {
		t.Fatalf("queue state %+v, %v", states, err)
	}
	// The delivery was recorded before Next returned, and that save carried the floor raised to the log
	// start.
	floors, err := db.workQueueFloors("t")
	if err != nil || floors[0] != 6 {
		t.Fatalf("durable floors %v, %v (want the raised floor 6)", floors, err)
	}
	if names, err := db.QueueGroups(); err != nil || len(names) != 1 || names[0] != "w" {
		t.Fatalf("QueueGroups %v, %v", names, err)
	}
}

// TestClampedToHighWatermarkAtOpen: consumer state past the readable end (what a crash under a relaxed
// sync policy can leave: the log loses unsynced messages, commits and acks are synced) is lowered durably
// at open, before appends give those offsets to new messages, which no group may then skip.
func TestClampedToHighWatermarkAtOpen(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	appendN(t, db, "t", 3)
	if err := db.CommitGroupOffset("g", "t", 0, 4); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("commit past the end: %v", err)
	}
	q := openQueue(t, db, "t", "w", QueueOptions{})
	q.Close()
	// Stored directly, as if the log had lost its end in a crash after these were synced.
	if err := db.store.CommitOffsets("g", []index.GroupOffset{{Topic: "t", Partition: 0, Offset: 9, Incarnation: db.incarnation("t")}}); err != nil {
		t.Fatal(err)
	}
	if err := db.store.SaveAckState(index.AckState{Group: "w", Topic: "t", Incarnation: db.incarnation("t"), Floor: 2, Acked: []index.AckRange{{Start: 4, End: 6}, {Start: 7, End: 8}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	offs, err := db.GroupOffsets("g")
	if err != nil || offs[0].Offset != 3 || offs[0].Committed != 3 || offs[0].Lag != 0 {
		t.Fatalf("GroupOffsets %+v, %v", offs, err)
	}
	states, err := db.store.AckStates("w")
	if err != nil || len(states) != 1 || states[0].Floor != 2 || len(states[0].Acked) != 0 {
		t.Fatalf("ack state %+v, %v", states, err)
	}
	appendN(t, db, "t", 6) // offsets 3 to 8: new messages
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if rec, err := c.Next(ctx); err != nil || rec.Offset != 3 {
		t.Fatalf("Next = %d, %v; want 3", rec.Offset, err)
	}
	q = openQueue(t, db, "t", "w", QueueOptions{})
	defer q.Close()
	for want := int64(2); want < 9; want++ {
		if m, err := nextWithin(q, time.Second); err != nil || m.Offset != want {
			t.Fatalf("queue delivered %+v, %v; want offset %d", m, err, want)
		}
	}
}

// TestCrashUnderSyncNeverLowersPositions: under SyncNever a consumer commits, and a queue acks, offsets of
// messages that were never synced; a crash loses the messages but not the commit or the acks. After
// reopen, the messages appended next are delivered to both groups, not skipped.
func TestCrashUnderSyncNeverLowersPositions(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db, err := Open("/data", &Options{FS: mem, Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, db, "t", "w", QueueOptions{})
	appendN(t, db, "t", 5)
	if err := db.CommitGroupOffset("g", "t", 0, 5); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		m, err := nextWithin(q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{}) // only synced data
	db.Close()

	db, err = Open("/data", &Options{FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	parts, _ := db.Partitions("t")
	hw := parts[0].HighWatermark
	if hw >= 5 {
		t.Skipf("the crash kept %d unsynced messages; nothing to check", hw)
	}
	appendN(t, db, "t", 5-int(hw))
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if rec, err := c.Next(ctx); err != nil || rec.Offset != hw {
		t.Fatalf("consumer: Next = %d, %v; want %d", rec.Offset, err, hw)
	}
	q = openQueue(t, db, "t", "w", QueueOptions{})
	defer q.Close()
	if m, err := nextWithin(q, time.Second); err != nil || m.Offset != hw {
		t.Fatalf("queue: %+v, %v; want offset %d", m, err, hw)
	}
}
