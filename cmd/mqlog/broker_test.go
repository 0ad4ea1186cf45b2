package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
)

// servedDir is a data directory held by a server in this process, as an application embedding a DB and
// serving it with kafka.Server holds it: the CLI finds it through the SERVING file.
type servedDir struct {
	dir  string
	addr string
	db   *mqlog.DB
}

// serveDir opens a new data directory and serves it on loopback until the test ends.
func serveDir(t *testing.T, opts *kafka.Options) *servedDir {
	t.Helper()
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var o kafka.Options
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := kafka.NewServer(db, &o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		db.Close()
	})
	s := &servedDir{dir: dir, addr: l.Addr().String(), db: db}
	s.waitRecorded(t)
	return s
}

// waitRecorded waits until the server has recorded its listener (Serve does it as it starts).
func (s *servedDir) waitRecorded(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := kafka.FindServing(s.dir); err == nil {
			return
		} else if !errors.Is(err, kafka.ErrNotServing) {
			t.Fatal(err)
		}
	}
	t.Fatalf("the server of %s recorded no listener", s.dir)
}

// cliStep is one command line run the same way on two directories.
type cliStep struct {
	stdin string
	args  []string
	// embedded, when set, runs instead of a command line on both directories' DBs: the direct one
	// opened for it, the served one the server's.
	embedded func(t *testing.T, db *mqlog.DB)
}

