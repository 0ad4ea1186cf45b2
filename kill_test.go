package mqlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// killHelperEnv makes the test binary, re-executed, act as a producer that appends until it is killed.
const killHelperEnv = "MQLOG_KILL_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		os.Exit(killHelper(dir))
	}
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(lockHelper(dir))
	}
	// Every goroutine the engine starts (flushers, syncers, Pebble's) must be gone after the tests.
	goleak.VerifyTestMain(m)
}

// killHelper appends numbered messages with SyncAlways and prints each acknowledged
// offset, flushed at once, so that the parent knows exactly what was acknowledged when it kills us.
func killHelper(dir string) int {
	db, err := Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := db.CreateTopic("k", TopicConfig{SegmentBytes: 16 << 10}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	infos, _ := db.Partitions("k")
	next := int(infos[0].HighWatermark)
	out := bufio.NewWriter(os.Stdout)
	for i := next; ; i++ {
		pos, err := db.Append(context.Background(), "k", Message{Value: killValue(i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		fmt.Fprintln(out, pos[0].Offset)
		out.Flush()
	}
}

func killValue(i int) []byte {
	return fmt.Appendf(nil, "kill-%06d-%s", i, bytes.Repeat([]byte{'k'}, i%200))
}

// TestKill is the real-process check that simulation cannot give: a child process appends durably to a
// real directory and reports every acknowledged offset on a pipe; we SIGKILL it at a random moment,
// reopen, and check that every acknowledged message is there, in order, with no gap or duplicate; then
// repeat on the same directory.
func TestKill(t *testing.T) {
	rounds := 3
	if torture() {
		rounds = 200
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	dir := t.TempDir()
	acked := int64(-1)
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int64, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if off, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
					lines <- off
				}
			}
		}()
		// Wait for its first acknowledgement (opening takes a while on a busy machine), then kill it at a
		// random instant while it appends.
		var deadline <-chan time.Time
	wait:
		for {
			select {
			case off, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: helper exited early: %s", round, stderr.String())
				}
				acked = max(acked, off)
				if deadline == nil {
					deadline = time.After(time.Duration(rng.IntN(200)) * time.Millisecond)
				}
			case <-deadline:
				break wait
			}
		}
		cmd.Process.Kill()
		for off := range lines {
			acked = max(acked, off)
		}
		cmd.Wait()

		db, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		n := int64(0)
		for rec, err := range db.Read("k", 0, 0) {
			if err != nil {
				t.Fatalf("round %d: read: %v", round, err)
			}
			if rec.Offset != n || !bytes.Equal(rec.Value, killValue(int(n))) {
				t.Fatalf("round %d: record %d is offset %d value %.20q", round, n, rec.Offset, rec.Value)
			}
			n++
		}
		if n <= acked {
			t.Fatalf("round %d: %d records after the kill, offset %d was acknowledged", round, n, acked)
		}
		db.Close()
	}
	t.Logf("%d kills, last acknowledged offset %d", rounds, acked)
}
