package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/rogpeppe/go-internal/testscript"
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
			"flipbyte": cmdFlipByte,
			"truncate": cmdTruncate,
			"zero":     cmdZero,
			"sleep":    cmdSleep,
		},
	})
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

	want := fmt.Sprintf("data directory %s is in use by another mqlog process (LOCK held)", dir)
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
		{[]string{"consume", "--topic", "t", "--from", "5"}, exitError},
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
