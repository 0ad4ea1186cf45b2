// Package storetest is a conformance suite for hashicorp/raft's LogStore and StableStore, which raft does
// not ship: every method, the empty store, gaps, DeleteRange at the head and at the tail, reopen. Run it
// against any store with Run; package raftstore runs it against raft.InmemStore and its own Store, and the
// module raftstore/conformance against raft-wal too, so that the three are shown to behave the same where
// raft relies on them, and to differ only where a Harness says so (gaps and middle ranges, which raft
// never writes to a monotonic store).
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Store is what the suite tests: a raft log store and stable store in one value.
type Store interface {
	raft.LogStore
	raft.StableStore
}

// Harness describes a store to Run.
type Harness struct {
	// Open returns the store kept in dir (a new, empty directory for each test, the same one for a reopen).
	Open func(t testing.TB, dir string) Store
	// Close closes a store returned by Open (nil: nothing to close).
	Close func(s Store) error
	// Persistent says the store keeps its content across Close and Open of the same dir.
	Persistent bool
	// Gaps says StoreLogs accepts entries that do not follow the last index (raft.InmemStore does; a
	// raft.MonotonicLogStore refuses them with an error and changes nothing).
	Gaps bool
	// MiddleRanges says DeleteRange accepts a range inside the log (raft.InmemStore does; raft-wal and
	// raftstore refuse it with an error and change nothing).
	MiddleRanges bool
	// StaleHead says GetLog below FirstIndex, after a DeleteRange at the head, may still return the deleted
	// entry instead of raft.ErrLogNotFound (raft-wal does until the segment holding it is removed; raft
	// never reads below FirstIndex).
	StaleHead bool
	// Skip names cases of Run not to run, each with the reason (a known bug of the store, say).
	Skip map[string]string
}

// Entry returns the test entry of index i in term term: data and extensions that name them, a timestamp.
func Entry(i, term uint64) *raft.Log {
	l := &raft.Log{
		Index: i, Term: term, Type: raft.LogCommand,
		Data:       fmt.Appendf(nil, "entry %d of term %d", i, term),
		AppendedAt: time.Unix(1700000000, int64(i)*1000+7),
	}
	if i%3 == 0 {
		l.Extensions = fmt.Appendf(nil, "ext %d", i)
	}
	if i%5 == 0 {
		l.Type = raft.LogNoop
		l.Data = nil
	}
	return l
}

// Entries returns Entry(i, term) for i in [from, to].
func Entries(from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, Entry(i, term))
	}
	return out
}

// Run runs the suite on the store that h opens, one subtest per case.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Empty", testEmpty},
		{"StoreAndGet", testStoreAndGet},
		{"Gaps", testGaps},
		{"DeleteHead", testDeleteHead},
		{"DeleteTail", testDeleteTail},
		{"DeleteAllThenStart", testDeleteAllThenStart},
		{"DeleteMiddle", testDeleteMiddle},
		{"Stable", testStable},
		{"Reopen", testReopen},
		{"ReopenAfterTailCut", testReopenAfterTailCut},
		{"LargeEntries", testLargeEntries},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := h.Skip[c.name]; ok {
				t.Skip(why)
			}
			c.fn(t, h)
		})
	}
}

func open(t *testing.T, h Harness, dir string) Store {
	t.Helper()
	s := h.Open(t, dir)
	t.Cleanup(func() { closeStore(t, h, s) })
	return s
}

func closeStore(t *testing.T, h Harness, s Store) {
	if h.Close != nil {
		h.Close(s) // (a second Close, at cleanup after a reopen test closed it, may fail)
	}
}

// CheckBounds fails t unless s holds [first, last] (0, 0: empty).
func CheckBounds(t testing.TB, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("store holds [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

// CheckEntries fails t unless s holds want, entry by entry.
func CheckEntries(t testing.TB, s raft.LogStore, want []*raft.Log) {
	t.Helper()
	for _, w := range want {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", w.Index, err)
		}
		if err := SameEntry(&got, w); err != nil {
			t.Fatal(err)
		}
	}
}

// SameEntry compares every field raft stores (nil and empty byte slices are the same; times to the
// nanosecond).
func SameEntry(got, want *raft.Log) error {
	if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
		!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
		got.AppendedAt.UnixNano() != want.AppendedAt.UnixNano() {
		return fmt.Errorf("entry %d: got %+v, want %+v", want.Index, *got, *want)
	}
	return nil
}

// CheckNotFound fails t unless GetLog of each index is raft.ErrLogNotFound.
func CheckNotFound(t testing.TB, s raft.LogStore, indexes ...uint64) {
	t.Helper()
	for _, i := range indexes {
		var l raft.Log
		if err := s.GetLog(i, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) = %v, %+v; want raft.ErrLogNotFound", i, err, l)
		}
	}
}