// sameOutput runs each step on a directory of its own (direct) and on a served one (through the broker)
// and checks that exit codes, stdout and stderr are the same, the directories' names aside.
func sameOutput(t *testing.T, served *servedDir, steps []cliStep) {
	t.Helper()
	direct := t.TempDir()
	for _, s := range steps {
		if s.embedded != nil {
			db, err := mqlog.Open(direct, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.embedded(t, db)
			db.Close()
			s.embedded(t, served.db)
			continue
		}
		wantCode, wantOut, wantErr := runCLI(t, s.stdin, append([]string{"--dir", direct}, s.args...)...)
		code, out, errOut := runCLI(t, s.stdin, append([]string{"--dir", served.dir}, s.args...)...)
		wantOut = strings.ReplaceAll(wantOut, direct, "DIR")
		wantErr = strings.ReplaceAll(wantErr, direct, "DIR")
		out = strings.ReplaceAll(out, served.dir, "DIR")
		errOut = strings.ReplaceAll(errOut, served.dir, "DIR")
		if code != wantCode || out != wantOut || errOut != wantErr {
			t.Errorf("%v:\nthrough the broker: exit %d\n%s%s\ndirect: exit %d\n%s%s", s.args, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
}

func TestBrokerProduceSameAsDirect(t *testing.T) {
	served := serveDir(t, nil)
	sameOutput(t, served, []cliStep{
		{"a\nb\nk1:x\n", []string{"produce", "--topic", "orders", "--key-sep", ":"}, nil},
		{"c\n", []string{"produce", "--topic", "orders", "-o", "json"}, nil},
		{"", []string{"topic", "create", "multi", "--partitions", "3"}, nil},
		{"k1:a\nk2:b\nk3:c\nk4:d\nnokey\n", []string{"produce", "--topic", "multi", "-K", ":"}, nil},
		{"x\ny\n", []string{"produce", "--topic", "multi"}, nil},
		{"z\n", []string{"produce", "--topic", "multi", "--partition", "2", "-H", "source=cli", "-z", "zstd"}, nil},
		{"z\n", []string{"produce", "--topic", "multi", "--partition", "7"}, nil},
		{"z\n", []string{"produce", "--topic", "missing", "--no-auto-create"}, nil},
		{"", []string{"consume", "--topic", "multi", "-o", "json", "--format", "%t %p %o %k %s %h\\n"}, nil},
	})
}

func TestBrokerTopicsSameAsDirect(t *testing.T) {
	served := serveDir(t, nil)
	sameOutput(t, served, []cliStep{
		{"", []string{"topic", "create", "orders", "--partitions", "2", "--retention-ms", "3600000", "--segment-ms", "60000"}, nil},
		{"", []string{"topic", "create", "orders", "--partitions", "2", "--retention-ms", "1"}, nil},
		{"", []string{"topic", "create", "orders", "--partitions", "3"}, nil},
		{"", []string{"topic", "create", "users", "--cleanup-policy", "compact", "--retention-policy", "interest", "-o", "json"}, nil},
		{"", []string{"topic", "create", "bad/name"}, nil},
		{"", []string{"topic", "list"}, nil},
		{"", []string{"topic", "list", "-o", "json"}, nil},
		{"a\nb\nc\n", []string{"produce", "-t", "orders"}, nil},
		{"", []string{"topic", "describe"}, nil},
		{"", []string{"topic", "describe", "orders", "-o", "json"}, nil},
		{"", []string{"topic", "alter", "orders", "--partitions", "4"}, nil},
		{"", []string{"topic", "alter", "orders", "--partitions", "2"}, nil},
		{"", []string{"topic", "alter", "orders", "--retention-bytes", "1048576", "--cleanup-policy", "compact", "--delete-retention-ms", "1000"}, nil},
		{"", []string{"topic", "alter", "orders", "--segment-bytes", "1048576", "--partitions", "5", "-o", "json"}, nil},
		{"", []string{"topic", "alter", "missing", "--segment-bytes", "1048576"}, nil},
		{"", []string{"topic", "describe", "orders"}, nil},
		{"", []string{"topic", "delete", "orders", "--dry-run"}, nil},
		{"", []string{"topic", "delete", "orders"}, nil},
		{"", []string{"topic", "delete", "orders", "--yes", "-o", "json"}, nil},
		{"", []string{"topic", "delete", "orders", "--yes"}, nil},
		{"", []string{"topic", "list"}, nil},
	})
}

// commitOffsets commits group's positions through the embedded API.
func commitOffsets(group, topic string, offsets ...int64) func(t *testing.T, db *mqlog.DB) {
	return func(t *testing.T, db *mqlog.DB) {
		for p, o := range offsets {
			if err := db.CommitGroupOffset(group, topic, int32(p), o); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestBrokerGroupsSameAsDirect(t *testing.T) {
	served := serveDir(t, nil)
	sameOutput(t, served, []cliStep{
		{"", []string{"groups", "list"}, nil},
		{"", []string{"topic", "create", "orders", "--partitions", "2"}, nil},
		{"a\nb\nc\nd\ne\nf\n", []string{"produce", "-t", "orders", "-p", "0"}, nil},
		{"g\nh\n", []string{"produce", "-t", "orders", "-p", "1"}, nil},
		{"", nil, commitOffsets("billing", "orders", 4, 1)},
		{"", nil, commitOffsets("audit", "orders", 6)},
		{"", []string{"groups", "list"}, nil},
		{"", []string{"groups", "list", "-o", "json"}, nil},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"", []string{"groups", "describe", "audit", "-o", "json"}, nil},
		{"", []string{"groups", "describe", "audit", "--topic", "orders"}, nil},
		{"", []string{"groups", "describe", "nobody"}, nil},
		{"", []string{"groups", "reset", "billing", "--to-earliest"}, nil},
		{"", []string{"groups", "reset", "billing", "--shift-by", "-3", "--execute"}, nil},
		{"", []string{"groups", "reset", "billing", "--to-offset", "100", "-o", "json"}, nil},
		{"", []string{"groups", "reset", "billing", "--to-time", "0", "--execute"}, nil},
		{"", []string{"groups", "reset", "billing", "--to-latest", "--topic", "orders", "--execute"}, nil},
		{"", []string{"groups", "reset", "newgroup", "--to-latest"}, nil},
		{"", []string{"groups", "reset", "newgroup", "--to-latest", "--topic", "orders", "--execute"}, nil},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"", []string{"groups", "describe", "newgroup"}, nil},
		{"", []string{"groups", "delete", "audit", "missing"}, nil},
		{"", []string{"groups", "delete", "audit"}, nil},
		{"", []string{"groups", "list"}, nil},
	})
}

func TestBrokerConsumeGroupSameAsDirect(t *testing.T) {
	served := serveDir(t, nil)
	format := "%t %p %o %k %v %h\\n"
	sameOutput(t, served, []cliStep{
		{"", []string{"topic", "create", "orders"}, nil},
		{"a\nb\nc\nk:d\ne\n", []string{"produce", "-t", "orders", "-K", ":", "-H", "h=1"}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "billing", "--count", "2", "--format", format}, nil},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "billing", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "billing"}, nil},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"f\n", []string{"produce", "-t", "orders"}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "billing", "--format", format}, nil},
		{"", []string{"consume", "-t", "missing", "-g", "billing"}, nil},
		{"", []string{"groups", "list"}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "billing", "--from", "1", "--count", "2", "--format", format}, nil},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "-2", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "earliest", "--count", "1", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "latest", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "@0", "--count", "1", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "@4102444800000", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "100", "--format", format}, nil},
		{"", []string{"consume", "-t", "orders", "-g", "other", "--from", "100", "--offset-reset", "earliest", "--count", "1", "--format", format}, nil},
		{"", []string{"groups", "describe", "other"}, nil},
	})
}

