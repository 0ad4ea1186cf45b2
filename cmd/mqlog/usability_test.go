package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// On a terminal, topic delete asks, and deletes only on "y" (issue 15, item 2). A terminal cannot be had in
// a test, so stdinIsTerminal says yes.
func TestTopicDeleteAsksOnTerminal(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "a\nb\n", "--dir", dir, "produce", "--topic", "orders"); code != exitOK {
		t.Fatalf("produce: %s", stderr)
	}
	was := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return true }
	defer func() { stdinIsTerminal = was }()

	code, stdout, stderr := runCLI(t, "n\n", "--dir", dir, "topic", "delete", "orders")
	if code != exitError || stdout != "" || !strings.HasPrefix(stderr, "delete topic orders: 1 partition, 2 records, ") ||
		!strings.Contains(stderr, "? [y/N] Error: topic orders not deleted\n") {
		t.Fatalf("answer n: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "", "--dir", dir, "topic", "delete", "orders") // (end of input: no)
	if code != exitError || !strings.Contains(stderr, "not deleted") {
		t.Fatalf("no answer: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "", "--dir", dir, "topic", "list"); code != exitOK || !strings.Contains(stdout, "orders") {
		t.Fatalf("the topic went without a yes: %q", stdout)
	}
	code, stdout, stderr = runCLI(t, "y\n", "--dir", dir, "topic", "delete", "orders")
	if code != exitOK || !strings.HasPrefix(stdout, "deleted topic orders: 1 partition, 2 records") {
		t.Fatalf("answer y: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// groups describe names the active member each partition is assigned to: an embedded Consumer, and a
// Kafka client of the classic protocol with its client id and host (issue 15, item 1). The CLI's own
// process never has members (it holds the lock), so this builds the description from a DB that has.
func TestGroupsDescribeNamesMembers(t *testing.T) {
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateTopic("orders", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if _, err := db.AppendPartition(ctx, "orders", p, mqlog.Message{Value: []byte("x")}); err != nil {
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
	if err := c.Commit(rec); err != nil {
		t.Fatal(err)
	}
	doc, err := describeGroup(directGroups{db}, "billing", "")
	if err != nil {
		t.Fatal(err)
	}
	if doc.State != mqlog.GroupStateStable || len(doc.Consumer) != 2 {
		t.Fatalf("description %+v", doc)
	}
	for _, row := range doc.Consumer {
		if row.ConsumerID == nil || *row.ConsumerID != c.MemberID() || *row.LogEndOffset != 1 {
			t.Errorf("partition %d: consumer %v, log end %v; want member %s", row.Partition, orDash(row.ConsumerID), orDash(row.LogEndOffset), c.MemberID())
		}
		committed := row.Partition == rec.Partition
		if committed != (row.CurrentOffset != nil) || (committed && (*row.CurrentOffset != 1 || *row.Lag != 0)) {
			t.Errorf("partition %d: current %v lag %v (committed %v)", row.Partition, orDash(row.CurrentOffset), orDash(row.Lag), committed)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// A Kafka consumer of the classic protocol, assigned partition 1 by its own leader's assignment.
	joinCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	join, err := db.JoinGroup(joinCtx, mqlog.GroupJoinRequest{Group: "kgroup", ClientID: "kcat", ClientHost: "/127.0.0.1",
		ProtocolType: "consumer", Protocols: []mqlog.GroupProtocol{{Name: "range"}},
		SessionTimeout: 10 * time.Second, RebalanceTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	assignment := kmsg.NewConsumerMemberAssignment()
	assignment.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "orders", Partitions: []int32{1}}}
	if _, err := db.SyncGroup(joinCtx, mqlog.GroupSyncRequest{Group: "kgroup", MemberID: join.MemberID, Generation: join.Generation,
		Protocol: "range", Assignments: map[string][]byte{join.MemberID: assignment.AppendTo(nil)}}); err != nil {
		t.Fatal(err)
	}
	doc, err = describeGroup(directGroups{db}, "kgroup", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Consumer) != 2 || doc.Consumer[0].ConsumerID != nil || doc.Consumer[1].ConsumerID == nil ||
		*doc.Consumer[1].ConsumerID != join.MemberID || *doc.Consumer[1].ClientID != "kcat" || *doc.Consumer[1].Host != "/127.0.0.1" {
		t.Fatalf("classic member: %+v", doc.Consumer)
	}
}

// groups describe, reset and delete complete their GROUP argument with the groups, not with file names.
func TestCompleteGroupArguments(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "a\n", "--dir", dir, "produce", "--topic", "orders")
	runCLI(t, "", "--dir", dir, "consume", "--topic", "orders", "--group", "billing")
	runCLI(t, "", "--dir", dir, "consume", "--topic", "orders", "--group", "audit")
	for _, args := range [][]string{{"groups", "describe", ""}, {"groups", "reset", ""}, {"groups", "delete", ""}, {"groups", "delete", "audit", ""}} {
		code, stdout, _ := runCLI(t, "", append([]string{"__complete", "--dir", dir}, args...)...)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		want := []string{"audit", "billing"}
		if args[2] == "audit" {
			want = []string{"billing"}
		}
		if code != exitOK || !slices.Equal(lines[:len(lines)-1], want) || lines[len(lines)-1] != ":4" {
			t.Errorf("%v: exit %d, %q; want %v and no file completion (:4)", args, code, stdout, want)
		}
	}
	if _, stdout, _ := runCLI(t, "", "__complete", "--dir", dir, "groups", "describe", "billing", ""); strings.Contains(stdout, "audit") {
		t.Errorf("a second argument completed: %q", stdout)
	}
}

// When a group of lines goes to several partitions and one of them fails, produce prints the positions
// of the durable messages, names each line that was not appended, and exits 1 (issue 15, item 6: the
// *AppendError reaches the CLI's user).
func TestProducePartialAppend(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "", "--dir", dir, "topic", "create", "t", "--partitions", "2"); code != exitOK {
		t.Fatal(stderr)
	}
	var fail atomic.Bool
	testOptions = func(o *mqlog.Options) {
		o.FS = errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if fail.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, filepath.Join(mqlog.TopicsDirName, "t-1")) {
				return errorfs.ErrInjected
			}
			return nil
		}))
	}
	defer func() { testOptions = nil }()
	fail.Store(true)
	var input strings.Builder
	for i := range 20 {
		fmt.Fprintf(&input, "key-%d:v%d\n", i, i)
	}
	code, stdout, stderr := runCLI(t, input.String(), "--dir", dir, "produce", "--topic", "t", "--key-sep", ":")
	fail.Store(false)
	if code != exitError {
		t.Fatalf("exit %d, want 1; stdout %q, stderr %q", code, stdout, stderr)
	}
	acked := strings.Count(stdout, "partition 0 offset ")
	failed := strings.Count(stderr, "not appended: line ")
	if acked == 0 || failed == 0 || acked+failed != 20 || strings.Contains(stdout, "partition 1") {
		t.Fatalf("%d acks, %d lines named as not appended; stdout %q, stderr %q", acked, failed, stdout, stderr)
	}
	if !strings.Contains(stderr, "(partition 1): mqlog: log stopped after an I/O error") || !strings.Contains(stderr, "Error: mqlog: append failed in 1 of the partitions") {
		t.Fatalf("stderr %q", stderr)
	}
	// What was acknowledged is what partition 0 holds.
	code, out, _ := runCLI(t, "", "--dir", dir, "consume", "--topic", "t", "--partition", "0")
	if code != exitOK || strings.Count(out, "\n") != acked {
		t.Fatalf("partition 0 holds %q, %d acknowledged", out, acked)
	}
}
