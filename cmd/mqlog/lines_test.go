package main

import (
	"io"
	"strings"
	"testing"
)

// TestLineReaderGroups checks that a group takes what is buffered, complete lines only.
func TestLineReaderGroups(t *testing.T) {
	pr, pw := io.Pipe()
	r := newLineReader(pr, 10)
	go func() {
		pw.Write([]byte("a\nbb\ncc")) // "cc" is incomplete: it waits for the next write
		pw.Write([]byte("c\n"))
		pw.Write([]byte("last"))
		pw.Close()
	}()
	var got []string
	for {
		group, err := r.nextGroup()
		if len(group) > 0 {
			var lines []string
			for _, l := range group {
				lines = append(lines, string(l))
			}
			got = append(got, strings.Join(lines, ","))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := "a,bb|ccc|last"
	if strings.Join(got, "|") != want {
		t.Errorf("groups %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestLineReaderTooLong(t *testing.T) {
	r := newLineReader(strings.NewReader("ok\n12345678901\nnext\n"), 10)
	group, err := r.nextGroup()
	if len(group) != 1 || string(group[0]) != "ok" {
		t.Errorf("group %q, want [ok]", group)
	}
	if err == nil || !strings.Contains(err.Error(), "line 2 ") {
		t.Errorf("error %v, want one naming line 2", err)
	}
}

func TestParseFrom(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind fromKind
		n    int64
		bad  bool
	}{
		{in: "earliest", kind: fromEarliest},
		{in: "latest", kind: fromLatest},
		{in: "42", kind: fromOffset, n: 42},
		{in: "-3", kind: fromBack, n: 3},
		{in: "@1700000000000", kind: fromTime, n: 1700000000000},
		{in: "@2023-11-14T22:13:20Z", kind: fromTime, n: 1700000000000},
		{in: "@yesterday", bad: true},
		{in: "soon", bad: true},
		{in: "--1", bad: true},
	} {
		spec, err := parseFrom(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseFrom(%q) = %+v, want an error", tc.in, spec)
			}
			continue
		}
		if err != nil || spec.kind != tc.kind || spec.n != tc.n {
			t.Errorf("parseFrom(%q) = %+v, %v; want kind %d n %d", tc.in, spec, err, tc.kind, tc.n)
		}
	}
}

func TestParseRecordFormat(t *testing.T) {
	for _, bad := range []string{"%x", "abc%", `\q`, `x\`} {
		if _, err := parseRecordFormat(bad); err == nil {
			t.Errorf("parseRecordFormat(%q) succeeded, want an error", bad)
		}
	}
	tokens, err := parseRecordFormat(`%p:%o %%\t%v\n`)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, tok := range tokens {
		if tok.field != 0 {
			kinds = append(kinds, "%"+string(tok.field))
		} else {
			kinds = append(kinds, string(tok.literal))
		}
	}
	if got, want := strings.Join(kinds, "|"), "%p|:|%o| %\t|%v|\n"; got != want {
		t.Errorf("tokens %q, want %q", got, want)
	}
}
