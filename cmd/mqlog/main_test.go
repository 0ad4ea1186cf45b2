package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
	"github.com/mqlog/mqlog/segment"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"mqlog": main})
}

// TestScript runs the CLI scripts in ../../testdata/script. Each gets MQLOG_DIR=$WORK/data and SEGMENTS,
// the directory of the golden segment files.
func TestScript(t *testing.T) {
	root := filepath.Join("..", "..", "testdata")
	segments, err := filepath.Abs(filepath.Join(root, "segment"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join(root, "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("MQLOG_DIR", filepath.Join(env.WorkDir, "data"))
			env.Setenv("SEGMENTS", segments)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"flipbyte":     cmdFlipByte,
			"truncate":     cmdTruncate,
			"zero":         cmdZero,
			"sleep":        cmdSleep,
			"setbytes":     cmdSetBytes,
			"killproduce":  cmdKillProduce,
			"fifomanifest": cmdFIFOManifest,
			"patchbatch":   cmdPatchBatch,
			"sigterm":      cmdSigterm,
			"waitserving":  cmdWaitServing,
		},
	})
}

// cmdWaitServing waits until the data directory's SERVING file names a live server (a background mqlog
// serve records its listener once it has opened the directory): waitserving [DIR], default $MQLOG_DIR.
func cmdWaitServing(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: waitserving [DIR]")
	}
	dir := ts.Getenv("MQLOG_DIR")
	if len(args) == 1 {
		dir = ts.MkAbs(args[0])
	}
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err = kafka.FindServing(dir); err == nil {
			return
		}
	}
	ts.Fatalf("no server recorded in %s: %v", dir, err)
}

// cmdSleep pauses the script: sleep DURATION (time.ParseDuration), to let a background command start.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// cmdZero overwrites bytes of a file with zeros: zero FILE POSITION LENGTH.
func cmdZero(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: zero FILE POSITION LENGTH")
	}
	pos, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	_, err = f.WriteAt(make([]byte, n), pos)
	ts.Check(err)
}

// cmdFlipByte inverts the bits of the byte at a position of a file: flipbyte FILE POSITION.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE POSITION")
	}
	path := ts.MkAbs(args[0])
	pos, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, pos)
	ts.Check(err)
	b[0] = ^b[0]
	_, err = f.WriteAt(b, pos)
	ts.Check(err)
}

// cmdTruncate sets the size of a file, adding zero bytes when it grows: truncate FILE SIZE.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	size, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), size))
}

// cmdSetBytes overwrites bytes of a file: setbytes FILE POSITION HEX.
func cmdSetBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: setbytes FILE POSITION HEX")
	}
	pos, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	b, err := hex.DecodeString(args[2])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	_, err = f.WriteAt(b, pos)
	ts.Check(err)
}

// cmdKillProduce runs "mqlog produce --topic TOPIC" as a real process, feeds it the lines of FILE ten at a
// time through a pipe that stays open (each ten once the ten before are acknowledged, so that each becomes
// a batch of its own), and once it has acknowledged N messages kills it with SIGKILL, as a crash of the
// producing process: killproduce TOPIC FILE N. The acknowledgements go to $WORK/acks.txt.
func cmdKillProduce(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: killproduce TOPIC FILE N")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	input, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	lines := strings.SplitAfter(string(input), "\n")
	bin, err := lookPath(ts, "mqlog")
	ts.Check(err)
	cmd := exec.Command(bin, "produce", "--topic", args[0])
	cmd.Env = append(os.Environ(), "MQLOG_DIR="+ts.Getenv("MQLOG_DIR"))
	stdin, err := cmd.StdinPipe()
	ts.Check(err)
	stdout, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	defer stdin.Close() // (only after the kill: the producer waits for more until then)
	acks, err := os.Create(ts.MkAbs("acks.txt"))
	ts.Check(err)
	defer acks.Close()
	sc := bufio.NewScanner(stdout)
	for n := 0; n < want; {
		chunk := lines[min(n, len(lines)):min(n+10, len(lines))]
		if len(chunk) == 0 {
			break
		}
		_, err := io.WriteString(stdin, strings.Join(chunk, ""))
		ts.Check(err)
		for range chunk {
			if !sc.Scan() {
				ts.Fatalf("the producer stopped after %d acknowledgements", n)
			}
			fmt.Fprintln(acks, sc.Text())
			n++
		}
	}
	ts.Check(cmd.Process.Kill())
	cmd.Wait()
}

