package mqlog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// logIDs returns, for each message id in topic, the positions of the records that carry it.
func logIDs(t *testing.T, db *DB, topic string) map[string][]Position {
	t.Helper()
	out := map[string][]Position{}
	infos, err := db.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		for rec, err := range db.Read(topic, info.Partition, info.StartOffset) {
			if err != nil {
				t.Fatal(err)
			}
			if id := headerValue(rec, HeaderMessageID); id != "" {
				out[id] = append(out[id], Position{Partition: rec.Partition, Offset: rec.Offset})
			}
		}
	}
	return out
}

// dupOf is p as a duplicate of it is answered.
func dupOf(p Position) Position {
	p.Duplicate = true
	return p
}

// TestAppendDeduplicates: a message whose id was appended within the window is answered with the
// original position, marked Duplicate, and not appended; so is a repeat within one call; the id as a
// header works like the field; AppendPartition deduplicates too; the window, after it passes, lets the id
// in again; a keyless retry that would go to another partition is still answered with the original.
func TestAppendDeduplicates(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	clock := newTestClock()
	clock.use(db)
	if err := db.CreateTopic("t", TopicConfig{Partitions: 3, DuplicateWindowMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	first := mustAppend(t, db, "t", Message{Value: []byte("1"), ID: "a"}, Message{Value: []byte("2"), ID: "b"}, Message{Value: []byte("3"), ID: "a"})
	if first[0].Duplicate || first[1].Duplicate || !first[2].Duplicate || first[2] != dupOf(first[0]) {
		t.Fatalf("first call: %+v", first)
	}
	again := mustAppend(t, db, "t",
		Message{Value: []byte("x"), ID: "a"},
		Message{Value: []byte("y"), Headers: []Header{{Key: HeaderMessageID, Value: []byte("b")}}},
		Message{Value: []byte("z")}, // no id: appended every time
		Message{Value: []byte("w"), ID: "c"})
	if again[0] != dupOf(first[0]) || again[1] != dupOf(first[1]) ||
		again[2].Duplicate || again[3].Duplicate {
		t.Fatalf("second call: %+v against %+v", again, first)
	}
	pp, err := db.AppendPartition(context.Background(), "t", 2, Message{ID: "c"}, Message{ID: "d"})
	if err != nil || pp[0] != dupOf(again[3]) || pp[1].Duplicate || pp[1].Partition != 2 {
		t.Fatalf("AppendPartition: %+v, %v", pp, err)
	}
	ids := logIDs(t, db, "t")
	for id, want := range map[string]int{"a": 1, "b": 1, "c": 1, "d": 1} {
		if len(ids[id]) != want {
			t.Fatalf("id %s in the log %d times: %v", id, len(ids[id]), ids)
		}
	}
	clock.advance(db, 61*time.Second)
	late := mustAppend(t, db, "t", Message{ID: "a"})
	if late[0].Duplicate {
		t.Fatalf("after the window: %+v", late)
	}
}

// TestAppendDeduplicatesAcrossRestart: the ids come back from the log tail after a reopen: those within
// the window are answered with their positions, those older are not.
func TestAppendDeduplicatesAcrossRestart(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2, DuplicateWindowMs: 60_000, SegmentBytes: 256}); err != nil {
		t.Fatal(err)
	}
	old := mustAppend(t, db, "t", Message{ID: "old", Timestamp: time.Now().Add(-2 * time.Minute)})
	var want []Position
	for i := range 50 {
		want = append(want, mustAppend(t, db, "t", Message{ID: fmt.Sprint(i), Value: []byte("v")})[0])
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	for i := range 50 {
		got := mustAppend(t, db, "t", Message{ID: fmt.Sprint(i), Value: []byte("again")})[0]
		if got != dupOf(want[i]) {
			t.Fatalf("id %d after reopen: %+v, want %+v", i, got, want[i])
		}
	}
	if got := mustAppend(t, db, "t", Message{ID: "old"})[0]; got.Duplicate || got == old[0] {
		t.Fatalf("an id older than the window: %+v", got)
	}
}

// TestAppendDeduplicatesConcurrent: appenders racing with the same ids append each id once, and every
// one of them gets the same position for it.
func TestAppendDeduplicatesConcurrent(t *testing.T) {
	const appenders, ids = 8, 100
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	got := make([][]Position, appenders)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range ids {
				id := fmt.Sprint((i + a*7) % ids)
				pos, err := db.Append(context.Background(), "t", Message{ID: id, Value: []byte(id)}, Message{Value: []byte("noise")})
				if err != nil {
					t.Error(err)
					return
				}
				got[a] = append(got[a], pos[0])
			}
		})
	}
	wg.Wait()
	inLog := logIDs(t, db, "t")
	for i := range ids {
		id := fmt.Sprint(i)
		if len(inLog[id]) != 1 {
			t.Fatalf("id %s appended %d times", id, len(inLog[id]))
		}
	}
	for a := range appenders {
		for i, pos := range got[a] {
			id := fmt.Sprint((i + a*7) % ids)
			if p := inLog[id][0]; pos.Partition != p.Partition || pos.Offset != p.Offset {
				t.Fatalf("appender %d got %+v for id %s, which is at %+v", a, pos, id, p)
			}
		}
	}
	if n := db.dedup.Duplicates(); n != appenders*ids-ids {
		t.Fatalf("%d duplicates counted, want %d", n, appenders*ids-ids)
	}
}

// TestDedupAgainstTopicLifecycleAndDeadLetters: a topic deleted and created again forgets its ids; dead
// letters keep their id header but are not deduplicated, so two poison messages of one id from two
// topics both reach a shared dead-letter topic.
func TestDedupAgainstTopicLifecycleAndDeadLetters(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	mustAppend(t, db, "t", Message{ID: "x"})
	if err := db.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if got := mustAppend(t, db, "t", Message{ID: "x"})[0]; got.Duplicate {
		t.Fatalf("the new topic took the old one's id: %+v", got)
	}
	opts := QueueOptions{AckWait: time.Hour, MaxDeliver: 1, DeadLetterTopic: "dlq"}
	for _, topic := range []string{"push", "email"} {
		mustAppend(t, db, topic, Message{ID: "n-1", Value: []byte(topic)})
		q := openQueue(t, db, topic, "w", opts)
		if err := mustNext(t, q).Nak(0); err != nil {
			t.Fatal(err)
		}
		expectNothing(t, q) // dead-letters it
		q.Close()
	}
	if ids := logIDs(t, db, "dlq"); len(ids["n-1"]) != 2 {
		t.Fatalf("dead letters of id n-1: %v", ids)
	}
}
