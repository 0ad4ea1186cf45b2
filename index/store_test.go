package index

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// openMem opens a store on a fresh in-memory filesystem and closes it at the end of the test.
func openMem(t testing.TB) (*Store, vfs.FS) {
	t.Helper()
	fs := vfs.NewMem()
	return openFS(t, fs, "data/index"), fs
}

// openFS opens a store in dir of fs and closes it at the end of the test, unless the test did.
func openFS(t testing.TB, fs vfs.FS, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{FS: fs})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := t.TempDir() + "/data/index"
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if info, err := vfs.Default.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of the created store: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := openMem(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"PutTopic":      s.PutTopic("a", nil),
		"SaveLogState":  s.SaveLogState("a", 0, nil),
		"AddEntries":    s.AddEntries("a", 0, nil),
		"CommitOffsets": s.CommitOffsets("g", nil),
		"DeleteGroup":   s.DeleteGroup("g"),
	}
	_, err := s.Topics()
	checks["Topics"] = err
	_, _, err = s.FloorEntry("a", 0, 1)
	checks["FloorEntry"] = err
	_, err = s.Groups()
	checks["Groups"] = err
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestReadOnly(t *testing.T) {
	fs := vfs.NewMem()
	if _, err := Open("missing", Options{FS: fs, ReadOnly: true}); err == nil {
		t.Fatal("read-only Open of a missing store succeeded")
	}
	if _, err := fs.Stat("missing"); err == nil {
		t.Fatal("read-only Open created the directory")
	}

	s := openFS(t, fs, "data/index")
	if err := s.PutTopic("orders", []byte("cfg")); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets("billing", []GroupOffset{{Topic: "orders", Partition: 0, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := Open("data/index", Options{FS: fs, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open: %v", err)
	}
	defer ro.Close()
	if cfg, ok, err := ro.Topic("orders"); err != nil || !ok || string(cfg) != "cfg" {
		t.Fatalf("Topic = %q, %v, %v", cfg, ok, err)
	}
	if off, _, ok, err := ro.GroupOffset("billing", "orders", 0); err != nil || !ok || off != 7 {
		t.Fatalf("GroupOffset = %d, %v, %v", off, ok, err)
	}
	writes := map[string]error{
		"PutTopic":            ro.PutTopic("b", nil),
		"DeleteTopic":         ro.DeleteTopic("orders", nil),
		"SaveLogState":        ro.SaveLogState("orders", 0, []byte{1}),
		"AddEntries":          ro.AddEntries("orders", 0, []Entry{{Offset: 1}}),
		"DeleteEntriesFrom":   ro.DeleteEntriesFrom("orders", 0, 0),
		"DeleteEntriesBefore": ro.DeleteEntriesBefore("orders", 0, 5),
		"CommitOffsets":       ro.CommitOffsets("billing", []GroupOffset{{Topic: "orders", Offset: 8}}),
		"DeleteGroup":         ro.DeleteGroup("billing"),
	}
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only store = %v, want ErrReadOnly", name, err)
		}
	}
}

func TestTopics(t *testing.T) {
	s, _ := openMem(t)
	if names, err := s.Topics(); err != nil || len(names) != 0 {
		t.Fatalf("Topics of an empty store = %q, %v", names, err)
	}
	if _, ok, err := s.Topic("orders"); err != nil || ok {
		t.Fatalf("Topic of a missing topic: ok %v, err %v", ok, err)
	}
	for _, name := range []string{"orders", "a.b", "a", "Z-9_x", "a-"} {
		if err := s.PutTopic(name, []byte("config of "+name)); err != nil {
			t.Fatalf("PutTopic(%q): %v", name, err)
		}
	}
	if err := s.PutTopic("orders", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTopic("empty", nil); err != nil {
		t.Fatal(err)
	}
	names, err := s.Topics()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Z-9_x", "a", "a-", "a.b", "empty", "orders"}
	if !slices.Equal(names, want) {
		t.Fatalf("Topics = %q, want %q", names, want)
	}
	if cfg, ok, err := s.Topic("orders"); err != nil || !ok || string(cfg) != "new" {
		t.Fatalf("Topic(orders) = %q, %v, %v", cfg, ok, err)
	}
	if cfg, ok, err := s.Topic("empty"); err != nil || !ok || len(cfg) != 0 {
		t.Fatalf("Topic(empty) = %q, %v, %v", cfg, ok, err)
	}
	if cfg, ok, err := s.Topic("a"); err != nil || !ok || string(cfg) != "config of a" {
		t.Fatalf("Topic(a) = %q, %v, %v", cfg, ok, err)
	}
}

func TestInvalidNames(t *testing.T) {
	s, _ := openMem(t)
	for _, name := range []string{"", ".", "..", "a b", "a/b", "a\x00b", "ä", strings.Repeat("x", 250)} {
		if err := s.PutTopic(name, nil); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("PutTopic(%q) = %v, want ErrInvalidTopic", name, err)
		}
	}
	if err := s.PutTopic(strings.Repeat("x", 249), nil); err != nil {
		t.Errorf("PutTopic of 249 characters: %v", err)
	}
	for _, group := range []string{"", "a\x00b", "\x00"} {
		if err := s.CommitOffsets(group, []GroupOffset{{Topic: "t", Offset: 1}}); !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("CommitOffsets(%q) = %v, want ErrInvalidGroup", group, err)
		}
		if err := s.DeleteGroup(group); !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("DeleteGroup(%q) = %v, want ErrInvalidGroup", group, err)
		}
	}
	if err := s.SaveLogState("t", -1, nil); !errors.Is(err, ErrInvalidPartition) {
		t.Errorf("SaveLogState partition -1 = %v, want ErrInvalidPartition", err)
	}
	if err := s.CommitOffsets("g", []GroupOffset{{Topic: "t", Offset: -1}}); !errors.Is(err, ErrInvalidOffset) {
		t.Errorf("CommitOffsets offset -1 = %v, want ErrInvalidOffset", err)
	}
	if err := s.AddEntries("t", 0, []Entry{{Offset: -1}}); !errors.Is(err, ErrInvalidOffset) {
		t.Errorf("AddEntries offset -1 = %v, want ErrInvalidOffset", err)
	}
	if err := s.AddEntries("t", 0, []Entry{{Offset: 1, Position: -1}}); !errors.Is(err, ErrInvalidOffset) {
		t.Errorf("AddEntries position -1 = %v, want ErrInvalidOffset", err)
	}
	// A group name may hold any other byte.
	odd := "grp/ \xff\x01ü"
	if err := s.CommitOffsets(odd, []GroupOffset{{Topic: "t", Offset: 3}}); err != nil {
		t.Fatalf("CommitOffsets(%q): %v", odd, err)
	}
	if off, _, ok, err := s.GroupOffset(odd, "t", 0); err != nil || !ok || off != 3 {
		t.Fatalf("GroupOffset(%q) = %d, %v, %v", odd, off, ok, err)
	}
}

