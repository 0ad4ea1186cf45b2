package mqlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/wal"
)

func TestDeleteTopic(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("gone", TopicConfig{Partitions: 2, SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "gone", 50)
	appendN(t, db, "kept", 3)
	for _, topic := range []string{"gone", "kept"} {
		if err := db.CommitGroupOffset("g", topic, 0, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTopic("gone"); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("second delete: %v, want ErrTopicNotFound", err)
	}
	if got := db.Topics(); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("topics after delete: %v", got)
	}
	for _, p := range []string{"gone-0", "gone-1"} {
		if _, err := os.Stat(filepath.Join(dir, TopicsDirName, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists: %v", p, err)
		}
	}
	offs, err := db.GroupOffsets("g")
	if err != nil || len(offs) != 1 || offs[0].Topic != "kept" {
		t.Errorf("group offsets after delete: %v %v", offs, err)
	}
	// A topic of the same name starts afresh.
	pos, err := db.Append(context.Background(), "gone", Message{Value: []byte("new")})
	if err != nil || pos[0].Offset != 0 {
		t.Errorf("append to a re-created topic: %v %v", pos, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(readAll(t, db, "gone", 0)); n != 1 {
		t.Errorf("re-created topic holds %d records after reopen, want 1", n)
	}
	if _, err := OpenReadOnly(dir, nil); err != nil {
		t.Error(err)
	}
}

// TestDeleteTopicCrashAfterIndex checks what a crash between DeleteTopic's two steps leaves: with the index
// records gone and the directories still there, the partition has segments and no saved state. Recovery
// never cuts or adopts a file it has no state for (DESIGN.md decision 6): Open reports the leftover
// (wal.ErrNoState, naming the file) and leaves every byte where it was. (Finishing an interrupted delete is
// the catalog's: it knows the directory belonged to a deleted topic.)
func TestDeleteTopicCrashAfterIndex(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 40)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	store, err := index.Open(filepath.Join(dir, IndexDirName), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	store.Close()
	// Half of the segments removed, oldest first, as removePartitionDir does.
	segs, _ := filepath.Glob(filepath.Join(dir, TopicsDirName, "t-0", "*.log"))
	slices.Sort(segs)
	for _, s := range segs[:len(segs)/2] {
		os.Remove(s)
	}
	left := segs[len(segs)/2:]
	sizes := map[string]int64{}
	for _, s := range left {
		info, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		sizes[s] = info.Size()
	}
	_, err = Open(dir, nil)
	if !errors.Is(err, wal.ErrNoState) || !strings.Contains(err.Error(), left[0]) {
		t.Fatalf("Open after a crash inside DeleteTopic: %v; want wal.ErrNoState naming %s", err, left[0])
	}
	for _, s := range left {
		if info, err := os.Stat(s); err != nil || info.Size() != sizes[s] {
			t.Errorf("%s after Open: %v, size changed from %d", s, err, sizes[s])
		}
	}
}
