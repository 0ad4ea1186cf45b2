package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqlog/mqlog/kafka"
)

// TestServeKilledLeavesUsableDir: a real `mqlog serve` (this test binary, re-executed) is SIGKILLed, which
// leaves its SERVING file behind. Every command then works on the directory directly, as if no server
// had been there; the first writable open removes the stale file, and the next serve records its own.
func TestServeKilledLeavesUsableDir(t *testing.T) {
	if dir := os.Getenv("MQLOG_SERVE_KILL_CHILD"); dir != "" {
		os.Args = []string{"mqlog", "--dir", dir, "serve", "--listen", "127.0.0.1:0"}
		main() // exits, or is killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeKilledLeavesUsableDir$")
	cmd.Env = append(os.Environ(), "MQLOG_SERVE_KILL_CHILD="+dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, &stderr, "to Kafka clients on")
	// Through the server while it runs: the lock is its.
	if code, out, errOut := runCLI(t, "a\nb\nc\n", "--dir", dir, "produce", "-t", "orders"); code != exitOK || !strings.Contains(out, "offset 2") {
		t.Fatalf("produce through the server: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "", "--dir", dir, "consume", "-t", "orders", "--group", "g", "-c", "2"); code != exitOK || out != "a\nb\n" {
		t.Fatalf("consume --group through the server: exit %d, %q, %q", code, out, errOut)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the killed server exited 0")
	}
	serving := filepath.Join(dir, kafka.ServingFileName)
	if _, err := os.Stat(serving); err != nil {
		t.Fatalf("the killed server left no SERVING file (%v): nothing to test", err)
	}
	if _, err := kafka.FindServing(dir); !errors.Is(err, kafka.ErrNotServing) {
		t.Fatalf("FindServing after the kill: %v, want ErrNotServing", err)
	}

	for _, step := range []struct {
		stdin string
		args  []string
		want  string // in stdout
	}{
		{"", []string{"topic", "list"}, "orders"},
		{"", []string{"consume", "-t", "orders"}, "a\nb\nc\n"},
		{"", []string{"inspect"}, "orders"},
		{"", []string{"verify"}, "ok up to the end"},
		{"", []string{"groups", "list"}, "g"},
		{"", []string{"groups", "describe", "g"}, "orders"},
		{"d\n", []string{"produce", "-t", "orders"}, "offset 3"},
		{"", []string{"consume", "-t", "orders", "--group", "g"}, "c\nd\n"},
		{"", []string{"groups", "reset", "g", "--to-earliest", "--execute"}, "orders"},
		{"", []string{"topic", "create", "more", "--partitions", "2"}, "created topic more"},
		{"", []string{"topic", "describe", "orders"}, "orders"},
		{"", []string{"groups", "delete", "g"}, "g"},
		{"", []string{"topic", "delete", "more", "--yes"}, "deleted topic more"},
	} {
		code, out, errOut := runCLI(t, step.stdin, append([]string{"--dir", dir}, step.args...)...)
		if code != exitOK || !strings.Contains(out, step.want) {
			t.Errorf("%v after the kill: exit %d, stdout %q (want %q in it), stderr %q", step.args, code, out, step.want, errOut)
		}
	}
	if _, err := os.Stat(serving); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SERVING after writable opens: %v, want it removed", err)
	}

	// The next serve records its own listener.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "serve", "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &out)
	}()
	waitFor(t, &out, "to Kafka clients on")
	addr := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())[1]
	info, err := kafka.FindServing(dir)
	if err != nil || info.PID != os.Getpid() || info.Listeners[0].Address != addr {
		t.Errorf("SERVING of the next serve: %+v, %v; want pid %d on %s", info, err, os.Getpid(), addr)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve: exit %d: %s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
