package kafka_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
)

// An application that embeds a DB serves it to Kafka clients on a listener of its own; cancelling the
// context stops the server (every connection closed) and Serve returns.
func ExampleServe() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0") // loopback: reachable from this machine only
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- kafka.Serve(ctx, db, l) }()
	// ... Kafka clients produce and consume at l.Addr() ...
	cancel()
	fmt.Println("Serve returned", <-done)
	// Output: Serve returned <nil>
}
