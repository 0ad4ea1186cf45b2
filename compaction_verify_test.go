package mqlog

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestVerifyAfterCompaction: a compacted log (offset gaps, replaced segments) verifies clean: no sparse
// index entry is left pointing into a replaced segment, and gaps are allowed in a compacted topic.
func TestVerifyAfterCompaction(t *testing.T) {
	fs := vfs.NewMem()
	db := openCleanerTestDB(t, fs, Options{})
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 2048, CleanupPolicy: CleanupCompact}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 400 {
		msg := Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: crashValue(i)}
		if _, err := db.Append(ctx, "t", msg); err != nil {
			t.Fatal(err)
		}
	}
	reps, err := db.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].RecordsAfter >= reps[0].RecordsBefore {
		t.Fatalf("compaction removed nothing: %+v", reps)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify("/d", &VerifyOptions{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt() {
		t.Fatalf("verify after compaction: %v", rep.Problems)
	}
}
