package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startCLI runs a command line in the background with a context the test cancels, as SIGINT does.
func startCLI(t *testing.T, args ...string) (stdout *syncBuffer, interrupt func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout = new(syncBuffer)
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(""), stdout, &stderr) }()
	return stdout, func() int {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Logf("stderr: %s", stderr.String())
			}
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("the command did not end after the interrupt")
			return -1
		}
	}
}

// waitFor waits until out holds want (the command flushes what it has printed while it waits for more).
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never held %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowInterrupt checks that consume --follow prints records as they come and that an interrupt
// ends it with exit 0.
func TestFollowInterrupt(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "one\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	out, interrupt := startCLI(t, "--dir", dir, "consume", "--topic", "t", "--follow")
	waitFor(t, out, "one\n")
	if code, _, stderr := runCLI(t, "two\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	waitFor(t, out, "one\ntwo\n")
	if code := interrupt(); code != exitOK {
		t.Errorf("interrupted consume --follow: exit %d, want 0", code)
	}
}

// TestGroupFollowInterrupt checks that an interrupted group member has committed what it printed.
func TestGroupFollowInterrupt(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "one\ntwo\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	out, interrupt := startCLI(t, "--dir", dir, "consume", "--topic", "t", "--group", "g", "--follow")
	waitFor(t, out, "one\ntwo\n")
	if code := interrupt(); code != exitOK {
		t.Errorf("interrupted consume --group --follow: exit %d, want 0", code)
	}
	if code, stdout, stderr := runCLI(t, "", "--dir", dir, "consume", "--topic", "t", "--group", "g"); code != exitOK || stdout != "" {
		t.Errorf("after the interrupted run: exit %d, stdout %q, stderr %q; want nothing left", code, stdout, stderr)
	}
}