// cmdSigterm runs mqlog with ARGS as a real process, sends it SIGTERM after DURATION and waits for it to
// end, failing if it has not after 10 seconds: sigterm DURATION ARGS.... Its stderr becomes the script's
// stderr; the command fails (use "! sigterm") when the process exits non-zero.
func cmdSigterm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: sigterm DURATION ARGS...")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	bin, err := lookPath(ts, "mqlog")
	ts.Check(err)
	cmd := exec.Command(bin, args[1:]...)
	cmd.Env = append(os.Environ(), "MQLOG_DIR="+ts.Getenv("MQLOG_DIR"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ts.Check(cmd.Start())
	time.Sleep(d)
	ts.Check(cmd.Process.Signal(unix.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		ts.Fatalf("mqlog %s did not end after SIGTERM", strings.Join(args[1:], " "))
	}
	fmt.Fprint(ts.Stderr(), stderr.String())
	if (err != nil) != neg {
		ts.Fatalf("mqlog %s: %v", strings.Join(args[1:], " "), err)
	}
}

// lookPath finds name on the script's PATH (where testscript puts the commands of testscript.Main).
func lookPath(ts *testscript.TestScript, name string) (string, error) {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if path := filepath.Join(dir, name); fileExists(path) {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not on the script's PATH", name)
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// cmdFIFOManifest replaces the current manifest of the index of data directory DIR with a named pipe, so
// that opening the index blocks for ever (as an open on a device that never answers): fifomanifest DIR.
func cmdFIFOManifest(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fifomanifest DIR")
	}
	markers, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), mqlog.IndexDirName, "marker.manifest.*"))
	ts.Check(err)
	if len(markers) != 1 {
		ts.Fatalf("manifest markers: %v", markers)
	}
	name := filepath.Base(markers[0])
	manifest := filepath.Join(filepath.Dir(markers[0]), name[strings.Index(name, "MANIFEST-"):])
	ts.Check(os.Remove(manifest))
	ts.Check(unix.Mkfifo(manifest, 0o644))
}

// cmdPatchBatch damages one batch of a segment file: patchbatch FILE INDEX flip|length HEX|epoch N. INDEX is
// the batch's number among the file's valid batches, or "middle". flip inverts a byte of its records (a
// byte the CRC covers); length writes its length field; epoch its partitionLeaderEpoch (neither covered).
func cmdPatchBatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: patchbatch FILE INDEX flip|length HEX|epoch N")
	}
	path := ts.MkAbs(args[0])
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	info, err := f.Stat()
	ts.Check(err)
	var pos []int64
	_, err = segment.Scan(f, 0, info.Size(), segment.ScanOptions{NextOffset: -1, IgnoreEpochs: true},
		func(p int64, h segment.BatchHeader) error { pos = append(pos, p); return nil })
	ts.Check(err)
	i := len(pos) / 2
	if args[1] != "middle" {
		i, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	if i >= len(pos) {
		ts.Fatalf("%s has %d batches, no batch %d", args[0], len(pos), i)
	}
	at := pos[i]
	switch {
	case args[2] == "flip":
		b := make([]byte, 1)
		_, err = f.ReadAt(b, at+segment.HeaderSize+2)
		ts.Check(err)
		b[0] ^= 0x10
		_, err = f.WriteAt(b, at+segment.HeaderSize+2)
	case args[2] == "length" && len(args) == 4:
		b, herr := hex.DecodeString(args[3])
		ts.Check(herr)
		_, err = f.WriteAt(b, at+8)
	case args[2] == "epoch" && len(args) == 4:
		e, perr := strconv.ParseInt(args[3], 10, 32)
		ts.Check(perr)
		_, err = f.WriteAt([]byte{byte(e >> 24), byte(e >> 16), byte(e >> 8), byte(e)}, at+12)
	default:
		ts.Fatalf("usage: patchbatch FILE INDEX flip|length HEX|epoch N")
	}
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "patched batch %d at byte %d\n", i, at)
}

