package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// A command through a node that is up works while another node of the cluster is down. A follower's
// Metadata lists every voter, the dead one too (as a Kafka cluster lists a dead broker until its session
// times out), and franz-go sends an admin request to any broker it lists and fails it at once on a
// refused dial: before retried, `groups list` (ListGroups goes to every broker) always failed here, and
// `consume --group` and `groups describe` failed whenever FindCoordinator picked the dead node (stop 21's
// integration run: "read 0 of 20; unable to dial ... connection refused").
func TestClusterCommandsWithANodeDown(t *testing.T) {
	bin, err := exec.LookPath("mqlog")
	if err != nil {
		t.Skip("no mqlog command on PATH:", err)
	}
	root := t.TempDir()
	addrs := freePorts(t, 6)
	nodes := threeRaftNodes(root, addrs, "--no-auto-create")
	startFaultNodes(t, root, bin, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mqlog := func(stdin string, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, append([]string{"--dir", filepath.Join(root, "nodir")}, args...), strings.NewReader(stdin), &stdout, &stderr); code != 0 {
			t.Fatalf("mqlog %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	leader := faultLeader(t, ctx, nodes)
	var followers []*faultNode
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	dead, up := followers[0], followers[1]
	mqlog("", "topic", "create", "down", "--partitions", "1", "--broker", leader.kafka)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprint("m", i))
	}
	mqlog(strings.Join(lines[:10], "\n")+"\n", "produce", "-t", "down", "--broker", up.kafka)

	dead.kill()
	mqlog(strings.Join(lines[10:], "\n")+"\n", "produce", "-t", "down", "--broker", up.kafka)
	for round := range 3 { // (FindCoordinator's broker is drawn at random: a few tries meet the dead one)
		group := fmt.Sprint("g", round)
		out, _ := mqlog("", "consume", "-t", "down", "--group", group, "--broker", up.kafka)
		if got := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(got, ",") != strings.Join(lines, ",") {
			t.Fatalf("consume --group %s through node %d with node %d down: %q", group, up.id, dead.id, got)
		}
		if out, _ := mqlog("", "groups", "list", "--broker", up.kafka); !strings.Contains(out, group) {
			t.Fatalf("groups list through node %d with node %d down: no %s in %q", up.id, dead.id, group, out)
		}
		if out, _ := mqlog("", "groups", "describe", group, "--broker", up.kafka); !strings.Contains(out, "20") {
			t.Fatalf("groups describe %s through node %d with node %d down: no offset 20 in %q", group, up.id, dead.id, out)
		}
	}
	// (the same partition count again is not an error, as DB.CreateTopic)
	mqlog("", "topic", "create", "down", "--partitions", "1", "--broker", up.kafka)
	t.Logf("node %d (a follower) down: produce, consume --group, groups list and describe, topic create through node %d (a follower), leader %d",
		dead.id, up.id, leader.id)
}

// unreachableErr says which errors mean a request did not reach a broker that can serve it (retried then
// tries again) and which do not (returned at once).
func TestUnreachableErr(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errors.New("connection refused"))}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused dial", fmt.Errorf("unable to dial: %w", dial), true},
		{"read on a connection (the request may have been served)", read, false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"NOT_COORDINATOR", kerr.NotCoordinator, true},
		{"COORDINATOR_NOT_AVAILABLE", kerr.CoordinatorNotAvailable, true},
		{"NOT_LEADER_OR_FOLLOWER", kerr.NotLeaderForPartition, true},
		{"LEADER_NOT_AVAILABLE", kerr.LeaderNotAvailable, true},
		{"UNKNOWN_TOPIC_OR_PARTITION", kerr.UnknownTopicOrPartition, false},
		{"GROUP_ID_NOT_FOUND", kerr.GroupIDNotFound, false},
		{"shards, all unreachable", &kadm.ShardErrors{Name: "ListGroups", Errs: []kadm.ShardError{{Err: dial}, {Err: kerr.NotCoordinator}}}, true},
		{"shards, one other", &kadm.ShardErrors{Name: "ListGroups", Errs: []kadm.ShardError{{Err: dial}, {Err: kerr.GroupAuthorizationFailed}}}, false},
		{"shards, none", &kadm.ShardErrors{Name: "ListGroups"}, false},
	} {
		if got := unreachableErr(c.err); got != c.want {
			t.Errorf("%s: unreachableErr(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