func store(t testing.TB, s raft.LogStore, logs []*raft.Log) {
	t.Helper()
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("StoreLogs [%d, %d]: %v", logs[0].Index, logs[len(logs)-1].Index, err)
	}
}

func deleteRange(t testing.TB, s raft.LogStore, min, max uint64) {
	t.Helper()
	if err := s.DeleteRange(min, max); err != nil {
		t.Fatalf("DeleteRange(%d, %d): %v", min, max, err)
	}
}

func testEmpty(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	CheckBounds(t, s, 0, 0)
	CheckNotFound(t, s, 0, 1, 2, 1<<40)
	deleteRange(t, s, 1, 10) // nothing to delete
	CheckBounds(t, s, 0, 0)
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil): %v", err)
	}
	CheckBounds(t, s, 0, 0)
}

func testStoreAndGet(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	if err := s.StoreLog(Entry(1, 1)); err != nil {
		t.Fatal(err)
	}
	CheckBounds(t, s, 1, 1)
	store(t, s, Entries(2, 10, 1))
	store(t, s, Entries(11, 11, 2))
	store(t, s, Entries(12, 300, 2))
	CheckBounds(t, s, 1, 300)
	want := append(append(Entries(1, 10, 1), Entries(11, 11, 2)...), Entries(12, 300, 2)...)
	CheckEntries(t, s, want)
	// Backwards and at random, not only in order.
	for i := len(want) - 1; i >= 0; i -= 7 {
		CheckEntries(t, s, want[i:i+1])
	}
	CheckNotFound(t, s, 0, 301, 1000)
	// An empty and a nil Data read back alike.
	e := Entry(301, 2)
	e.Data = []byte{}
	store(t, s, []*raft.Log{e})
	CheckEntries(t, s, []*raft.Log{e})
}

func testGaps(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	store(t, s, Entries(1, 10, 1))
	err := s.StoreLogs(Entries(12, 15, 1))
	if h.Gaps {
		if err != nil {
			t.Fatalf("a store that takes gaps refused one: %v", err)
		}
		CheckBounds(t, s, 1, 15)
		CheckNotFound(t, s, 11)
		return
	}
	if err == nil {
		t.Fatal("StoreLogs after a gap: no error from a monotonic store")
	}
	CheckBounds(t, s, 1, 10)
	if err := s.StoreLogs(Entries(5, 12, 1)); err == nil { // overlapping
		t.Fatal("StoreLogs over stored indexes: no error from a monotonic store")
	}
	gap := append(Entries(11, 12, 1), Entry(14, 1))
	if err := s.StoreLogs(gap); err == nil {
		t.Fatal("StoreLogs with a gap inside the call: no error from a monotonic store")
	}
	CheckNotFound(t, s, 14)
	if l, _ := s.LastIndex(); l != 10 && l != 12 {
		t.Fatalf("last index %d after a refused call", l) // (raft-wal may keep the entries before the gap)
	}
}

func testDeleteHead(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	store(t, s, Entries(1, 500, 1))
	deleteRange(t, s, 1, 100)
	CheckBounds(t, s, 101, 500)
	if !h.StaleHead {
		CheckNotFound(t, s, 1, 100)
	}
	CheckEntries(t, s, Entries(101, 500, 1))
	deleteRange(t, s, 1, 100) // already gone
	CheckBounds(t, s, 101, 500)
	deleteRange(t, s, 50, 250) // starts below the first index
	CheckBounds(t, s, 251, 500)
	CheckEntries(t, s, Entries(251, 251, 1))
	store(t, s, Entries(501, 510, 2)) // appends go on
	CheckBounds(t, s, 251, 510)
	CheckEntries(t, s, Entries(501, 510, 2))
}

func testDeleteTail(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	store(t, s, Entries(1, 500, 1))
	deleteRange(t, s, 401, 500)
	CheckBounds(t, s, 1, 400)
	CheckNotFound(t, s, 401, 500)
	store(t, s, Entries(401, 450, 2)) // the conflicting suffix rewritten in a new term
	CheckEntries(t, s, Entries(395, 400, 1))
	CheckEntries(t, s, Entries(401, 450, 2))
	deleteRange(t, s, 420, 1000) // past the last index
	CheckBounds(t, s, 1, 419)
	deleteRange(t, s, 2, 419) // all but the first
	CheckBounds(t, s, 1, 1)
	store(t, s, Entries(2, 3, 3))
	CheckEntries(t, s, append(Entries(1, 1, 1), Entries(2, 3, 3)...))
}

