package mqlog

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// linearOffsetForTime is the reference: the first record at or after ms, by reading everything.
func linearOffsetForTime(t *testing.T, db *DB, topic string, ms int64) int64 {
	t.Helper()
	var n int64
	for rec, err := range db.Read(topic, 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Timestamp.UnixMilli() >= ms {
			return rec.Offset
		}
		n = rec.Offset + 1
	}
	return n
}

// TestOffsetForTime compares the indexed lookup with a full scan over many segments and index entries,
// with timestamps that mostly rise but sometimes step back (producers' clocks), then again after the
// index lost every entry (derived data), after a reopen, and on a read-only DB.
func TestOffsetForTime(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/data", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 2048}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	ts := int64(1_000_000)
	var lo, hi int64 = ts, ts
	for i := range 400 {
		ts += rng.Int64N(20)
		stamp := ts
		if i%17 == 0 {
			stamp -= 200 // out of order
		}
		lo, hi = min(lo, stamp), max(hi, stamp)
		msgs := []Message{{Value: make([]byte, 40), Timestamp: time.UnixMilli(stamp)}}
		if i%5 == 0 {
			msgs = append(msgs, Message{Value: make([]byte, 10), Timestamp: time.UnixMilli(stamp + 1)})
		}
		if _, err := db.Append(context.Background(), "t", msgs...); err != nil {
			t.Fatal(err)
		}
	}
	if parts, err := db.Partitions("t"); err != nil || len(parts[0].Segments) < 5 {
		t.Fatalf("want many segments to skip: %v, %v", parts, err)
	}
	if _, ok, err := db.store.LastEntryBeforeTime("t", 0, hi); !ok || err != nil {
		t.Fatalf("the index has no entry to start from: %v", err)
	}
	check := func(db *DB, what string) {
		t.Helper()
		for ms := lo - 3; ms <= hi+3; ms += 1 + rng.Int64N(4) {
			want := linearOffsetForTime(t, db, "t", ms)
			got, err := db.OffsetForTime("t", 0, time.UnixMilli(ms))
			if err != nil || got != want {
				t.Fatalf("%s: OffsetForTime(%d) = %d, %v; a scan says %d", what, ms, got, err, want)
			}
		}
	}
	check(db, "indexed")
	if err := db.store.DeleteEntriesFrom("t", 0, 0); err != nil {
		t.Fatal(err)
	}
	check(db, "without index entries")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open("/data", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	check(db, "reopened")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly("/data", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	check(ro, "read-only")
	if _, err := ro.OffsetForTime("nope", 0, time.Now()); err == nil {
		t.Fatal("missing topic: no error")
	}
}
