package wal_test

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// A producer that keeps two batches in flight: it encodes and queues batch N+1 while batch N is written
// and synced, and takes each batch's outcome in order. Wait reports a batch durable only after the fsync
// that covers it (SyncAlways). The Index is where the root package wires in Pebble; any implementation of
// wal.Index will do here.
func ExampleLog_AppendAsync() {
	l, err := wal.Open(wal.Options{FS: vfs.NewMem(), Dir: "/orders-0", Index: &nopIndex{}})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	const window = 2
	var inFlight []*wal.PendingAppend
	for i := range 5 {
		if len(inFlight) == window { // the oldest batch must be durable before a third is queued
			first, err := inFlight[0].Wait()
			if err != nil {
				panic(err) // the log has stopped (wal.ErrFailStop): reopen it to recover
			}
			fmt.Println("durable from offset", first)
			inFlight = inFlight[1:]
		}
		batch := []segment.Record{{Value: fmt.Appendf(nil, "order %d", 2*i)}, {Value: fmt.Appendf(nil, "order %d", 2*i+1)}}
		p, err := l.AppendAsync(batch)
		if err != nil {
			panic(err)
		}
		inFlight = append(inFlight, p)
	}
	for _, p := range inFlight {
		first, err := p.Wait()
		if err != nil {
			panic(err)
		}
		fmt.Println("durable from offset", first)
	}
	fmt.Println("high watermark", l.HighWatermark())
	// Output:
	// durable from offset 0
	// durable from offset 2
	// durable from offset 4
	// durable from offset 6
	// durable from offset 8
	// high watermark 10
}