func testDeleteAllThenStart(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	store(t, s, Entries(1, 100, 1))
	// What raft does on a monotonic store after installing a snapshot: everything goes, the log goes on
	// after the snapshot's index, which may lie past the old log or inside it.
	deleteRange(t, s, 1, 100)
	CheckBounds(t, s, 0, 0)
	CheckNotFound(t, s, 1, 50, 100)
	store(t, s, Entries(1001, 1010, 2))
	CheckBounds(t, s, 1001, 1010)
	CheckEntries(t, s, Entries(1001, 1010, 2))
	deleteRange(t, s, 1001, 1010)
	store(t, s, Entries(60, 70, 3)) // below where the log was
	CheckBounds(t, s, 60, 70)
	CheckEntries(t, s, Entries(60, 70, 3))
	CheckNotFound(t, s, 1001, 59)
	deleteRange(t, s, 1, 100_000) // a head range past the last index empties the log too
	CheckBounds(t, s, 0, 0)
	store(t, s, Entries(71, 71, 3))
	CheckBounds(t, s, 71, 71)
}

func testDeleteMiddle(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	store(t, s, Entries(1, 100, 1))
	err := s.DeleteRange(40, 60)
	if h.MiddleRanges {
		if err != nil {
			t.Fatal(err)
		}
		CheckNotFound(t, s, 40, 60)
		return
	}
	if err == nil {
		t.Fatal("DeleteRange in the middle: no error")
	}
	CheckBounds(t, s, 1, 100)
	CheckEntries(t, s, Entries(1, 100, 1))
}

func testStable(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	if v, err := s.Get([]byte("missing")); len(v) != 0 || err != nil && err.Error() != "not found" {
		t.Fatalf("Get of a missing key: %q, %v; raft accepts an empty value or an error saying exactly \"not found\"", v, err)
	}
	if v, err := s.GetUint64([]byte("missing")); v != 0 || err != nil {
		t.Fatalf("GetUint64 of a missing key: %d, %v", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<63+5); err != nil { // overwritten
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("Get: %q %v", v, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<63+5 {
		t.Fatalf("GetUint64: %d %v", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-3")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-3" {
		t.Fatalf("Get after overwrite: %q %v", v, err)
	}
}

// reopen closes s and opens the store of dir again.
func reopen(t *testing.T, h Harness, s Store, dir string) Store {
	t.Helper()
	if h.Close != nil {
		if err := h.Close(s); err != nil {
			t.Fatal(err)
		}
	}
	return open(t, h, dir)
}

func testReopen(t *testing.T, h Harness) {
	if !h.Persistent {
		t.Skip("the store keeps nothing across a reopen")
	}
	dir := t.TempDir()
	s := h.Open(t, dir)
	store(t, s, Entries(1, 300, 1))
	deleteRange(t, s, 1, 50)
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("me")); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, h, s, dir)
	CheckBounds(t, s, 51, 300)
	CheckNotFound(t, s, 301)
	if !h.StaleHead {
		CheckNotFound(t, s, 50)
	}
	CheckEntries(t, s, Entries(51, 300, 1))
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
		t.Fatalf("CurrentTerm after reopen: %d %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "me" {
		t.Fatalf("LastVoteCand after reopen: %q %v", v, err)
	}
	store(t, s, Entries(301, 301, 2))
	CheckBounds(t, s, 51, 301)
	// Emptied, then reopened: still empty, and it starts anew anywhere.
	deleteRange(t, s, 51, 301)
	s = reopen(t, h, s, dir)
	CheckBounds(t, s, 0, 0)
	store(t, s, Entries(5000, 5001, 3))
	CheckBounds(t, s, 5000, 5001)
	s = reopen(t, h, s, dir)
	CheckEntries(t, s, Entries(5000, 5001, 3))
}

func testReopenAfterTailCut(t *testing.T, h Harness) {
	if !h.Persistent {
		t.Skip("the store keeps nothing across a reopen")
	}
	dir := t.TempDir()
	s := h.Open(t, dir)
	store(t, s, Entries(1, 300, 1))
	deleteRange(t, s, 281, 300)
	store(t, s, Entries(281, 290, 2))
	s = reopen(t, h, s, dir)
	CheckBounds(t, s, 1, 290)
	CheckNotFound(t, s, 291)
	CheckEntries(t, s, append(Entries(1, 280, 1), Entries(281, 290, 2)...))
	deleteRange(t, s, 290, 290) // the last entry alone, then reopen without appending
	s = reopen(t, h, s, dir)
	CheckBounds(t, s, 1, 289)
	store(t, s, Entries(290, 291, 3))
	CheckEntries(t, s, Entries(290, 291, 3))
}

func testLargeEntries(t *testing.T, h Harness) {
	s := open(t, h, t.TempDir())
	var logs []*raft.Log
	for i := uint64(1); i <= 8; i++ {
		e := Entry(i, 1)
		e.Data = bytes.Repeat([]byte{byte(i)}, 256<<10)
		logs = append(logs, e)
	}
	store(t, s, logs)
	CheckEntries(t, s, logs)
}
