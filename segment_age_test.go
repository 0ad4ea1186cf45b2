package mqlog

import (
	"context"
	"testing"
	"time"
)

// A quiet topic's active segment is rolled once its first batch is older than segment.ms, so that
// retention by age deletes records that no later append would have pushed out of the active segment
// (issue 15, item 9). Before the roll existed the active segment never closed and nothing was deleted.
func TestSegmentMsRollsQuietTopic(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{RetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateTopic("quiet", TopicConfig{SegmentMs: 60_000, RetentionMs: 3_600_000}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for i := range 5 {
		if _, err := db.Append(ctx, "quiet", Message{Value: []byte("v"), Timestamp: old.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}

	// A dry run says it would roll, and changes nothing.
	reps, err := db.Compact(ctx, CompactOptions{Topic: "quiet", DryRun: true})
	if err != nil || len(reps) != 1 || !reps[0].Rolled {
		t.Fatalf("dry run: %+v %v", reps, err)
	}
	if parts, _ := db.Partitions("quiet"); len(parts[0].Segments) != 1 {
		t.Fatalf("dry run rolled: %+v", parts[0].Segments)
	}

	reps, err = db.Compact(ctx, CompactOptions{Topic: "quiet"})
	if err != nil || len(reps) != 1 {
		t.Fatalf("compact: %+v %v", reps, err)
	}
	if !reps[0].Rolled || reps[0].Deleted.Segments != 1 || reps[0].StartOffset != 5 {
		t.Fatalf("report %+v: want a roll, then the closed segment deleted by retention.ms", reps[0])
	}
	parts, err := db.Partitions("quiet")
	if err != nil {
		t.Fatal(err)
	}
	if p := parts[0]; p.StartOffset != 5 || p.HighWatermark != 5 || len(p.Segments) != 1 || !p.Segments[0].Active {
		t.Fatalf("partition after the run: %+v", p)
	}
	// Appends go on in the new active segment.
	pos, err := db.Append(ctx, "quiet", Message{Value: []byte("new")})
	if err != nil || pos[0].Offset != 5 {
		t.Fatalf("append after the roll: %v %v", pos, err)
	}
}

// A recent active segment is not rolled, and the default segment.ms is 7 days.
func TestSegmentMsKeepsRecentSegment(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{RetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	six := time.Now().Add(-6 * 24 * time.Hour)
	if _, err := db.Append(ctx, "recent", Message{Value: []byte("v"), Timestamp: six}); err != nil {
		t.Fatal(err)
	}
	reps, err := db.Compact(ctx, CompactOptions{Topic: "recent"})
	if err != nil || reps[0].Rolled || reps[0].SegmentsAfter != 1 {
		t.Fatalf("a 6-day-old segment under the 7-day default: %+v %v", reps, err)
	}
	if _, err := db.AlterTopic("recent", TopicAlteration{SegmentMs: new(int64(24 * time.Hour / time.Millisecond))}); err != nil {
		t.Fatal(err)
	}
	reps, err = db.Compact(ctx, CompactOptions{Topic: "recent"})
	if err != nil || !reps[0].Rolled || reps[0].SegmentsAfter != 2 {
		t.Fatalf("after segment.ms 1 day: %+v %v", reps, err)
	}
	if cfg, _ := db.TopicConfig("recent"); cfg.SegmentMs != 86_400_000 {
		t.Fatalf("config %+v", cfg)
	}
}

// The background cleaner rolls too: a quiet topic ages out without any call.
func TestSegmentMsBackgroundCleaner(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{RetentionCheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("quiet", TopicConfig{SegmentMs: 1000, RetentionMs: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(context.Background(), "quiet", Message{Value: []byte("v"), Timestamp: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		parts, err := db.Partitions("quiet")
		if err != nil {
			t.Fatal(err)
		}
		if parts[0].StartOffset == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the background cleaner never rolled and deleted the quiet segment")
}

// noAgeRoll is a SegmentMs for tests whose records carry old timestamps but that are about something else
// than rolling by age (compaction's crash safety, say): 100 years.
const noAgeRoll = 100 * 365 * 24 * 3600 * 1000
