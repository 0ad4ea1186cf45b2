package mqlog

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// logReplicator is a QueueReplicator over a log of one node: it records every save and dead letter and
// applies them at once, as a replicated node's state machine would; refuse, when set, is every save's
// answer instead.
type logReplicator struct {
	db *DB
	mu sync.Mutex
	// saves and deadLetters are what went through the replicator.
	saves       []QueueStateSave
	deadLetters []int32 // partitions
	refuse      error
}

func (r *logReplicator) SaveQueueState(save QueueStateSave) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.saves = append(r.saves, save)
	save.State.Incarnation = 0 // (the apply takes its own)
	return r.db.ApplyQueueState(save)
}

func (r *logReplicator) AppendDeadLetter(ctx context.Context, topic string, partition int32, msgs ...Message) ([]Position, error) {
	r.mu.Lock()
	r.deadLetters = append(r.deadLetters, partition)
	r.mu.Unlock()
	return r.db.AppendPartition(ctx, topic, partition, msgs...)
}

func (r *logReplicator) counts() (saves, deadLetters int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.saves), len(r.deadLetters)
}

// With a replicator installed, every save of a queue (the first open's, deliveries, acks) goes through
// it and nothing else writes the queue state; dead letters go through it to an existing topic only (a
// missing one is a failure, not a topic created here); FailQueues stops the open groups with its error
// and the next open starts from the stored state; QueueStates and ReplaceQueueStates carry it over.
func TestQueueReplicator(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	r := &logReplicator{db: db}
	if err := db.ReplicateQueues(r); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendPartition(context.Background(), "t", 0, Message{Value: []byte("a")}, Message{Value: []byte("b")}, Message{Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	opts := QueueOptions{AckWait: time.Hour, MaxDeliver: 1, DeadLetterTopic: "dlq"}
	q := openQueue(t, db, "t", "g", opts)
	if saves, _ := r.counts(); saves != 1 {
		t.Fatalf("the first open made %d saves, want 1", saves)
	}
	a, err := nextWithin(q, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Ack(); err != nil {
		t.Fatal(err)
	}
	b, err := nextWithin(q, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if saves, _ := r.counts(); saves != 4 {
		t.Fatalf("after two deliveries and an ack: %d saves, want 4", saves)
	}
	last := r.saves[len(r.saves)-1].State
	if last.Floor != 1 || last.Delivered != 2 || last.Topic != "t" || last.Group != "g" {
		t.Fatalf("last save %+v", last)
	}
	// b reaches MaxDeliver: its dead letter fails while the topic is missing, and no topic is created.
	if err := b.Nak(0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); db.Metrics().QueueDeadLetterFailures == 0; {
		if time.Now().After(deadline) { // (a guard against a hang)
			t.Fatal("no dead-letter failure within a minute")
		}
		nextWithin(q, 20*time.Millisecond) // (delivers c, then drives the dead letter)
	}
	if _, err := db.TopicConfig("dlq"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("dead-letter topic: %v", err)
	}
	if _, dl := r.counts(); dl != 0 {
		t.Fatalf("%d dead letters through the replicator for a missing topic", dl)
	}
	if err := db.CreateTopic("dlq", TopicConfig{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); db.Metrics().QueueDeadLettered == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter within a minute")
		}
		nextWithin(q, 20*time.Millisecond)
	}
	if _, dl := r.counts(); dl != 1 {
		t.Fatalf("%d dead letters through the replicator, want 1", dl)
	}
	// A refused save stops the group with its error; FailQueues stops it too, and the next open loads
	// the stored state.
	refused := errors.New("not the leader")
	r.mu.Lock()
	r.refuse = refused
	r.mu.Unlock()
	if _, err := db.AppendPartition(context.Background(), "t", 0, Message{Value: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	if _, err := nextWithin(q, 10*time.Second); !errors.Is(err, refused) {
		t.Fatalf("Next with a refused save: %v", err)
	}
	r.mu.Lock()
	r.refuse = nil
	r.mu.Unlock()
	stopped := errors.New("stopped")
	db.FailQueues(stopped)
	if _, err := nextWithin(q, 10*time.Second); !errors.Is(err, refused) { // (the first error stays)
		t.Fatalf("Next after FailQueues: %v", err)
	}
	q.Close()
	q = openQueue(t, db, "t", "g", opts)
	// c, delivered once (its MaxDeliver), is dead-lettered before d, whose delivery the refused save lost,
	// is delivered for the first time.
	m, err := nextWithin(q, 10*time.Second)
	if err != nil || string(m.Value) != "d" || m.Deliveries != 1 {
		t.Fatalf("after the reopen: %v, %v", m, err)
	}
	if _, dl := r.counts(); dl != 2 {
		t.Fatalf("%d dead letters through the replicator, want 2", dl)
	}
	q2 := openQueue(t, db, "t", "g", opts)
	db.FailQueues(stopped)
	if _, err := nextWithin(q2, 10*time.Second); !errors.Is(err, stopped) {
		t.Fatalf("Next after FailQueues: %v", err)
	}
	if err := m.Ack(); !errors.Is(err, stopped) {
		t.Fatalf("Ack after FailQueues: %v", err)
	}
	q.Close()
	q2.Close()
	// QueueStates and ReplaceQueueStates: what a snapshot carries.
	want, err := db.QueueGroupState("g")
	if err != nil {
		t.Fatal(err)
	}
	states, err := db.QueueStates()
	if err != nil || len(states) != 1 {
		t.Fatalf("QueueStates: %+v, %v", states, err)
	}
	if err := db.ReplaceQueueStates(nil); err != nil {
		t.Fatal(err)
	}
	if gs, _ := db.QueueGroups(); len(gs) != 0 {
		t.Fatalf("groups after ReplaceQueueStates(nil): %v", gs)
	}
	if err := db.ReplaceQueueStates(states); err != nil {
		t.Fatal(err)
	}
	if got, err := db.QueueGroupState("g"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("state after ReplaceQueueStates: %+v, %v; want %+v", got, err, want)
	}
	// A save of a missing topic or partition is refused.
	bad := states[0]
	bad.State.Partition = 5
	if err := db.ApplyQueueState(bad); !errors.Is(err, ErrInvalidPartition) {
		t.Fatalf("a save of partition 5: %v", err)
	}
	bad.State.Topic = "nope"
	if err := db.ApplyQueueState(bad); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("a save of a missing topic: %v", err)
	}
}