// TestBrokerFlagAndServeCommand runs `mqlog serve` in this process and reaches it with --broker (and
// $MQLOG_BROKER) from a command whose --dir is another directory: the flag wins over the directory.
func TestBrokerFlagAndServeCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "serve", "--listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve: exit %d, %s", code, stderr.String())
		}
		if _, err := kafka.FindServing(dir); !errors.Is(err, kafka.ErrNotServing) {
			t.Errorf("FindServing after serve stopped: %v", err)
		}
	}()
	waitFor(t, &stderr, "to Kafka clients on")
	(&servedDir{dir: dir}).waitRecorded(t) // Serve records its listener as it starts, after that line
	info, err := kafka.FindServing(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := info.Listeners[0].Address
	other := t.TempDir()
	code, out, errOut := runCLI(t, "a\nb\n", "--dir", other, "produce", "-t", "orders", "--broker", addr)
	if code != exitOK || out != "partition 0 offset 0\npartition 0 offset 1\n" || errOut != "created topic orders with 1 partition\n" {
		t.Fatalf("produce --broker: exit %d, %q, %q", code, out, errOut)
	}
	t.Setenv(envBroker, addr)
	code, out, errOut = runCLI(t, "", "--dir", other, "consume", "-t", "orders", "-g", "g", "--format", "%v\\n")
	if code != exitOK || out != "a\nb\n" {
		t.Fatalf("consume --group with $%s: exit %d, %q, %q", envBroker, code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "index")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--broker opened --dir %s: %v", other, err)
	}
	code, _, errOut = runCLI(t, "", "--dir", other, "groups", "list", "--broker", "127.0.0.1:1")
	if code != exitError || !strings.HasPrefix(errOut, "Error: broker 127.0.0.1:1: ") {
		t.Errorf("groups list --broker to nothing: exit %d, %q", code, errOut)
	}
}

// TestBrokerStaleServingFile: a SERVING file left by a killed server (the lock is free) is ignored, and
// the command opens the directory itself.
func TestBrokerStaleServingFile(t *testing.T) {
	dir := t.TempDir()
	stale := `{"version":1,"pid":1,"started":"2026-01-01T00:00:00Z","listeners":[{"address":"127.0.0.1:1","advertised":"127.0.0.1:1","tls":false}]}`
	if err := os.WriteFile(filepath.Join(dir, kafka.ServingFileName), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "a\n", "--dir", dir, "produce", "-t", "orders"); code != exitOK || out != "partition 0 offset 0\n" {
		t.Fatalf("produce beside a stale SERVING file: exit %d, %q, %q", code, out, errOut)
	}
	// Held by a writer that does not serve: the lock's error, naming the pid, as before.
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	code, _, errOut := runCLI(t, "a\n", "--dir", dir, "produce", "-t", "orders")
	if want := fmt.Sprintf("LOCK held by pid %d", os.Getpid()); code != exitError || !strings.Contains(errOut, want) {
		t.Fatalf("produce beside a writer that does not serve: exit %d, %q; want %q", code, errOut, want)
	}
}

