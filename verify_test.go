package mqlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/mqlog/mqlog/internal/base"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// testLog is a data directory with one topic "t" of one partition, one batch per message, in segments of
// about 1 KiB, closed cleanly.
type testLog struct {
	dir      string
	partDir  string
	segments []string // segment paths, in order
	messages int
}

const testMessages = 60

func buildTestLog(t *testing.T, cfg TopicConfig) *testLog {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SegmentBytes = 1024
	if err := db.CreateTopic("t", cfg); err != nil {
		t.Fatal(err)
	}
	for i := range testMessages {
		msg := Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "m%03d-%s", i, strings.Repeat("x", 90))}
		if _, err := db.Append(context.Background(), "t", msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l := &testLog{dir: dir, partDir: filepath.Join(dir, TopicsDirName, "t-0"), messages: testMessages}
	l.segments = l.listSegments(t)
	if len(l.segments) < 6 {
		t.Fatalf("want at least 6 segments, got %d", len(l.segments))
	}
	return l
}

func (l *testLog) listSegments(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(l.partDir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// batch is where one batch of a segment file is.
type batch struct{ pos, base, next int64 }

func batchesOf(t *testing.T, path string) []batch {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	var out []batch
	_, err = segment.Scan(f, 0, info.Size(), segment.ScanOptions{NextOffset: -1, MinEpoch: -1 << 31}, func(pos int64, h segment.BatchHeader) error {
		out = append(out, batch{pos: pos, base: h.BaseOffset, next: h.LastOffset() + 1})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func patchFile(t *testing.T, path string, pos int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func flipBit(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patchFile(t, path, pos, []byte{b[pos] ^ 0x10})
}

func setBaseOffset(t *testing.T, path string, pos, base int64) {
	t.Helper()
	patchFile(t, path, pos, binary.BigEndian.AppendUint64(nil, uint64(base)))
}

// snapshot returns every file under dir with its contents, to show that nothing changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[path] = "dir"
			return nil
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for path, b := range before {
		if a, ok := after[path]; !ok {
			t.Errorf("%s removed %s", what, path)
		} else if a != b {
			t.Errorf("%s changed %s", what, path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("%s created %s", what, path)
		}
	}
}

// damageCase damages a test log and says where Verify must report it, how far the log is intact, and
// which offsets repair may lose: [kept, lostTo), the records of the damaged bytes (none when lostTo is kept).
type damageCase struct {
	name    string
	compact bool
	// damage returns the file and byte offset Verify must name, the offset the log is intact up to, and the
	// end of the offsets whose records may be lost.
	damage func(t *testing.T, l *testLog) (path string, offset, kept, lostTo int64)
}

// endOf returns the offset after the last batch of a segment file.
func endOf(t *testing.T, path string) int64 {
	bs := batchesOf(t, path)
	return bs[len(bs)-1].next
}

var damageCases = []damageCase{
	{name: "bit flip in a closed segment", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		flipBit(t, seg, bs[1].pos+70)
		return seg, bs[1].pos, bs[1].base, bs[1].next
	}},
	{name: "bit flip in the active segment", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[len(l.segments)-1]
		bs := batchesOf(t, seg)
		flipBit(t, seg, bs[1].pos+65)
		return seg, bs[1].pos, bs[1].base, bs[1].next
	}},
	{name: "zeroed sector", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[3]
		bs := batchesOf(t, seg)
		info, _ := os.Stat(seg)
		n := min(512, info.Size()-bs[1].pos-10)
		patchFile(t, seg, bs[1].pos+10, make([]byte, n))
		lostTo := bs[1].next
		for _, b := range bs {
			if b.pos < bs[1].pos+10+n {
				lostTo = b.next
			}
		}
		return seg, bs[1].pos, bs[1].base, lostTo
	}},
	{name: "segment cut in a batch", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		end := endOf(t, seg)
		if err := os.Truncate(seg, bs[1].pos+20); err != nil {
			t.Fatal(err)
		}
		return seg, bs[1].pos, bs[1].base, end
	}},
	{name: "segment cut between batches", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		end := endOf(t, seg)
		if err := os.Truncate(seg, bs[2].pos); err != nil {
			t.Fatal(err)
		}
		return seg, bs[2].pos, bs[2].base, end
	}},
	{name: "active segment cut between batches", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[len(l.segments)-1]
		bs := batchesOf(t, seg)
		if err := os.Truncate(seg, bs[1].pos); err != nil {
			t.Fatal(err)
		}
		return seg, bs[1].pos, bs[1].base, testMessages
	}},
	{name: "missing segment", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[3]
		base, end := batchesOf(t, seg)[0].base, endOf(t, seg)
		if err := os.Remove(seg); err != nil {
			t.Fatal(err)
		}
		return seg, 0, base, end
	}},
	{name: "missing active segment", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[len(l.segments)-1]
		base := batchesOf(t, seg)[0].base
		if err := os.Remove(seg); err != nil {
			t.Fatal(err)
		}
		return seg, 0, base, testMessages
	}},
	{name: "file renamed above its first batch", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[3]
		base := batchesOf(t, seg)[0].base
		renamed := filepath.Join(l.partDir, segment.FileName(base+1))
		if err := os.Rename(seg, renamed); err != nil {
			t.Fatal(err)
		}
		return renamed, 0, base, base // renamed back: nothing lost
	}},
	{name: "first batch below the file name", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[3]
		bs := batchesOf(t, seg)
		setBaseOffset(t, seg, 0, bs[0].base-2) // also overlaps the segment before
		return seg, 0, bs[0].base, bs[0].next
	}},
	{name: "offsets go backwards", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		setBaseOffset(t, seg, bs[2].pos, bs[1].base)
		return seg, bs[2].pos, bs[2].base, bs[2].next
	}},
	{name: "offset gap", damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		setBaseOffset(t, seg, bs[2].pos, bs[2].base+3)
		return seg, bs[2].pos, bs[2].base, bs[2].next
	}},
	{name: "offsets go backwards in a compacted topic", compact: true, damage: func(t *testing.T, l *testLog) (string, int64, int64, int64) {
		seg := l.segments[2]
		bs := batchesOf(t, seg)
		setBaseOffset(t, seg, bs[2].pos, bs[1].base)
		return seg, bs[2].pos, bs[2].base, bs[2].next
	}},
}

