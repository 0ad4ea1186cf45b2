package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestServeAnswersKafkaClients runs mqlog serve in-process, produces a message through the protocol,
// and stops it as SIGINT would.
func TestServeAnswersKafkaClients(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "serve", "--listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
	}()
	waitFor(t, &stderr, "to Kafka clients on")
	addr := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())[1]
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f := kmsg.NewRequestFormatter()
	md := kmsg.NewPtrMetadataRequest()
	md.Version, md.AllowAutoTopicCreation = 9, true
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr("orders")
	md.Topics = append(md.Topics, topic)
	if _, err := nc.Write(f.AppendRequest(nil, md, 1)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 9
	if err := resp.ReadFrom(body[5:]); err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata: %+v, %v", resp, err)
	}
	if got := resp.Brokers[0].Port; net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(got))) != addr {
		t.Fatalf("advertised %s:%d, listening on %s", resp.Brokers[0].Host, got, addr)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d; stderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stderr.String(), "mqlog: stopped") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

// TestServeStopsOnSIGTERM runs the real main in a child process (this test binary, re-executed) and
// sends it SIGTERM: it must stop cleanly and exit 0.
func TestServeStopsOnSIGTERM(t *testing.T) {
	if dir := os.Getenv("MQLOG_SERVE_CHILD"); dir != "" {
		os.Args = []string{"mqlog", "--dir", dir, "serve", "--listen", "127.0.0.1:0"}
		main() // exits
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeStopsOnSIGTERM$")
	cmd.Env = append(os.Environ(), "MQLOG_SERVE_CHILD="+t.TempDir())
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &stderr, "to Kafka clients on")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "mqlog: stopped") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}
