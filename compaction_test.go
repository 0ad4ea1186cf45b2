package mqlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openCleanerTestDB(t *testing.T, fs vfs.FS, opts Options) *DB {
	t.Helper()
	opts.FS = fs
	if opts.RetentionCheckInterval == 0 {
		opts.RetentionCheckInterval = -1
	}
	db, err := Open("/d", &opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// A compacted topic read end to end, by Read and by a group consumer, matches the model "latest value
// per key" (with the active segment's records on top), across several passes of a small key map, and
// again after reopen.
func TestCompactedTopicEndToEnd(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{CompactionMapBytes: 1}) // the smallest map: many passes
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1024, CleanupPolicy: CleanupCompact}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	type entry struct {
		offset int64
		value  string
	}
	latest := map[string]entry{}
	for i := range 500 {
		k := fmt.Sprintf("key-%02d", rng.IntN(40))
		v := fmt.Sprintf("value-%d", i)
		pos, err := db.Append(ctx, "t", Message{Key: []byte(k), Value: []byte(v), Headers: []Header{{Key: "i", Value: []byte(v)}}})
		if err != nil {
			t.Fatal(err)
		}
		latest[k] = entry{pos[0].Offset, v}
	}
	reports, err := db.Compact(ctx, CompactOptions{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	rep := reports[0]
	t.Logf("%+v %+v", rep, *rep.Compaction)
	if rep.Compaction.Passes < 2 || rep.RecordsAfter >= rep.RecordsBefore || rep.BytesAfter >= rep.BytesBefore || rep.SegmentsAfter >= rep.SegmentsBefore {
		t.Fatalf("report %+v", rep)
	}
	check := func(db *DB) {
		t.Helper()
		parts, _ := db.Partitions("t")
		active := parts[0].Segments[len(parts[0].Segments)-1].BaseOffset
		got := map[string]entry{}
		n := int64(0)
		prev := int64(-1)
		for rec, err := range db.Read("t", 0, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if rec.Offset <= prev || len(rec.Headers) != 1 || string(rec.Headers[0].Value) != string(rec.Value) {
				t.Fatalf("record %d after %d: %+v", rec.Offset, prev, rec)
			}
			if old, ok := got[string(rec.Key)]; ok && rec.Offset < active {
				t.Fatalf("key %s twice in the compacted segments: %d and %d", rec.Key, old.offset, rec.Offset)
			}
			got[string(rec.Key)] = entry{rec.Offset, string(rec.Value)}
			prev = rec.Offset
			n++
		}
		for k, e := range latest {
			if got[k] != e {
				t.Fatalf("key %s: read %+v, latest %+v", k, got[k], e)
			}
		}
		if n != rep.RecordsAfter {
			t.Fatalf("read %d records, report says %d", n, rep.RecordsAfter)
		}
		// A consumer group crosses the gaps too.
		c, err := db.Consumer("t", "g")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := int64(0); i < n; i++ {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			rec, err := c.Next(rctx)
			cancel()
			if err != nil {
				t.Fatalf("consumer record %d: %v", i, err)
			}
			if i == n-1 && rec.Offset != prev {
				t.Fatalf("consumer ended at %d, want %d", rec.Offset, prev)
			}
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openCleanerTestDB(t, fs, Options{})
	defer db.Close()
	check(db)
}

func TestRetentionBySizeAgeAndDryRun(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 100)
	ctx := context.Background()
	// No limit: nothing goes.
	reports, err := db.Compact(ctx, CompactOptions{})
	if err != nil || reports[0].Deleted.Segments != 0 || reports[0].SegmentsAfter != reports[0].SegmentsBefore {
		t.Fatalf("%+v %v", reports, err)
	}
	// A size limit set live by AlterTopic; a dry run first.
	limit := int64(2000)
	if _, err := db.AlterTopic("t", TopicAlteration{RetentionBytes: &limit}); err != nil {
		t.Fatal(err)
	}
	dry, err := db.Compact(ctx, CompactOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := db.Partitions("t")
	if dry[0].Deleted.Segments == 0 || parts[0].StartOffset != 0 {
		t.Fatalf("dry run: %+v; start %d", dry[0], parts[0].StartOffset)
	}
	real, err := db.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := real[0]
	if r.Deleted != dry[0].Deleted || r.BytesAfter != dry[0].BytesAfter || r.SegmentsAfter != dry[0].SegmentsAfter || r.RecordsAfter != dry[0].RecordsAfter {
		t.Fatalf("dry run %+v, real %+v", dry[0], r)
	}
	if r.BytesAfter < limit || r.BytesAfter-limit > 512 || r.StartOffset != r.Deleted.StartOffset {
		t.Fatalf("after retention: %+v", r)
	}
	// Reading below the start is out of range; from the start, it works to the end.
	for _, err := range db.Read("t", 0, 0) {
		if !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("read below the start: %v", err)
		}
	}
	n := 0
	for rec, err := range db.Read("t", 0, r.StartOffset) {
		if err != nil || rec.Offset != r.StartOffset+int64(n) {
			t.Fatal(rec, err)
		}
		n++
	}
	if int64(n) != r.RecordsAfter || r.StartOffset+int64(n) != 100 {
		t.Fatalf("read %d from %d", n, r.StartOffset)
	}
	// By age: every message was written now, so a one-hour limit removes nothing; then one millisecond
	// after a pause removes every closed segment.
	hour, ms := int64(3600_000), int64(1)
	db.AlterTopic("t", TopicAlteration{RetentionBytes: new(int64), RetentionMs: &hour})
	if rep, _ := db.Compact(ctx, CompactOptions{}); rep[0].Deleted.Segments != 0 {
		t.Fatalf("age limit of an hour deleted %+v", rep[0].Deleted)
	}
	time.Sleep(5 * time.Millisecond)
	db.AlterTopic("t", TopicAlteration{RetentionMs: &ms})
	rep, err := db.Compact(ctx, CompactOptions{})
	if err != nil || rep[0].SegmentsAfter != 1 {
		t.Fatalf("age limit of 1 ms: %+v %v", rep, err)
	}
}

// Retention by consumption (RetentionInterest): closed segments go once every group has consumed them.
func TestRetentionByInterest(t *testing.T) {
	db := openCleanerTestDB(t, vfs.NewMem(), Options{})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512, RetentionPolicy: RetentionInterest}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 100)
	ctx := context.Background()
	rep, _ := db.Compact(ctx, CompactOptions{})
	if rep[0].Deleted.Segments != 0 {
		t.Fatalf("no group yet, yet %+v deleted", rep[0].Deleted)
	}
	if err := db.CommitGroupOffset("a", "t", 0, 60); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitGroupOffset("b", "t", 0, 30); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep[0].Deleted.Segments == 0 || rep[0].StartOffset > 30 {
		t.Fatalf("interest: %+v", rep[0])
	}
	parts, _ := db.Partitions("t")
	for _, s := range parts[0].Segments[:1] {
		if s.NextOffset > 30 && s.BaseOffset > 30 {
			t.Fatalf("segment %+v kept though past the slowest group", s)
		}
	}
	// The slowest group catches up: more goes.
	if err := db.CommitGroupOffset("b", "t", 0, 100); err != nil {
		t.Fatal(err)
	}
	rep, _ = db.Compact(ctx, CompactOptions{})
	if rep[0].StartOffset <= 30 || rep[0].StartOffset > 60 {
		t.Fatalf("after b caught up: start %d, want in (30, 60]", rep[0].StartOffset)
	}
}

// AlterTopic applies to an open topic at once: a new segment size at the next roll, compaction once the
// policy is compact; and persists across reopen.
func TestAlterTopicLive(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{})
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Append(ctx, "t", Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	seg, policy := int64(256), CleanupCompact
	cfg, err := db.AlterTopic("t", TopicAlteration{SegmentBytes: &seg, CleanupPolicy: &policy})
	if err != nil || cfg.SegmentBytes != 256 || cfg.CleanupPolicy != CleanupCompact {
		t.Fatalf("%+v %v", cfg, err)
	}
	for i := range 50 {
		if _, err := db.Append(ctx, "t", Message{Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ := db.Partitions("t")
	if len(parts[0].Segments) < 5 {
		t.Fatalf("segment size not applied: %d segments", len(parts[0].Segments))
	}
	rep, err := db.Compact(ctx, CompactOptions{})
	if err != nil || rep[0].Compaction == nil || rep[0].RecordsAfter >= rep[0].RecordsBefore {
		t.Fatalf("compaction after alter: %+v %v", rep, err)
	}
	bad := CleanupPolicy("shred")
	if _, err := db.AlterTopic("t", TopicAlteration{CleanupPolicy: &bad}); err == nil {
		t.Fatal("unknown policy accepted")
	}
	if _, err := db.AlterTopic("nope", TopicAlteration{}); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("alter of a missing topic: %v", err)
	}
	db.Close()
	db = openCleanerTestDB(t, fs, Options{})
	defer db.Close()
	if cfg, _ := db.TopicConfig("t"); cfg.SegmentBytes != 256 || cfg.CleanupPolicy != CleanupCompact {
		t.Fatalf("after reopen: %+v", cfg)
	}
}

// The background cleaner applies retention on its own while producers append.
func TestBackgroundCleaner(t *testing.T) {
	db := openCleanerTestDB(t, vfs.NewMem(), Options{RetentionCheckInterval: 5 * time.Millisecond})
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512, RetentionBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 100)
	deadline := time.Now().Add(10 * time.Second)
	for {
		parts, _ := db.Partitions("t")
		if parts[0].StartOffset > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background cleaner deleted nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
