package mqlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mqlog/mqlog/index"
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

// TestDeleteTopicCrashAfterIndex: a crash after DeleteTopic's index batch (state gone, tombstone
// recorded) and part-way through removing files, leaving segments of the first and last thirds without
// the middle: Open finishes the deletion before it opens anything, instead of opening what is left as a
// log with holes (which made the whole DB fail to open), and a topic created again under the name starts
// empty.
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
	inc := db.incarnation("t")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	store, err := index.Open(filepath.Join(dir, IndexDirName), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteTopic("t", []byte(fmt.Sprintf(`{"incarnation":%d,"partitions":1}`, inc))); err != nil {
		t.Fatal(err)
	}
	store.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, TopicsDirName, "t-0", "*.log"))
	slices.Sort(segs)
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(segs))
	}
	for _, s := range segs[len(segs)/3 : 2*len(segs)/3] {
		os.Remove(s)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after a crash inside DeleteTopic: %v", err)
	}
	defer db.Close()
	if len(db.Topics()) != 0 {
		t.Errorf("topics: %v", db.Topics())
	}
	if _, err := os.Stat(filepath.Join(dir, TopicsDirName, "t-0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted topic's directory is still there: %v", err)
	}
	if pos, err := db.Append(context.Background(), "t", Message{Value: []byte("new")}); err != nil || pos[0].Offset != 0 {
		t.Fatalf("append to the topic created again: %v, %v", pos, err)
	}
}

// TestUnknownPartitionDirsNotAdopted: partition directories the index does not know (a stray z-40 with a
// garbage segment, an implausible z-2000000) are reported and left as they are: Open neither adopts them
// as a topic, nor creates the partitions below them, nor cuts the garbage.
func TestUnknownPartitionDirsNotAdopted(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "kept", 3)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("this is not a record batch, and it is not mqlog's to cut")
	for _, d := range []string{"z-40", "z-2000000"} {
		p := filepath.Join(dir, TopicsDirName, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "00000000000000000000.log"), garbage, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("Open with stray partition directories: %v", err)
	}
	if got := db.Topics(); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("topics %v: a stray directory was adopted", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, TopicsDirName))
	if len(entries) != 3 {
		t.Errorf("%d entries in topics/, want kept-0, z-40 and z-2000000", len(entries))
	}
	for _, d := range []string{"z-40", "z-2000000"} {
		b, err := os.ReadFile(filepath.Join(dir, TopicsDirName, d, "00000000000000000000.log"))
		if err != nil || string(b) != string(garbage) {
			t.Errorf("%s was changed: %q, %v", d, b, err)
		}
	}
}
