package mqlog

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var priorityLevels = []string{"jobs.high", "jobs.normal", "jobs.low"}

func fillLevels(t *testing.T, db *DB, n int) {
	t.Helper()
	for _, topic := range priorityLevels {
		var msgs []Message
		for i := range n {
			msgs = append(msgs, Message{Value: fmt.Appendf(nil, "%s-%d", topic, i)})
		}
		mustAppend(t, db, topic, msgs...)
	}
}

func nextPriority(t *testing.T, pq *PriorityQueue, d time.Duration) (*QueueMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return pq.Next(ctx)
}

// TestPriorityQueueShares: with every level full, a priority queue with LowerShare 0.1 gives the top
// level 90 of every 100 deliveries, the middle one 9 and the bottom one 1 (the guard applies level by
// level); strict priority drains each level before the next; a level that alone has messages gets every
// delivery.
func TestPriorityQueueShares(t *testing.T) {
	for _, c := range []struct {
		share float64
		want  [3]int // deliveries per level in the first 100
	}{{0.1, [3]int{90, 9, 1}}, {-1, [3]int{100, 0, 0}}, {0.5, [3]int{50, 25, 25}}} {
		t.Run(fmt.Sprint(c.share), func(t *testing.T) {
			db := openMemDB(t, vfs.NewMem())
			defer db.Close()
			fillLevels(t, db, 120)
			pq, err := db.PriorityQueue("g", priorityLevels, QueueOptions{AckWait: time.Hour}, PriorityOptions{LowerShare: c.share})
			if err != nil {
				t.Fatal(err)
			}
			defer pq.Close()
			var got [3]int
			for range 100 {
				m, err := nextPriority(t, pq, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if m.Topic != priorityLevels[m.Priority] {
					t.Fatalf("message of %s says level %d", m.Topic, m.Priority)
				}
				got[m.Priority]++
				if err := m.Ack(); err != nil {
					t.Fatal(err)
				}
			}
			// 0.5: every other delivery goes below the top; below, middle and bottom alternate.
			if got != c.want {
				t.Fatalf("deliveries per level %v, want %v", got, c.want)
			}
		})
	}
}

// TestPriorityQueueOrderAndWake: a message appended to a higher level goes before the lower levels' ones
// still waiting; a Next blocked on empty levels wakes on an append to any of them; AckNext takes the
// priority queue's next message, not its own level's.
func TestPriorityQueueOrderAndWake(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	for _, topic := range priorityLevels {
		if err := db.CreateTopic(topic, TopicConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	pq, err := db.PriorityQueue("g", priorityLevels, QueueOptions{AckWait: time.Hour}, PriorityOptions{LowerShare: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer pq.Close()
	got := make(chan *QueueMessage, 1)
	go func() {
		m, err := nextPriority(t, pq, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	time.Sleep(20 * time.Millisecond)
	mustAppend(t, db, "jobs.low", Message{Value: []byte("low-1")}, Message{Value: []byte("low-2")})
	m := <-got
	if m == nil || string(m.Value) != "low-1" || m.Priority != 2 {
		t.Fatalf("woke with %+v", m)
	}
	mustAppend(t, db, "jobs.high", Message{Value: []byte("high-1")})
	next, err := m.AckNext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(next.Value) != "high-1" || next.Priority != 0 {
		t.Fatalf("AckNext gave %s (level %d), want high-1", next.Value, next.Priority)
	}
	if err := next.Ack(); err != nil {
		t.Fatal(err)
	}
	if m, err := nextPriority(t, pq, time.Second); err != nil || string(m.Value) != "low-2" {
		t.Fatalf("then %+v, %v; want low-2", m, err)
	}
}

// TestPriorityQueueOptions: no levels, a level twice and a share of 1 are refused; the levels are
// ordinary work-queue groups, visible as such.
func TestPriorityQueueOptions(t *testing.T) {
	db := openMemDB(t, vfs.NewMem())
	defer db.Close()
	for _, c := range []struct {
		levels []string
		share  float64
	}{{nil, 0}, {[]string{"a", "a"}, 0}, {[]string{"a", "b"}, 1}} {
		if _, err := db.PriorityQueue("g", c.levels, QueueOptions{}, PriorityOptions{LowerShare: c.share}); !errors.Is(err, ErrQueueOptions) {
			t.Errorf("levels %v share %v: %v, want ErrQueueOptions", c.levels, c.share, err)
		}
	}
	pq, err := db.PriorityQueue("g", []string{"a", "b"}, QueueOptions{}, PriorityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pq.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pq.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	states, err := db.QueueGroupState("g")
	if err != nil || len(states) != 2 || states[0].Topic != "a" || states[1].Topic != "b" {
		t.Fatalf("state of the levels: %+v, %v", states, err)
	}
}
