package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// stats --url reads a running process's metrics endpoint: its counters, commit latency, lag per group
// and queue state; --watch prints a new snapshot every --interval until interrupted (issue 15, item 8).
func TestStatsFromMetricsEndpoint(t *testing.T) {
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	a := &app{ctx: ctx, stdout: io.Discard, stderr: &stderr}
	stop, err := a.serveMetrics(ctx, "127.0.0.1:0", db)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := regexp.MustCompile(`metrics on (http://\S+)`).FindStringSubmatch(stderr.String())[1]

	for i := range 10 {
		if _, err := db.Append(ctx, "orders", mqlog.Message{Value: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.Consumer("orders", "billing")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffset(rec.Partition, 4); err != nil {
		t.Fatal(err)
	}
	q, err := db.Queue("orders", "workers", mqlog.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m, err := q.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}

	code, stdout, errOut := runCLI(t, "", "stats", "--url", url, "-o", "json")
	if code != exitOK {
		t.Fatalf("stats: exit %d: %s", code, errOut)
	}
	var doc statsDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	switch {
	case doc.Writes == nil || doc.Writes.Appends != 10 || doc.Writes.Records != 10 || doc.Writes.Fsyncs == 0:
		t.Errorf("writes %+v", doc.Writes)
	case doc.Latency == nil || doc.Latency.Count != 10 || doc.Latency.P50 <= 0 || doc.Latency.Max < doc.Latency.P99:
		t.Errorf("commit latency %+v", doc.Latency)
	case len(doc.Partitions) != 1 || doc.Partitions[0].LogEndOffset != 10:
		t.Errorf("partitions %+v", doc.Partitions)
	case len(doc.Groups) != 1 || doc.Groups[0].Group != "billing" || doc.Groups[0].Offset != 4 || doc.Groups[0].Lag != 6:
		t.Errorf("groups %+v", doc.Groups)
	case len(doc.Queues) != 1 || doc.Queues[0].Pending != 9 || doc.Queues[0].AckFloor != 1:
		t.Errorf("queues %+v", doc.Queues)
	case doc.Queue == nil || doc.Queue.Deliveries != 1:
		t.Errorf("queue counters %+v", doc.Queue)
	}

	code, stdout, errOut = runCLI(t, "", "stats", "--url", url)
	for _, want := range []string{"APPENDS  BATCHES", "COMMITS  P50", "orders  0          0             10", "billing  orders  1           6", "workers      orders  0          1          9"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("stats table: exit %d, no %q in:\n%s%s", code, want, stdout, errOut)
		}
	}

	// --watch: a snapshot every 20 ms (one JSON document a line) until the context ends.
	watchCtx, stopWatch := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stopWatch()
	var out syncBuffer
	if code := run(watchCtx, []string{"stats", "--url", url, "--watch", "--interval", "20ms", "-o", "json"}, strings.NewReader(""), &out, io.Discard); code != exitOK {
		t.Fatalf("stats --watch: exit %d", code)
	}
	lines := 0
	for sc := bufio.NewScanner(strings.NewReader(out.String())); sc.Scan(); lines++ {
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
	}
	if lines < 3 {
		t.Fatalf("%d snapshots in 500 ms at a 20 ms interval", lines)
	}
}

// stats --watch on a terminal redraws the screen (a terminal cannot be had in a test: stdoutIsTerminal
// says yes).
func TestStatsWatchRedraws(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "a\n", "--dir", dir, "produce", "--topic", "orders")
	was := stdoutIsTerminal
	stdoutIsTerminal = func(io.Writer) bool { return true }
	defer func() { stdoutIsTerminal = was }()
	// Interrupted once it has drawn twice (a fixed window failed on a loaded machine, where opening the
	// directory took most of it); 30 s bounds a run that never redraws.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	go func() {
		for ctx.Err() == nil && strings.Count(out.String(), "\x1b[H\x1b[2J") < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if code := run(ctx, []string{"--dir", dir, "stats", "--watch", "--interval", "50ms"}, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if n := strings.Count(out.String(), "\x1b[H\x1b[2J"); n < 2 || !strings.Contains(out.String(), "mqlog stats of "+dir) {
		t.Fatalf("%d redraws: %q", n, out.String())
	}
}

// serve --metrics-listen serves the metrics while it serves Kafka clients.
func TestServeMetricsListen(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
	}()
	waitFor(t, &stderr, "to Kafka clients on")
	url := regexp.MustCompile(`metrics on (http://\S+)`).FindStringSubmatch(stderr.String())[1]
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "mqlog_appends_total 0") || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve: exit %d: %s", code, stderr.String())
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("the metrics endpoint still answers after serve stopped")
	}
}