// TestBrokerSASL: a server that requires SASL is reached with --broker-user and $MQLOG_BROKER_PASSWORD,
// and without them the error says what is missing.
func TestBrokerSASL(t *testing.T) {
	served := serveDir(t, &kafka.Options{SASL: &kafka.SASL{Users: map[string]string{"alice": "secret"}}})
	code, _, errOut := runCLI(t, "a\n", "--dir", served.dir, "produce", "-t", "orders")
	if code != exitError || !strings.Contains(errOut, "requires SASL authentication (PLAIN, SCRAM-SHA-256): pass --broker-user and $"+envBrokerPassword) {
		t.Fatalf("produce without credentials: exit %d, %q", code, errOut)
	}
	t.Setenv(envBrokerPassword, "secret")
	for _, mechanism := range []string{"PLAIN", "SCRAM-SHA-256"} {
		code, out, errOut := runCLI(t, "a\n", "--dir", served.dir, "produce", "-t", "orders", "--broker-user", "alice", "--broker-sasl-mechanism", mechanism)
		if code != exitOK || !strings.HasPrefix(out, "partition 0 offset ") {
			t.Fatalf("produce as alice with %s: exit %d, %q, %q", mechanism, code, out, errOut)
		}
	}
	t.Setenv(envBrokerPassword, "wrong")
	if code, _, errOut := runCLI(t, "a\n", "--dir", served.dir, "produce", "-t", "orders", "--broker-user", "alice"); code != exitError || !strings.HasPrefix(errOut, "Error: broker ") {
		t.Fatalf("produce with a wrong password: exit %d, %q", code, errOut)
	}
}

// selfSignedCert returns a TLS certificate for 127.0.0.1 and localhost, and its PEM file (to trust it).
func selfSignedCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mqlog test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// TestBrokerTLS: a TLS server's SERVING file turns TLS on; its certificate is verified against the
// system's roots unless --broker-ca names the CA.
func TestBrokerTLS(t *testing.T) {
	cert, caFile := selfSignedCert(t)
	served := serveDir(t, &kafka.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	code, _, errOut := runCLI(t, "a\n", "--dir", served.dir, "produce", "-t", "orders")
	if code != exitError || !strings.Contains(errOut, "certificate") {
		t.Fatalf("produce to a TLS server without its CA: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI(t, "a\n", "--dir", served.dir, "produce", "-t", "orders", "--broker-ca", caFile)
	if code != exitOK || out != "partition 0 offset 0\n" {
		t.Fatalf("produce --broker-ca: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "--dir", t.TempDir(), "groups", "list", "--broker", served.addr, "--broker-ca", caFile)
	if code != exitOK || out != "" || errOut != "no groups\n" {
		t.Fatalf("groups list --broker --broker-ca: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "", "--dir", t.TempDir(), "groups", "list", "--broker", served.addr)
	if code != exitError || !strings.HasPrefix(errOut, "Error: broker "+served.addr) {
		t.Fatalf("groups list --broker to a TLS server without --broker-tls: exit %d, %q", code, errOut)
	}
}

// TestBrokerGroupFollowInterrupt: consume --group --follow through a server prints records as they are
// produced (by another command, through the same server), and an interrupt ends it with exit 0 after
// committing what it printed; the member leaves the group.
func TestBrokerGroupFollowInterrupt(t *testing.T) {
	served := serveDir(t, nil)
	if code, _, stderr := runCLI(t, "one\n", "--dir", served.dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	out, interrupt := startCLI(t, "--dir", served.dir, "consume", "--topic", "t", "--group", "g", "--follow")
	waitFor(t, out, "one\n")
	if code, _, stderr := runCLI(t, "two\n", "--dir", served.dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	waitFor(t, out, "one\ntwo\n")
	if code := interrupt(); code != exitOK {
		t.Errorf("interrupted consume --group --follow: exit %d, want 0", code)
	}
	if code, stdout, stderr := runCLI(t, "", "--dir", served.dir, "consume", "--topic", "t", "--group", "g"); code != exitOK || stdout != "" {
		t.Errorf("after the interrupted run: exit %d, stdout %q, stderr %q; want nothing left", code, stdout, stderr)
	}
	d, err := served.db.DescribeGroup("g")
	if err != nil || len(d.Members) != 0 {
		t.Errorf("group g after the run: %+v, %v; want no members", d, err)
	}
}