// runCLI runs the command line in this process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestLocked holds the writer's lock with mqlog.Open, as another process would, and checks that writing
// commands fail with a clear message while read-only ones still work.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "a\nb\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	want := fmt.Sprintf("data directory %s is in use by another mqlog process (LOCK held by pid %d, started ", dir, os.Getpid())
	for _, args := range [][]string{
		{"produce", "--topic", "t"},
		{"topic", "create", "u"},
		{"consume", "--topic", "t", "--group", "g"},
		{"inspect", "--groups"},
		{"topic", "delete", "t"},
		{"repair"},
		{"repair", "--execute"},
	} {
		code, stdout, stderr := runCLI(t, "c\n", append([]string{"--dir", dir}, args...)...)
		if code != exitError || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, stdout, stderr, want)
		}
	}
	for _, args := range [][]string{
		{"consume", "--topic", "t"},
		{"inspect"},
		{"topic", "list"},
		{"verify"},
		{"dump", "--topic", "t"},
	} {
		code, stdout, stderr := runCLI(t, "", append([]string{"--dir", dir}, args...)...)
		if code != exitOK || stdout == "" {
			t.Errorf("%v while locked: exit %d, stdout %q, stderr %q; want exit 0 and output", args, code, stdout, stderr)
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "a\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"bogus"}, exitUsage},
		{[]string{"inspect", "bogus"}, exitUsage},
		{[]string{"topic", "bogus"}, exitUsage},
		{[]string{"consume", "--bogus"}, exitUsage},
		{[]string{"consume"}, exitUsage},                                   // --topic missing
		{[]string{"consume", "--topic", "t", "-o", "yaml"}, exitUsage},     // bad -o
		{[]string{"consume", "--topic", "t", "--from", "soon"}, exitUsage}, // bad --from
		{[]string{"consume", "--topic", "t", "--format", "%x"}, exitUsage},
		{[]string{"consume", "--topic", "t", "--count", "x"}, exitUsage},
		{[]string{"consume", "--topic", "t", "--group", "g", "--partition", "0"}, exitUsage},
		{[]string{"consume", "--topic", "bad/name"}, exitUsage},
		{[]string{"produce", "--topic", "t", "--header", "novalue"}, exitUsage},
		{[]string{"topic", "create"}, exitUsage},
		{[]string{"topic", "create", "u", "--cleanup-policy", "never"}, exitUsage},
		{[]string{"inspect", "segment"}, exitUsage},
		{[]string{"consume", "--topic", "missing"}, exitError},
		{[]string{"consume", "--topic", "t", "--from", "5", "--offset-reset", "error"}, exitError},
		{[]string{"consume", "--topic", "t", "--from", "5"}, exitOK}, // (--offset-reset latest)
		{[]string{"consme", "-t", "x"}, exitUsage},
		{[]string{"topic", "creat", "x", "--partitions", "3"}, exitUsage},
		{[]string{"topic", "delete", "t"}, exitUsage}, // not a terminal, no --yes
		{[]string{"consume", "--topic", "t", "--offset-reset", "never"}, exitUsage},
		{[]string{"consume", "--topic", "t", "--nak"}, exitUsage},
		{[]string{"produce", "--topic", "t", "--compression", "rar"}, exitUsage},
		{[]string{"groups", "reset", "g", "--shift-by", "1", "--to-latest"}, exitUsage},
		{[]string{"--log-level", "loud", "inspect"}, exitUsage},
		{[]string{"consume", "--topic", "t", "--partition", "1"}, exitError},
		{[]string{"inspect", "--topic", "missing"}, exitError},
		{[]string{"inspect", "segment", filepath.Join(dir, "no.log")}, exitError},
		{[]string{"consume", "--topic", "t"}, exitOK},
		{[]string{"topic"}, exitOK}, // help
		{[]string{"completion", "bash"}, exitOK},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"--dir", dir}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
		if code != exitOK && !strings.HasPrefix(stderr, "Error: ") {
			t.Errorf("%v: stderr %q does not start with \"Error: \"", tc.args, stderr)
		}
	}
}

func TestCompleteTopics(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "a\n", "--dir", dir, "produce", "--topic", "orders")
	runCLI(t, "a\n", "--dir", dir, "produce", "--topic", "other")
	code, stdout, stderr := runCLI(t, "", "__complete", "--dir", dir, "consume", "--topic", "or")
	if code != exitOK || !strings.Contains(stdout, "orders\n") || strings.Contains(stdout, "other") {
		t.Errorf("completion: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestVerifyExitCodes checks verify's documented exit codes (0 clean, 1 corruption, 2 usage or I/O
// error), and the codes of the other commands on a damaged directory.
func TestVerifyExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "a\nb\n", "--dir", dir, "produce", "--topic", "t"); code != exitOK {
		t.Fatalf("produce: exit %d, %s", code, stderr)
	}
	seg := filepath.Join(dir, mqlog.TopicsDirName, "t-0", "00000000000000000000.log")
	check := func(want int, args ...string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, "", append([]string{"--dir", dir}, args...)...)
		if code != want {
			t.Errorf("%v: exit %d, want %d (stdout %q, stderr %q)", args, code, want, stdout, stderr)
		}
		if code != exitOK && !strings.HasPrefix(stderr, "Error: ") {
			t.Errorf("%v: stderr %q does not start with \"Error: \"", args, stderr)
		}
	}
	check(exitOK, "verify")
	check(exitOK, "repair")
	check(exitOK, "dump", seg)
	check(exitUsage, "verify", "--bogus")
	check(exitUsage, "verify", "extra")
	check(exitUsage, "verify", "--topic", "bad/name")
	check(exitVerifyError, "verify", "--topic", "missing")
	check(exitVerifyError, "--dir", filepath.Join(dir, "none"), "verify")
	check(exitUsage, "repair", "--execute=x")
	check(exitUsage, "dump")
	check(exitUsage, "dump", seg, "--value-format", "x")
	check(exitUsage, "topic", "delete")

	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	check(exitCorrupt, "verify")
	check(exitCorrupt, "verify", "-o", "json")
	check(exitError, "dump", seg)
	check(exitError, "inspect", "segment", seg)
	check(exitOK, "repair")
	check(exitOK, "repair", "--execute")
	check(exitOK, "verify")
}
