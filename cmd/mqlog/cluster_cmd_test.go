package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClusterCommands runs three `mqlog serve --raft-*` processes and a fourth that waits to be added,
// and drives them with `mqlog cluster status`, `add` and `remove`.
func TestClusterCommands(t *testing.T) {
	bin, err := exec.LookPath("mqlog")
	if err != nil {
		t.Skip("no mqlog command on PATH:", err)
	}
	root := t.TempDir()
	addrs := freePorts(t, 8)
	var nodes []*faultNode
	var peers []string
	for i := range 4 {
		n := &faultNode{id: int32(i + 1), dir: filepath.Join(root, fmt.Sprint("node", i+1)), kafka: addrs[i], raft: addrs[4+i]}
		if i < 3 {
			peers = append(peers, fmt.Sprintf("%d@%s/%s", n.id, n.raft, n.kafka))
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		n.args = []string{"--dir", n.dir, "serve", "--listen", n.kafka, "--raft-id", strconv.Itoa(int(n.id)), "--raft-bind", n.raft}
		if i < 3 {
			n.args = append(n.args, "--raft-peers", strings.Join(peers, ","))
		}
		n.stderr, err = os.Create(filepath.Join(root, fmt.Sprint("node", n.id, ".log")))
		if err != nil {
			t.Fatal(err)
		}
		defer n.stderr.Close()
		n.start(t, bin)
	}
	defer func() {
		for _, n := range nodes {
			n.terminate(t)
		}
		if t.Failed() {
			for _, n := range nodes {
				b, _ := os.ReadFile(n.stderr.Name())
				t.Logf("node %d's log (last 2000 bytes):\n%s", n.id, tail(string(b), 2000))
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mqlog := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	// status polls the node at addr until it knows a leader and voters voters (a node applies a new
	// configuration a moment after the leader commits it).
	status := func(addr string, voters int) quorumStatus {
		t.Helper()
		var st quorumStatus
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			code, out, errOut := mqlog("cluster", "status", "--broker", addr, "-o", "json")
			if code == 0 {
				if err := json.Unmarshal([]byte(out), &st); err != nil {
					t.Fatalf("status -o json: %v: %s", err, out)
				}
				if st.LeaderID > 0 && len(st.Voters) == voters {
					return st
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no leader and %d voters in 20 s: exit %d, %s%s", voters, code, out, errOut)
			}
		}
	}
	st := status(nodes[0].kafka, 3)
	for _, v := range st.Voters {
		n := nodes[v.ID-1]
		if v.Kafka != n.kafka || v.Raft != n.raft || v.Leader != (v.ID == st.LeaderID) {
			t.Errorf("voter %+v: want Kafka %s, raft %s", v, n.kafka, n.raft)
		}
	}
	code, out, _ := mqlog("cluster", "status", "--broker", nodes[1].kafka)
	if code != 0 || !strings.Contains(out, "leader "+strconv.Itoa(int(st.LeaderID))) || !strings.Contains(out, "ROLE") {
		t.Errorf("status table: exit %d:\n%s", code, out)
	}

	// The fourth node joins through any node (the command goes to the leader), then leaves.
	four := nodes[3]
	if code, out, errOut := mqlog("cluster", "add", "--broker", nodes[2].kafka, "--id", "4", "--kafka", four.kafka, "--raft", four.raft); code != 0 {
		t.Fatalf("add: exit %d: %s%s", code, out, errOut)
	}
	if st := status(four.kafka, 4); st.Voters[3].ID != 4 || st.Voters[3].Kafka != four.kafka {
		t.Fatalf("after add, node 4 sees %+v", st)
	}
	if code, out, errOut := mqlog("cluster", "remove", "--broker", nodes[0].kafka, "--id", "4"); code != 0 {
		t.Fatalf("remove: exit %d: %s%s", code, out, errOut)
	}
	status(nodes[1].kafka, 3)
	if code, _, errOut := mqlog("cluster", "remove", "--broker", nodes[0].kafka, "--id", "9"); code != 1 || !strings.Contains(errOut, "VOTER_NOT_FOUND") {
		t.Errorf("remove of no voter: exit %d: %s", code, errOut)
	}
}

// TestServeRaftFlags checks the --raft-* flags' usage errors (exit 2, before anything starts).
func TestServeRaftFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--raft-id", "1"}, "--raft-bind"},
		{[]string{"serve", "--raft-bind", "127.0.0.1:1"}, "need --raft-id"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--raft-id", "1", "--raft-bind", "127.0.0.1:7001", "--raft-peers", "1@127.0.0.1:7001"}, "no / between"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--raft-id", "1", "--raft-bind", "127.0.0.1:7001", "--raft-peers", "x@a:1/b:2"}, "not a number"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--raft-id", "1", "--raft-bind", "127.0.0.1:7001", "--raft-peers", "2@127.0.0.1:7002/127.0.0.1:9093"}, "does not name this node"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--raft-id", "1", "--raft-bind", "127.0.0.1:7001", "--raft-peers", "1@127.0.0.1:7001/127.0.0.1:9092,1@127.0.0.1:7002/127.0.0.1:9093"}, "ID 1 twice"},
		{[]string{"cluster", "status"}, "--broker HOST:PORT"},
		{[]string{"cluster", "add", "--broker", "127.0.0.1:1"}, "--id N is required"},
		{[]string{"cluster", "add", "--broker", "127.0.0.1:1", "--id", "4", "--kafka", "nohost", "--raft", "127.0.0.1:7004"}, "want host:port"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"--dir", dir}, c.args...), strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("mqlog %s: exit %d, %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr.String(), exitUsage, c.want)
		}
	}
}
