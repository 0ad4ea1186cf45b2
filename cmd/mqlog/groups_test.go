package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// TestGroupsShowsQueueGroups: a work-queue group made through the library shows in groups list and
// describe with its ack floor, the acks above it and the unacked count. (The CLI has no command that
// makes one, so a script cannot.)
func TestGroupsShowsQueueGroups(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 6 {
		if _, err := db.Append(ctx, "jobs", mqlog.Message{Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	q, err := db.Queue("jobs", "workers", mqlog.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ms []*mqlog.QueueMessage
	for range 4 {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		m, err := q.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, i := range []int{0, 2, 3} { // offset 1 stays unacked
		if err := ms[i].Ack(); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cli := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, append([]string{"--dir", dir}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("mqlog %v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	if out := cli("groups", "list"); !strings.Contains(out, "workers  queue") {
		t.Fatalf("groups list:\n%s", out)
	}
	var doc groupsDescribeJSON
	if err := json.Unmarshal([]byte(cli("groups", "describe", "workers", "-o", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	want := queuePartitionJSON{Topic: "jobs", Partition: 0, AckFloor: 1, AckedAbove: 2, AckRanges: 1, Unacked: 3}
	if len(doc.Queue) != 1 || doc.Queue[0] != want || len(doc.Consumer) != 0 {
		t.Fatalf("describe: %+v, want queue %+v", doc, want)
	}
	if out := cli("groups", "describe", "workers"); !strings.Contains(out, "ACK FLOOR") {
		t.Fatalf("describe table:\n%s", out)
	}
}
