package mqlog_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mqlog/mqlog"
)

// A producer keeps two batches in flight: it queues the next batch while the previous one is written and
// fsynced, and counts a batch as durable only once its Wait returns.
func ExampleDB_AppendAsync() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	const inFlight = 2
	var queued []*mqlog.PendingAppend // oldest first
	wait := func() {
		pos, err := queued[0].Wait() // returns after the fsync that covers the batch
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("durable at offsets", pos[0].Offset, pos[1].Offset)
		queued = queued[1:]
	}
	for i := range 4 {
		batch := []mqlog.Message{{Value: fmt.Appendf(nil, "%d-a", i)}, {Value: fmt.Appendf(nil, "%d-b", i)}}
		p, err := db.AppendAsync(ctx, "orders", batch...)
		if err != nil {
			log.Fatal(err) // nothing of this batch was queued
		}
		queued = append(queued, p)
		if len(queued) == inFlight {
			wait()
		}
	}
	for len(queued) > 0 {
		wait()
	}
	// Output:
	// durable at offsets 0 1
	// durable at offsets 2 3
	// durable at offsets 4 5
	// durable at offsets 6 7
}
