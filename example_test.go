package mqlog_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mqlog/mqlog"
)

// Append messages durably, then read them back in order.
func Example() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)

	db, err := mqlog.Open(dir, nil) // nil options: SyncAlways, 64 MiB segments
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	// Append returns once the messages are fsynced: they survive a crash from here on.
	pos, err := db.Append(ctx, "orders", mqlog.Message{Value: []byte("first")}, mqlog.Message{Value: []byte("second")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended at offsets", pos[0].Offset, pos[1].Offset)

	for rec, err := range db.Read("orders", 0, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d: %s\n", rec.Offset, rec.Value)
	}
	// Output:
	// appended at offsets 0 1
	// 0: first
	// 1: second
}

// A consumer group reads every message once per group, resuming after its last commit.
func ExampleConsumer() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateTopic("jobs", mqlog.TopicConfig{Partitions: 1}); err != nil {
		log.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if _, err := db.Append(ctx, "jobs", mqlog.Message{Value: []byte(v)}); err != nil {
			log.Fatal(err)
		}
	}

	c, err := db.Consumer("jobs", "workers")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		rec, err := c.Next(ctx) // blocks until a record is readable
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s@%d\n", rec.Value, rec.Offset)
		if err := c.Commit(rec); err != nil { // durable: this record is not delivered again
			log.Fatal(err)
		}
	}
	// Output:
	// a@0
	// b@1
	// c@2
}
