package index

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestGroupOffsets(t *testing.T) {
	s, fs := openMem(t)
	if groups, err := s.Groups(); err != nil || len(groups) != 0 {
		t.Fatalf("Groups of an empty store = %q, %v", groups, err)
	}
	if _, _, ok, err := s.GroupOffset("billing", "orders", 0); err != nil || ok {
		t.Fatalf("GroupOffset of a missing group: ok %v, err %v", ok, err)
	}
	if offsets, err := s.GroupOffsets("billing"); err != nil || len(offsets) != 0 {
		t.Fatalf("GroupOffsets of a missing group = %v, %v", offsets, err)
	}
	if err := s.CommitOffsets("billing", nil); err != nil {
		t.Fatalf("CommitOffsets of nothing: %v", err)
	}
	commits := map[string][]GroupOffset{
		"billing":   {{"orders", 10, 5, 2, NoLeaderEpoch, ""}, {"orders", 1, 7, 2, NoLeaderEpoch, ""}, {"orders.eu", 0, 1, 2, NoLeaderEpoch, ""}, {"orders", 0, 0, 2, NoLeaderEpoch, ""}, {"audit", 2, 99, 2, NoLeaderEpoch, ""}},
		"billing2":  {{"orders", 0, 3, 2, NoLeaderEpoch, ""}},
		"bill":      {{"orders", 0, 4, 2, NoLeaderEpoch, ""}},
		"billing\n": {{"orders", 0, 6, 2, NoLeaderEpoch, ""}},
	}
	for group, offsets := range commits {
		if err := s.CommitOffsets(group, offsets); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CommitOffsets("billing", []GroupOffset{{"orders", 1, 8, 2, NoLeaderEpoch, ""}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFS(t, fs, "data/index")

	groups, err := s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bill", "billing", "billing\n", "billing2"}; !slices.Equal(groups, want) {
		t.Fatalf("Groups = %q, want %q", groups, want)
	}
	offsets, err := s.GroupOffsets("billing")
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupOffset{{"audit", 2, 99, 2, NoLeaderEpoch, ""}, {"orders", 0, 0, 2, NoLeaderEpoch, ""}, {"orders", 1, 8, 2, NoLeaderEpoch, ""}, {"orders", 10, 5, 2, NoLeaderEpoch, ""}, {"orders.eu", 0, 1, 2, NoLeaderEpoch, ""}}
	if !slices.Equal(offsets, want) {
		t.Fatalf("GroupOffsets(billing) = %v, want %v", offsets, want)
	}
	for _, tt := range []struct {
		group, topic string
		partition    int32
		offset       int64
		ok           bool
	}{
		{"billing", "orders", 1, 8, true},
		{"billing", "orders", 10, 5, true},
		{"billing", "orders", 0, 0, true},
		{"billing", "orders", 2, 0, false},
		{"billing", "orders.eu", 1, 0, false},
		{"bill", "orders", 0, 4, true},
		{"billing2", "orders", 0, 3, true},
		{"billing\n", "orders", 0, 6, true},
		{"nobody", "orders", 0, 0, false},
	} {
		offset, _, ok, err := s.GroupOffset(tt.group, tt.topic, tt.partition)
		if err != nil || ok != tt.ok || offset != tt.offset {
			t.Errorf("GroupOffset(%q, %s, %d) = %d, %v, %v; want %d, %v", tt.group, tt.topic, tt.partition, offset, ok, err, tt.offset, tt.ok)
		}
	}

	if err := s.DeleteGroup("billing"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("nobody"); err != nil {
		t.Fatalf("DeleteGroup of a missing group: %v", err)
	}
	groups, err = s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bill", "billing\n", "billing2"}; !slices.Equal(groups, want) {
		t.Fatalf("Groups after delete = %q, want %q", groups, want)
	}
	if offsets, err := s.GroupOffsets("billing"); err != nil || len(offsets) != 0 {
		t.Fatalf("GroupOffsets of a deleted group = %v, %v", offsets, err)
	}
	if offset, _, ok, err := s.GroupOffset("billing2", "orders", 0); err != nil || !ok || offset != 3 {
		t.Fatalf("GroupOffset(billing2) after deleting billing = %d, %v, %v", offset, ok, err)
	}
}

func TestConcurrentCommits(t *testing.T) {
	s, _ := openMem(t)
	const committers, commits = 16, 50
	var wg sync.WaitGroup
	for c := range committers {
		wg.Go(func() {
			group := fmt.Sprintf("g%02d", c)
			for i := range commits {
				if err := s.CommitOffsets(group, []GroupOffset{{"t", int32(c % 4), int64(i + 1), 2, NoLeaderEpoch, ""}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	groups, err := s.Groups()
	if err != nil || len(groups) != committers {
		t.Fatalf("Groups = %q, %v", groups, err)
	}
	for c := range committers {
		offset, _, ok, err := s.GroupOffset(fmt.Sprintf("g%02d", c), "t", int32(c%4))
		if err != nil || !ok || offset != commits {
			t.Errorf("group %d offset = %d, %v, %v; want %d", c, offset, ok, err, commits)
		}
	}
}

// TestCrash checks that a crash right after each synced write keeps it: the crash clone holds exactly
// what was synced. Sparse entries, written without sync, may or may not be there.
func TestCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open("data/index", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// reopen opens a crash clone of fs taken now.
	reopen := func() *Store {
		t.Helper()
		clone := fs.CrashClone(vfs.CrashCloneCfg{})
		c, err := Open("data/index", Options{FS: clone})
		if err != nil {
			t.Fatalf("Open after crash: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	if err := s.AddEntries("orders", 0, []Entry{{Offset: 0}, {Offset: 10, Position: 4096}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets("billing", []GroupOffset{{"orders", 0, 42, 2, NoLeaderEpoch, ""}, {"orders", 1, 7, 2, NoLeaderEpoch, ""}}); err != nil {
		t.Fatal(err)
	}
	c := reopen()
	offsets, err := c.GroupOffsets("billing")
	if err != nil {
		t.Fatal(err)
	}
	if want := []GroupOffset{{"orders", 0, 42, 2, NoLeaderEpoch, ""}, {"orders", 1, 7, 2, NoLeaderEpoch, ""}}; !slices.Equal(offsets, want) {
		t.Fatalf("offsets after crash = %v, want %v", offsets, want)
	}
	// Entries may be absent; when present they are whole.
	if _, _, err := c.FloorEntry("orders", 0, 10); err != nil {
		t.Fatal(err)
	}

	if err := s.PutTopic("orders", []byte("partitions=2")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLogState("orders", 1, []byte("end=123")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("billing"); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets("shipping", []GroupOffset{{"orders", 1, 3, 2, NoLeaderEpoch, ""}}); err != nil {
		t.Fatal(err)
	}
	c = reopen()
	if cfg, ok, err := c.Topic("orders"); err != nil || !ok || string(cfg) != "partitions=2" {
		t.Fatalf("Topic after crash = %q, %v, %v", cfg, ok, err)
	}
	if state, err := c.LogState("orders", 1); err != nil || string(state) != "end=123" {
		t.Fatalf("LogState after crash = %q, %v", state, err)
	}
	if groups, err := c.Groups(); err != nil || !slices.Equal(groups, []string{"shipping"}) {
		t.Fatalf("Groups after crash = %q, %v", groups, err)
	}

	if err := s.DeleteEntriesFrom("orders", 0, 5); err != nil {
		t.Fatal(err)
	}
	c = reopen()
	if e, ok, err := c.FloorEntry("orders", 0, 100); err != nil || (ok && e.Offset >= 5) {
		t.Fatalf("FloorEntry after synced DeleteEntriesFrom and crash = %+v, %v, %v", e, ok, err)
	}

	if err := s.DeleteTopic("orders", nil); err != nil {
		t.Fatal(err)
	}
	c = reopen()
	if topics, err := c.Topics(); err != nil || len(topics) != 0 {
		t.Fatalf("Topics after DeleteTopic and crash = %q, %v", topics, err)
	}
	if offsets, err := c.GroupOffsets("shipping"); err != nil || len(offsets) != 0 {
		t.Fatalf("offsets after DeleteTopic and crash = %v, %v", offsets, err)
	}
}

// BenchmarkCommitOffsets measures synced offset commits on a real disk with 1, 8 and 64 concurrent
// committers, each committing one partition of its own group. Concurrent commits share fsyncs in Pebble's
// commit pipeline, so commits/s should grow with the committers.
func BenchmarkCommitOffsets(b *testing.B) {
	for _, committers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for c := range committers {
				wg.Go(func() {
					group := fmt.Sprintf("group-%d", c)
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := s.CommitOffsets(group, []GroupOffset{{"orders", 0, i, 2, NoLeaderEpoch, ""}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// TestGroupCommitMetadata stores a commit's leader epoch and metadata with its offset and reads them
// back, keeps the 16-byte value for a commit without either, and refuses metadata over the limit.
func TestGroupCommitMetadata(t *testing.T) {
	s, _ := openMem(t)
	big := strings.Repeat("m", MaxOffsetMetadataBytes)
	commits := []GroupOffset{
		{"t", 0, 5, 3, 7, "checkpoint=5"},
		{"t", 1, 6, 3, NoLeaderEpoch, ""},
		{"t", 2, 7, 3, 0, ""},
		{"t", 3, 8, 3, NoLeaderEpoch, big},
	}
	if err := s.CommitOffsets("g", commits); err != nil {
		t.Fatal(err)
	}
	got, err := s.GroupOffsets("g")
	if err != nil || !slices.Equal(got, commits) {
		t.Fatalf("GroupOffsets = %v, %v; want %v", got, err, commits)
	}
	for _, want := range commits {
		o, ok, err := s.GroupCommit("g", "t", want.Partition)
		if err != nil || !ok || o != want {
			t.Errorf("GroupCommit(%d) = %v, %v, %v; want %v", want.Partition, o, ok, err, want)
		}
	}
	value, ok, err := get(s.mu.db, groupKey("g", "t", 1))
	if err != nil || !ok || len(value) != groupValueWidth {
		t.Errorf("value without epoch or metadata is %d bytes (%v, %v), want %d", len(value), ok, err, groupValueWidth)
	}
	if err := s.CommitOffsets("g", []GroupOffset{{"t", 0, 1, 3, NoLeaderEpoch, big + "m"}}); !errors.Is(err, ErrOffsetMetadataTooLarge) {
		t.Errorf("commit of %d bytes of metadata: %v, want ErrOffsetMetadataTooLarge", len(big)+1, err)
	}
	if err := s.CommitOffsets("g", []GroupOffset{{"t", 0, 1, 3, -2, ""}}); !errors.Is(err, ErrInvalidOffset) {
		t.Errorf("commit with leader epoch -2: %v, want ErrInvalidOffset", err)
	}
	if o, _, _ := s.GroupCommit("g", "t", 0); o != commits[0] {
		t.Errorf("a refused commit changed the stored one: %v", o)
	}
}

// TestGroupValueLayouts decodes each stored layout of a group offset value and reports the lengths that
// are none of them.
func TestGroupValueLayouts(t *testing.T) {
	key := groupKey("g", "t", 0)
	for _, tt := range []struct {
		value []byte
		want  groupValue
		bad   bool
	}{
		{value: encodeGroupValue(4, 9, NoLeaderEpoch, "")[:legacyGroupValueWidth], want: groupValue{4, 0, -1, ""}},
		{value: encodeGroupValue(4, 9, NoLeaderEpoch, ""), want: groupValue{4, 9, -1, ""}},
		{value: encodeGroupValue(4, 9, 2, ""), want: groupValue{4, 9, 2, ""}},
		{value: encodeGroupValue(4, 9, 2, "x"), want: groupValue{4, 9, 2, "x"}},
		{value: encodeGroupValue(4, 9, 2, "")[:18], bad: true},
		{value: encodeGroupValue(4, 9, 2, "")[:12], bad: true},
		{value: encodeGroupValue(4, 9, -5, ""), bad: true},
		{value: encodeGroupValue(4, 9, 2, strings.Repeat("x", MaxOffsetMetadataBytes+1)), bad: true},
	} {
		got, err := decodeGroupValue(key, tt.value)
		if tt.bad {
			if !errors.Is(err, ErrCorruptValue) {
				t.Errorf("decode of %d bytes = %v, %v; want ErrCorruptValue", len(tt.value), got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("decode of %d bytes = %v, %v; want %v", len(tt.value), got, err, tt.want)
		}
	}
}
