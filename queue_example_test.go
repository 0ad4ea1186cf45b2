package mqlog_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mqlog/mqlog"
)

// A work queue: competing consumers share a topic's messages; each message is leased to one of them until
// it is acked, and a message nak'd too often goes to a dead-letter topic.
func ExampleDB_Queue() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, v := range []string{"resize img-1", "resize img-2"} {
		if _, err := db.Append(ctx, "jobs", mqlog.Message{Value: []byte(v)}); err != nil {
			panic(err)
		}
	}
	q, err := db.Queue("jobs", "workers", mqlog.QueueOptions{
		AckWait: 30 * time.Second, MaxDeliver: 2, DeadLetterTopic: "jobs.dlq"})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	for range 3 {
		m, err := q.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s (delivery %d)\n", m.Value, m.Deliveries)
		if string(m.Value) == "resize img-2" {
			m.Nak(0) // fails: delivered again, then dead-lettered
			continue
		}
		m.Ack()
	}
	// The next Next finds img-2 due a third time: it goes to the dead-letter topic, acked.
	wait, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := q.Next(wait); err != context.DeadlineExceeded {
		panic(err)
	}
	for rec, err := range db.Read("jobs.dlq", 0, 0) {
		if err != nil {
			panic(err)
		}
		fmt.Printf("dead letter: %s\n", rec.Value)
	}
	// Output:
	// resize img-1 (delivery 1)
	// resize img-2 (delivery 1)
	// resize img-2 (delivery 2)
	// dead letter: resize img-2
}