func TestVerifyClean(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	before := snapshot(t, l.dir)
	var progressed int64
	rep, err := Verify(l.dir, &VerifyOptions{Progress: func(done, total int64) { progressed = done }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt() || rep.Err() != nil {
		t.Fatalf("clean log reported corrupt: %+v", rep.Problems)
	}
	if !rep.StateChecked || rep.Batches != testMessages || rep.Records != testMessages || rep.Segments != int64(len(l.segments)) {
		t.Fatalf("report: state %v, %d batches, %d records, %d segments", rep.StateChecked, rep.Batches, rep.Records, rep.Segments)
	}
	if progressed != rep.Bytes || rep.Bytes == 0 {
		t.Errorf("progress reached %d of %d bytes", progressed, rep.Bytes)
	}
	sameSnapshot(t, "Verify", before, snapshot(t, l.dir))

	plan, err := Repair(l.dir, &RepairOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Empty() {
		t.Errorf("repair of a clean log plans %+v", plan.Partitions)
	}
	if _, err := os.Stat(filepath.Join(l.dir, LostFoundDirName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("repair of a clean log created %s", LostFoundDirName)
	}
}

func TestVerifyMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	if _, err := Verify(dir, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Verify of a missing directory: %v", err)
	}
	if _, err := Repair(dir, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Repair of a missing directory: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing directory was created")
	}
}

// TestVerifyWhileWriting checks that Verify works while a writer holds the directory: no lock conflict,
// nothing written, the segments checked on their own.
func TestVerifyWhileWriting(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	appendN(t, db, "t", 5)
	rep, err := Verify(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StateChecked || rep.Corrupt() || rep.Records != testMessages+5 {
		t.Fatalf("while writing: state checked %v, problems %v, %d records", rep.StateChecked, rep.Problems, rep.Records)
	}
	appendN(t, db, "t", 1) // the writer is not disturbed
	if _, err := Repair(l.dir, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("Repair while a writer runs: %v, want ErrLocked", err)
	}
}

// TestVerifyCompactedGaps checks that a compacted topic may have offset gaps, and a topic that is not
// compacted may not. The gap is made as compaction would: a whole batch taken out of the active segment,
// and the durable position recorded for what is left.
func TestVerifyCompactedGaps(t *testing.T) {
	for _, compact := range []bool{false, true} {
		cfg := TopicConfig{}
		if compact {
			cfg.CleanupPolicy = CleanupCompact
		}
		l := buildTestLog(t, cfg)
		seg := l.segments[len(l.segments)-1]
		bs := batchesOf(t, seg)
		if len(bs) < 3 {
			t.Fatalf("active segment has %d batches", len(bs))
		}
		removeBatch(t, l, seg, bs[1])
		rep, err := Verify(l.dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		var corrupt *CorruptionError
		gotDamage := errors.As(rep.Err(), &corrupt) && corrupt.Path == seg && corrupt.Offset == bs[1].pos
		if compact {
			if rep.Corrupt() || rep.Records != testMessages-1 {
				t.Errorf("compacted: %v, %d records", rep.Problems, rep.Records)
			}
			db, err := Open(l.dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(readAll(t, db, "t", 0)); n != testMessages-1 {
				t.Errorf("compacted: read %d records, want %d", n, testMessages-1)
			}
			db.Close()
		} else if !gotDamage || !errors.Is(rep.Err(), segment.ErrBadOffset) {
			t.Errorf("not compacted: got %v, want a bad offset at %s byte %d", rep.Problems, seg, bs[1].pos)
		}
	}
}

// removeBatch takes batch b out of the active segment and records the new durable position in the state.
func removeBatch(t *testing.T, l *testLog, seg string, b batch) {
	t.Helper()
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	end := b.pos
	for _, next := range batchesOf(t, seg) {
		if next.pos > b.pos {
			end = next.pos
			break
		}
	}
	data = append(data[:b.pos:b.pos], data[end:]...)
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := index.Open(filepath.Join(l.dir, IndexDirName), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	state, err := store.LogState("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint64(state[9:], uint64(len(data))) // position (wal/state.go)
	if err := store.SaveLogState("t", 0, state); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRepairDamage(t *testing.T) {
	for _, tc := range damageCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := TopicConfig{}
			if tc.compact {
				cfg.CleanupPolicy = CleanupCompact
			}
			l := buildTestLog(t, cfg)
			wantPath, wantOffset, kept, lostTo := tc.damage(t, l)
			damaged := snapshot(t, l.dir)

			// Verify names the file and byte, and changes nothing.
			rep, err := Verify(l.dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var corrupt *CorruptionError
			if !errors.As(rep.Err(), &corrupt) || rep.Problems[0].Kind != ProblemDamage {
				t.Fatalf("Verify: %v, want a *CorruptionError", rep.Problems)
			}
			if corrupt.Path != wantPath || corrupt.Offset != wantOffset {
				t.Fatalf("Verify: %v; want %s at byte %d", corrupt, wantPath, wantOffset)
			}
			if got := rep.Partitions[0].NextOffset; got != kept {
				t.Errorf("Verify: log intact up to offset %d, want %d", got, kept)
			}
			sameSnapshot(t, "Verify", damaged, snapshot(t, l.dir))

			// Reading up to the damage still works.
			readPrefix(t, l.dir, kept)

			// A dry run says what it would do and changes nothing. The log keeps its end.
			plan, err := Repair(l.dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Empty() || len(plan.Partitions[0].Actions) == 0 || plan.Partitions[0].NextOffset != testMessages {
				t.Fatalf("dry run: %+v", plan.Partitions)
			}
			sameSnapshot(t, "Repair dry run", damaged, snapshot(t, l.dir))

			// Execute: only the damaged bytes go (a copy of each changed file is in lost+found); every other
			// record keeps its offset, and Open accepts the directory.
			if _, err := Repair(l.dir, &RepairOptions{Execute: true}); err != nil {
				t.Fatal(err)
			}
			lost, _ := filepath.Glob(filepath.Join(l.dir, LostFoundDirName, "t-0", "*"))
			if len(lost) < 1 {
				t.Errorf("lost+found holds %v, want the originals and a note", lost)
			}
			if _, err := os.Stat(wantPath); err != nil && !strings.Contains(tc.name, "missing") && !strings.Contains(tc.name, "renamed") {
				t.Errorf("%s is gone after repair: %v", wantPath, err)
			}
			if rep, err := Verify(l.dir, nil); err != nil || rep.Corrupt() {
				t.Fatalf("Verify after repair: %v %v", err, rep.Problems)
			}
			db, err := Open(l.dir, nil)
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			have := map[int64]bool{}
			for _, r := range readAll(t, db, "t", 0) {
				if !bytes.HasPrefix(r.Value, fmt.Appendf(nil, "m%03d-", r.Offset)) {
					t.Fatalf("after repair: offset %d holds %q", r.Offset, r.Value)
				}
				have[r.Offset] = true
			}
			for off := int64(0); off < testMessages; off++ {
				if !have[off] && (off < kept || off >= lostTo) {
					t.Errorf("after repair: the intact record at offset %d is gone (damage at %d to %d)", off, kept, lostTo)
				}
			}
			pos, err := db.Append(context.Background(), "t", Message{Value: []byte("after")})
			if err != nil || pos[0].Offset != testMessages {
				t.Errorf("append after repair: %v at %v, want offset %d (no offset handed out twice)", err, pos, testMessages)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := Verify(l.dir, nil); err != nil || rep.Corrupt() {
				t.Fatalf("Verify after repair and append: %v %v", err, rep.Problems)
			}
		})
	}
}

// readPrefix reads a damaged log read-only and checks that the records before the damage come back.
func readPrefix(t *testing.T, dir string, kept int64) {
	t.Helper()
	db, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Logf("OpenReadOnly of the damaged log: %v", err)
		return
	}
	defer db.Close()
	var n int64
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil || n >= kept {
			break
		}
		if rec.Offset != n {
			t.Fatalf("read record %d at offset %d", n, rec.Offset)
		}
		n++
	}
	if n != kept {
		t.Errorf("read %d records before the damage, want %d", n, kept)
	}
}

// TestRepairTornTail checks that a torn tail past the durable point is a note for Verify (exit 0), which
// Repair cuts and Open would cut too.
func TestRepairTornTail(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	active := l.segments[len(l.segments)-1]
	info, _ := os.Stat(active)
	patchFile(t, active, info.Size(), []byte("half a batch that never finished"))
	rep, err := Verify(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt() || rep.Partitions[0].TornTail == nil || rep.Partitions[0].TornTail.Offset != info.Size() {
		t.Fatalf("torn tail: problems %v, torn %v", rep.Problems, rep.Partitions[0].TornTail)
	}
	plan, err := Repair(l.dir, &RepairOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Empty() || plan.Partitions[0].Actions[0].Kind != wal.ActionCut {
		t.Fatalf("repair of a torn tail: %+v", plan.Partitions)
	}
	if after, _ := os.Stat(active); after.Size() != info.Size() {
		t.Errorf("after repair the active segment is %d bytes, want %d", after.Size(), info.Size())
	}
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(readAll(t, db, "t", 0)); n != testMessages {
		t.Errorf("%d records after repair, want %d", n, testMessages)
	}
}

// TestRepairResetsGroups checks that repair keeps a group's committed position: the log's end does not move
// (the damaged batch's offset is kept by an empty batch), so the position is still valid and not moved back.
func TestRepairResetsGroups(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CommitGroupOffset("g", "t", 0, testMessages); err != nil {
		t.Fatal(err)
	}
	db.Close()
	seg := l.segments[2]
	bs := batchesOf(t, seg)
	flipBit(t, seg, bs[0].pos+70)
	plan, err := Repair(l.dir, &RepairOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.GroupsMovedBack) != 0 || plan.Partitions[0].NextOffset != testMessages {
		t.Errorf("group resets %v, log end %d; want none and %d", plan.GroupsMovedBack, plan.Partitions[0].NextOffset, testMessages)
	}
	db, err = Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	offs, err := db.GroupOffsets("g")
	if err != nil || len(offs) != 1 || offs[0].Offset != testMessages {
		t.Errorf("group offsets after repair: %v %v", offs, err)
	}
}

// TestVerifyIndexMismatch checks that a sparse entry that points at the wrong byte is reported and that
// Repair rebuilds the index.
func TestVerifyIndexMismatch(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := base.PartitionIndex{Store: db.store, Topic: "t", Partition: 0}
	bs := batchesOf(t, l.segments[1])
	if err := p.AddEntries([]wal.IndexEntry{{Offset: bs[1].base, Position: bs[1].pos + 1}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rep, err := Verify(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Corrupt() || rep.Problems[0].Kind != ProblemIndex {
		t.Fatalf("index mismatch: %v", rep.Problems)
	}
	if _, err := Repair(l.dir, &RepairOptions{Execute: true}); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(l.dir, nil); err != nil || rep.Corrupt() {
		t.Fatalf("after repair: %v %v", err, rep.Problems)
	}
}

// TestVerifyStateMismatch checks a durable state that does not match the active segment: a position
// inside a batch. Verify reports it; Repair rewrites the state from the segments, keeping every record.
func TestVerifyStateMismatch(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	seg := l.segments[len(l.segments)-1]
	bs := batchesOf(t, seg)
	store, err := index.Open(filepath.Join(l.dir, IndexDirName), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	state, err := store.LogState("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint64(state[9:], uint64(bs[1].pos+5))
	if err := store.SaveLogState("t", 0, state); err != nil {
		t.Fatal(err)
	}
	store.Close()
	rep, err := Verify(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var corrupt *CorruptionError
	if !errors.As(rep.Err(), &corrupt) || corrupt.Path != seg || corrupt.Offset != bs[1].pos+5 || !errors.Is(corrupt, segment.ErrBadLength) {
		t.Fatalf("Verify: %v", rep.Problems)
	}
	if _, err := Repair(l.dir, &RepairOptions{Execute: true}); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(l.dir, nil); err != nil || rep.Corrupt() {
		t.Fatalf("after repair: %v %v", err, rep.Problems)
	}
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(readAll(t, db, "t", 0)); n != testMessages {
		t.Errorf("%d records after repair, want %d", n, testMessages)
	}
}

// TestVerifyRepairBadEpoch checks a lowered epoch in durable data (a header field the CRC does not cover):
// the batch's records are intact and every reader reads them, so it gets one verdict everywhere: Verify
// notes it with file and byte and finds no problem (exit 0), and Repair restores the field instead of
// cutting anything, keeping a copy of the original.
func TestVerifyRepairBadEpoch(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	seg := l.segments[2]
	bs := batchesOf(t, seg)
	patchFile(t, seg, bs[2].pos+12, []byte{0, 0, 0, 0})
	rep, err := Verify(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt() || len(rep.Partitions[0].BadEpochs) != 1 || rep.Partitions[0].BadEpochs[0].Position != bs[2].pos {
		t.Fatalf("Verify: problems %v, bad epochs %v", rep.Problems, rep.Partitions[0].BadEpochs)
	}
	noted := false
	for _, n := range rep.Notes {
		noted = noted || strings.Contains(n, seg) && strings.Contains(n, fmt.Sprintf("byte %d", bs[2].pos))
	}
	if !noted {
		t.Errorf("no note names %s byte %d: %v", seg, bs[2].pos, rep.Notes)
	}
	if rep.Records != testMessages {
		t.Errorf("Verify checked %d records, want all %d", rep.Records, testMessages)
	}
	plan, err := Repair(l.dir, &RepairOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Empty() || plan.Partitions[0].NextOffset != testMessages || plan.Partitions[0].Actions[0].Kind != wal.ActionEpoch {
		t.Fatalf("repair: %+v", plan.Partitions)
	}
	if rep, err := Verify(l.dir, nil); err != nil || rep.Corrupt() || len(rep.Partitions[0].BadEpochs) != 0 {
		t.Fatalf("after repair: %v %v %v", err, rep.Problems, rep.Partitions[0].BadEpochs)
	}
	if _, err := os.Stat(filepath.Join(l.dir, LostFoundDirName, "t-0", filepath.Base(seg))); err != nil {
		t.Errorf("no copy of the original: %v", err)
	}
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(readAll(t, db, "t", 0)); n != testMessages {
		t.Errorf("%d records after repair, want %d", n, testMessages)
	}
}

// TestRepairWithoutIndex checks a directory whose index is gone: the dry run plans from the segments
// alone and creates nothing; executing creates the index and leaves a directory Open accepts, with every
// record but the damaged one.
func TestRepairWithoutIndex(t *testing.T) {
	l := buildTestLog(t, TopicConfig{})
	if err := os.RemoveAll(filepath.Join(l.dir, IndexDirName)); err != nil {
		t.Fatal(err)
	}
	seg := l.segments[2]
	bs := batchesOf(t, seg)
	flipBit(t, seg, bs[1].pos+70)
	before := snapshot(t, l.dir)
	plan, err := Repair(l.dir, nil)
	if err != nil || plan.Empty() || plan.Partitions[0].NextOffset != testMessages {
		t.Fatalf("dry run without an index: %v %+v", err, plan)
	}
	sameSnapshot(t, "dry run", before, snapshot(t, l.dir))
	if _, err := Repair(l.dir, &RepairOptions{Execute: true}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(l.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs := readAll(t, db, "t", 0)
	if len(recs) != testMessages-1 {
		t.Errorf("%d records after repair, want %d", len(recs), testMessages-1)
	}
	for _, r := range recs {
		if r.Offset == bs[1].base {
			t.Errorf("the damaged record at offset %d came back", r.Offset)
		}
	}
}
