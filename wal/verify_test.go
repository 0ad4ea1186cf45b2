package wal

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// closedTestLog writes 200 one-record batches in 2 KiB segments and closes the log.
func closedTestLog(t *testing.T) (vfs.FS, *memIndex, []string) {
	t.Helper()
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	for i := range 200 {
		if _, err := l.Append([]segment.Record{{Value: value(i), Timestamp: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List("/p")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	for i := range names {
		names[i] = fs.PathJoin("/p", names[i])
	}
	return fs, idx, names
}

func flipMem(t *testing.T, fs vfs.FS, path string, pos int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x80
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func appendMem(t *testing.T, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	if _, err := f.WriteAt(data, info.Size()); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyWithoutState checks the segments-only mode (a writer holds the index): a bad frame at the end
// of the last segment is a torn tail, one followed by a segment with data is damage.
func TestVerifyWithoutState(t *testing.T) {
	fs, idx, segs := closedTestLog(t)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	opts := VerifyOptions{FS: fs, Dir: "/p"}
	rep, err := Verify(opts)
	if err != nil || rep.Corrupt() || rep.TornTail != nil || rep.Records != 200 || rep.NextOffset != 200 {
		t.Fatalf("clean: %v %+v", err, rep)
	}
	// The same with the state and the index: also clean.
	withState := opts
	withState.StateKnown, withState.State = true, idx.state
	withState.EntriesKnown, withState.Entries = true, idx.entries
	if rep, err := Verify(withState); err != nil || rep.Corrupt() || len(rep.Rebuilt) == 0 {
		t.Fatalf("clean with state: %v %+v", err, rep)
	}

	appendMem(t, fs, segs[len(segs)-1], []byte("torn"))
	rep, err = Verify(opts)
	if err != nil || rep.Corrupt() || rep.TornTail == nil || rep.TornTail.Path != segs[len(segs)-1] {
		t.Fatalf("torn tail: %v %+v", err, rep)
	}
	// With the state, the same bytes are past the durable point: still a torn tail.
	withState.State = idx.state
	if rep, err := Verify(withState); err != nil || rep.Corrupt() || rep.TornTail == nil {
		t.Fatalf("torn tail with state: %v %+v", err, rep)
	}

	flipMem(t, fs, segs[1], 100)
	rep, err = Verify(opts)
	var corrupt *segment.CorruptionError
	if err != nil || rep.Damage == nil || rep.Damage.Path != segs[1] || !errors.As(error(rep.Damage), &corrupt) {
		t.Fatalf("damage: %v %+v", err, rep)
	}
	if rep.DamageSegment != 1 || rep.NextOffset != rep.Segments[1].NextOffset {
		t.Errorf("damage in segment %d, intact up to %d", rep.DamageSegment, rep.NextOffset)
	}
}

// TestRepairPlanAndExecute checks that a plan changes nothing, and that executing it leaves a log that
// Open accepts with every record but those of the damaged batch, at their offsets: repair drops only the
// damaged bytes (an empty batch keeps the offsets contiguous) and the log's end does not move.
func TestRepairPlanAndExecute(t *testing.T) {
	fs, idx, segs := closedTestLog(t)
	flipMem(t, fs, segs[1], 100)
	rep, err := Verify(VerifyOptions{FS: fs, Dir: "/p", StateKnown: true, State: idx.state, EntriesKnown: true, Entries: idx.entries})
	if err != nil || rep.Damage == nil {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	damaged := rep.NextOffset // the damaged batch holds this offset (one record per batch)
	st, _ := decodeState(idx.state)
	end := st.nextOffset
	opts := RepairOptions{FS: fs, Dir: "/p", Index: idx, LostDir: "/lost/t-0"}
	stateBefore := slices.Clone(idx.state)
	plan, err := Repair(rep, opts)
	if err != nil || len(plan.Actions) == 0 || plan.NextOffset != end {
		t.Fatalf("plan: %v %+v", err, plan)
	}
	if _, err := fs.Stat("/lost"); err == nil || !slices.Equal(stateBefore, idx.state) {
		t.Fatal("a plan changed something")
	}
	opts.Execute = true
	if _, err := Repair(rep, opts); err != nil {
		t.Fatal(err)
	}
	l := openTestLog(t, fs, idx, 2048)
	defer l.Close()
	if got := l.HighWatermark(); got != end {
		t.Fatalf("after repair the log ends at %d, want %d", got, end)
	}
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for want := int64(0); ; want++ {
		if want == damaged {
			want++
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset != want || string(rec.Value) != string(value(int(want))) {
			t.Fatalf("record %d: offset %d %q, want offset %d", n, rec.Offset, rec.Value, want)
		}
		n++
	}
	if n != end-1 {
		t.Errorf("read %d records, want %d (all but the damaged one)", n, end-1)
	}
	lost, _ := fs.List("/lost/t-0")
	if len(lost) < 2 {
		t.Errorf("lost+found holds %v", lost)
	}
}