func TestLogState(t *testing.T) {
	s, fs := openMem(t)
	if state, err := s.LogState("orders", 0); err != nil || state != nil {
		t.Fatalf("LogState of a missing partition = %v, %v; want nil, nil", state, err)
	}
	for p, state := range map[int32]string{0: "zero", 1: "one", 10: "ten"} {
		if err := s.SaveLogState("orders", p, []byte(state)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveLogState("orders.x", 1, []byte("other topic")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLogState("orders", 1, []byte("one again")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFS(t, fs, "data/index")
	for p, want := range map[int32]string{0: "zero", 1: "one again", 10: "ten"} {
		if state, err := s.LogState("orders", p); err != nil || string(state) != want {
			t.Errorf("LogState(orders, %d) = %q, %v; want %q", p, state, err, want)
		}
	}
	if state, err := s.LogState("orders", 2); err != nil || state != nil {
		t.Errorf("LogState(orders, 2) = %q, %v; want nil", state, err)
	}
}

func TestDeleteTopic(t *testing.T) {
	s, _ := openMem(t)
	for _, topic := range []string{"a", "a.b", "b"} {
		if err := s.PutTopic(topic, []byte(topic)); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 3; p++ {
			if err := s.SaveLogState(topic, p, []byte(topic)); err != nil {
				t.Fatal(err)
			}
			if err := s.AddEntries(topic, p, []Entry{{Offset: 0}, {Offset: 10, Position: 4096}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, group := range []string{"g1", "g2"} {
			if err := s.CommitOffsets(group, []GroupOffset{{Topic: topic, Partition: 0, Offset: 5}, {Topic: topic, Partition: 2, Offset: 6}}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveAckState(AckState{Group: "q" + group, Topic: topic, Partition: 1, Floor: 3}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteTopic("a", []byte("tombstone of a")); err != nil {
		t.Fatal(err)
	}
	if tombs, err := s.Tombstones(); err != nil || len(tombs) != 1 || string(tombs["a"]) != "tombstone of a" {
		t.Fatalf("Tombstones after deleting a = %q, %v", tombs, err)
	}
	states, err := s.AckStates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.Topic == "a" {
			t.Errorf("ack state %+v of the deleted topic survived", st)
		}
	}
	if len(states) != 4 {
		t.Errorf("%d ack states left, want the 4 of a.b and b: %+v", len(states), states)
	}
	if err := s.DeleteTopic("never", nil); err != nil {
		t.Fatalf("DeleteTopic of a missing topic: %v", err)
	}

	if names, err := s.Topics(); err != nil || !slices.Equal(names, []string{"a.b", "b"}) {
		t.Fatalf("Topics = %q, %v", names, err)
	}
	if _, ok, err := s.Topic("a"); err != nil || ok {
		t.Fatalf("Topic(a) after delete: ok %v, err %v", ok, err)
	}
	for p := int32(0); p < 3; p++ {
		if state, err := s.LogState("a", p); err != nil || state != nil {
			t.Errorf("LogState(a, %d) after delete = %q, %v", p, state, err)
		}
		if e, ok, err := s.FloorEntry("a", p, 100); err != nil || ok {
			t.Errorf("FloorEntry(a, %d) after delete = %+v, %v, %v", p, e, ok, err)
		}
		for _, topic := range []string{"a.b", "b"} {
			if state, err := s.LogState(topic, p); err != nil || string(state) != topic {
				t.Errorf("LogState(%s, %d) = %q, %v", topic, p, state, err)
			}
			if e, ok, err := s.FloorEntry(topic, p, 100); err != nil || !ok || e.Offset != 10 {
				t.Errorf("FloorEntry(%s, %d) = %+v, %v, %v", topic, p, e, ok, err)
			}
		}
	}
	for _, group := range []string{"g1", "g2"} {
		offsets, err := s.GroupOffsets(group)
		if err != nil {
			t.Fatal(err)
		}
		want := []GroupOffset{{"a.b", 0, 5, 0, 0, ""}, {"a.b", 2, 6, 0, 0, ""}, {"b", 0, 5, 0, 0, ""}, {"b", 2, 6, 0, 0, ""}}
		if !slices.Equal(offsets, want) {
			t.Errorf("GroupOffsets(%s) = %v, want %v", group, offsets, want)
		}
	}
}

// TestCorruptValues writes values of the wrong length under valid keys with Pebble directly and checks
// that every reader reports them as ErrCorruptValue naming the key.
func TestCorruptValues(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("idx", &pebble.Options{FS: fs, Logger: newPebbleLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string][]byte{
		string(groupKey("g", "t", 0)):   {1, 2, 3},
		string(groupKey("neg", "t", 0)): {0xff, 0, 0, 0, 0, 0, 0, 0},
		string(entryKey("t", 0, 5)):     make([]byte, 15),
		string(entryKey("t", 1, 5)):     make([]byte, 17),
		string(entryKey("u", 0, 5)):     make([]byte, 16),
	} {
		if err := db.Set([]byte(key), value, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	// A key of the wrong length inside a partition's range.
	if err := db.Set(append(entryKey("u", 0, 6), 9), make([]byte, 16), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openFS(t, fs, "idx")
	check := func(name string, err error, sentinel error) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Errorf("%s = %v, want %v", name, err, sentinel)
		} else if !strings.HasPrefix(err.Error(), "mqlog/index: corrupt") || !strings.Contains(err.Error(), "key") {
			t.Errorf("%s error %q does not name the key", name, err)
		}
	}
	_, _, _, err = s.GroupOffset("g", "t", 0)
	check("GroupOffset(g)", err, ErrCorruptValue)
	_, _, _, err = s.GroupOffset("neg", "t", 0)
	check("GroupOffset(neg)", err, ErrCorruptValue)
	_, err = s.GroupOffsets("g")
	check("GroupOffsets(g)", err, ErrCorruptValue)
	_, _, err = s.FloorEntry("t", 0, 10)
	check("FloorEntry(t, 0)", err, ErrCorruptValue)
	_, _, err = s.LastEntryBeforeTime("t", 1, math.MaxInt64)
	check("LastEntryBeforeTime(t, 1)", err, ErrCorruptValue)
	_, _, err = s.FloorEntry("u", 0, 10)
	check("FloorEntry(u, 0)", err, ErrCorruptKey)
	if e, ok, err := s.FloorEntry("u", 0, 5); err != nil || !ok || e.Offset != 5 {
		t.Errorf("FloorEntry(u, 0, 5) = %+v, %v, %v", e, ok, err)
	}
}

// recordHandler is a slog.Handler that keeps the records it handles.
type recordHandler struct {
	records *[]slog.Record
}

func (h recordHandler) Enabled(_ context.Context, _ slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r)
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestPebbleLogger(t *testing.T) {
	var records []slog.Record
	l := newPebbleLogger(slog.New(recordHandler{&records}))
	l.Infof("flushed %d tables\n", 3)
	l.Errorf("background error: %v", errors.New("disk full"))
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "manifest gone") {
				t.Errorf("Fatalf recovered %v, want a panic with the message", r)
			}
		}()
		l.Fatalf("manifest %s", "gone")
		t.Error("Fatalf returned")
	}()
	want := []struct {
		level slog.Level
		msg   string
	}{{slog.LevelInfo, "flushed 3 tables"}, {slog.LevelError, "background error: disk full"}, {slog.LevelError, "manifest gone"}}
	if len(records) != len(want) {
		t.Fatalf("got %d records, want %d", len(records), len(want))
	}
	for i, w := range want {
		if records[i].Level != w.level || records[i].Message != w.msg {
			t.Errorf("record %d = %v %q, want %v %q", i, records[i].Level, records[i].Message, w.level, w.msg)
		}
	}

	// Silent when nil: nothing to observe but that it does not panic or write to stderr.
	newPebbleLogger(nil).Infof("nothing")

}
