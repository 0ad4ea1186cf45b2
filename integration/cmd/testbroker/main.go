// Command testbroker serves a fresh mqlog data directory (or, with --dir, the one given, which it keeps,
// so that a second testbroker can serve it again: a restart) to Kafka clients on loopback, for the client
// tests that are not Go (scripts/integration.sh): it prints "broker HOST:PORT" on stdout (the address
// clients are to use: the fault proxy's with --drop-produce-responses), serves until SIGTERM, SIGINT or
// the end of stdin, then prints one line per partition of every topic and one per committed offset,
//
//	topic=T partition=P records=N distinct=D first=VALUE last=VALUE
//	group=G topic=T partition=P offset=O
//
// where distinct counts the distinct values: a retried batch written twice shows as distinct < records.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/mqlog/mqlog/integration"
	"github.com/mqlog/mqlog/kafka"
)

func main() {
	drops := flag.Int("drop-produce-responses", 0, "withhold the broker's answers to the first N produce requests, closing the client's connection instead (an idempotent producer must then retry without duplicating)")
	dir := flag.String("dir", "", "serve this data directory (created if missing) and keep it, instead of a temporary one")
	flag.Parse()
	if err := run(*dir, *drops); err != nil {
		fmt.Fprintln(os.Stderr, "testbroker:", err)
		os.Exit(1)
	}
}

func run(dir string, drops int) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "testbroker-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	opts := &kafka.Options{}
	addr := l.Addr().String()
	var proxy *integration.FaultProxy
	if drops > 0 {
		if proxy, err = integration.NewFaultProxy(addr); err != nil {
			return err
		}
		proxy.DropProduceResponses(int32(drops))
		opts.AdvertisedAddr, addr = proxy.Addr(), proxy.Addr()
	}
	b, err := integration.StartBroker(dir, l, opts)
	if err != nil {
		return err
	}
	fmt.Printf("broker %s\n", addr)
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { // the end of stdin stops it too
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		stop()
	}()
	<-ctx.Done()
	if proxy != nil {
		proxy.Close()
		fmt.Fprintf(os.Stderr, "testbroker: %d produce responses withheld\n", proxy.Dropped.Load())
	}
	for _, topic := range b.DB.Topics() {
		parts, err := b.DB.Partitions(topic)
		if err != nil {
			return err
		}
		for _, p := range parts {
			seen := map[string]bool{}
			n, first, last := 0, "", ""
			for rec, err := range b.DB.Read(topic, p.Partition, p.StartOffset) {
				if err != nil {
					return err
				}
				if n == 0 {
					first = string(rec.Value)
				}
				last = string(rec.Value)
				seen[string(rec.Value)] = true
				n++
			}
			fmt.Printf("topic=%s partition=%d records=%d distinct=%d first=%s last=%s\n", topic, p.Partition, n, len(seen), first, last)
		}
	}
	groups, err := b.DB.Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		offs, err := b.DB.GroupOffsets(g)
		if err != nil {
			return err
		}
		for _, o := range offs {
			fmt.Printf("group=%s topic=%s partition=%d offset=%d\n", g, o.Topic, o.Partition, o.Offset)
		}
	}
	return b.Close()
}
