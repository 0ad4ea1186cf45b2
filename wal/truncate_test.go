package wal

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/segment"
)

// appendSingles appends values from..to-1 as one-record batches, n per AppendBatches call.
func appendSingles(t testing.TB, l *Log, from, to, n int) {
	t.Helper()
	for i := from; i < to; i += n {
		var batches [][]segment.Record
		for j := i; j < min(i+n, to); j++ {
			batches = append(batches, []segment.Record{{Value: value(j), Timestamp: int64(j)}})
		}
		base, err := l.AppendBatches(batches)
		if err != nil || base != int64(i) {
			t.Fatalf("append %d: base %d, %v", i, base, err)
		}
	}
}

// readRange checks that l holds exactly the offsets [from, to), offset i with value(vals[i-from]).
func readRange(t testing.TB, l *Log, from, to int64, val func(off int64) []byte) {
	t.Helper()
	if l.StartOffset() != from || l.HighWatermark() != to {
		t.Fatalf("log holds [%d, %d), want [%d, %d)", l.StartOffset(), l.HighWatermark(), from, to)
	}
	r, err := l.NewReader(from, false)
	if err != nil {
		t.Fatal(err)
	}
	for want := from; ; want++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if want != to {
				t.Fatalf("EOF at %d, want %d", want, to)
			}
			return
		}
		if err != nil || rec.Offset != want || string(rec.Value) != string(val(want)) {
			t.Fatalf("offset %d: got %v %v", want, rec, err)
		}
	}
}

func plainValue(off int64) []byte { return value(int(off)) }

// TruncateFrom cuts at a frame boundary in the active segment, in a closed one and at a segment's base; the
// next append gets the cut offset; the result survives a reopen (clean and after a kill).
func TestTruncateFrom(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	appendSingles(t, l, 0, 300, 16)
	if m := l.Metrics(); m.Appends != 19 {
		t.Fatalf("%d appends counted", m.Appends)
	}
	segs := l.Segments()
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	// A reader inside a segment that the cut removes.
	r, err := l.NewReader(segs[3].BaseOffset+1, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	active := segs[len(segs)-1]
	cuts := []int64{active.BaseOffset + 3, active.BaseOffset, segs[3].BaseOffset + 2, segs[2].BaseOffset}
	next := int64(300)
	for _, cut := range cuts {
		if err := l.TruncateFrom(cut); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		readRange(t, l, 0, cut, plainValue)
		next = cut
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("reader past the cut: %v, want EOF", err)
	}
	if got := len(l.Segments()); got != 3 {
		t.Fatalf("%d segments after the cuts, want 3", got)
	}
	if names, _ := fs.List("/p"); len(names) != 3 {
		t.Fatalf("files after the cuts: %v", names)
	}
	// New records after the cut, with other values: what was cut never comes back.
	other := func(off int64) []byte {
		if off < next {
			return value(int(off))
		}
		return value(int(off) + 1000)
	}
	for i := next; i < next+100; i++ {
		if base, err := l.Append([]segment.Record{{Value: other(i)}}); err != nil || base != i {
			t.Fatalf("append after cut: %d %v", base, err)
		}
	}
	readRange(t, l, 0, next+100, other)
	if _, err := r.Next(); err != nil { // the reader moved on, by offset, into the new records
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, fs, idx, 2048)
	readRange(t, l, 0, next+100, other)
	if err := l.TruncateFrom(next + 50); err != nil {
		t.Fatal(err)
	}
	l.stopFlusherForTest() // a kill: no Close
	l2 := openTestLog(t, fs, idx, 2048)
	readRange(t, l2, 0, next+50, other)
	l2.Close()
}

func TestTruncateFromRefusals(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	if _, err := l.Append([]segment.Record{{Value: value(0)}, {Value: value(1)}, {Value: value(2)}}); err != nil {
		t.Fatal(err)
	}
	appendSingles(t, l, 3, 10, 3)
	if err := l.TruncateFrom(1); !errors.Is(err, ErrNotBatchBoundary) {
		t.Fatalf("cut inside a batch: %v", err)
	}
	if err := l.TruncateFrom(11); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("cut past the end: %v", err)
	}
	if err := l.TruncateFrom(10); err != nil {
		t.Fatalf("cut at the end: %v", err)
	}
	if _, err := l.DeleteBefore(5); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateFrom(4); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("cut below the start: %v", err)
	}
	readRange(t, l, 5, 10, plainValue)
	if err := l.TruncateFrom(5); err != nil {
		t.Fatal(err)
	}
	readRange(t, l, 5, 5, plainValue)
	if err := l.TruncateFrom(3); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
}

// DeleteBefore raises the start inside a segment and drops the segments wholly below it; past the end it
// empties the log, whose next append gets that offset; both survive a reopen.
func TestDeleteBefore(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	appendSingles(t, l, 0, 200, 7)
	segs := l.Segments()
	res, err := l.DeleteBefore(segs[2].BaseOffset + 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments != 2 || res.StartOffset != segs[2].BaseOffset+1 || len(l.Segments()) != len(segs)-2 {
		t.Fatalf("%+v, %d segments left of %d", res, len(l.Segments()), len(segs))
	}
	readRange(t, l, segs[2].BaseOffset+1, 200, plainValue)
	if _, err := l.NewReader(segs[2].BaseOffset, false); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("reader below the start: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, fs, idx, 2048)
	readRange(t, l, segs[2].BaseOffset+1, 200, plainValue)
	if _, err := l.DeleteBefore(200); err != nil { // everything, the log stays at 200
		t.Fatal(err)
	}
	readRange(t, l, 200, 200, plainValue)
	res, err = l.DeleteBefore(1000) // past the end
	if err != nil || res.StartOffset != 1000 {
		t.Fatalf("%+v %v", res, err)
	}
	readRange(t, l, 1000, 1000, plainValue)
	if names, _ := fs.List("/p"); len(names) != 1 || names[0] != segment.FileName(1000) {
		t.Fatalf("files: %v", names)
	}
	appendSingles(t, l, 1000, 1100, 10)
	readRange(t, l, 1000, 1100, plainValue)
	l.stopFlusherForTest()
	l = openTestLog(t, fs, idx, 2048)
	readRange(t, l, 1000, 1100, plainValue)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashImage is what a power cut leaves: the files and the index as synced (memIndex's state is always
// synced; its entries are copied as they were, the worst case for stale derived data).
type crashImage struct {
	fs  *vfs.MemFS
	idx *memIndex
}

// crashAtEveryWrite calls run with a crashable filesystem and an index, taking a crash image before the
// k-th write operation that run makes while armed is set, for k = 1, 2, ... until run makes no more; check
// gets each image. p is the share of unsynced data kept. It returns the number of crash points.
func crashAtEveryWrite(t *testing.T, p int, run func(fs vfs.FS, idx *memIndex, armed *atomic.Bool), check func(k int, img crashImage)) int {
	t.Helper()
	seed := uint64(rand.Int64())
	t.Logf("p=%d seed %d", p, seed)
	for k := 1; ; k++ {
		mem := vfs.NewCrashableMem()
		idx := &memIndex{}
		var armed atomic.Bool
		var ops atomic.Int64
		var img *crashImage
		rng := rand.New(rand.NewPCG(seed, uint64(k)))
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(o errorfs.Op) error {
			if armed.Load() && o.Kind.ReadOrWrite() == errorfs.OpIsWrite && ops.Add(1) == int64(k) {
				idx.mu.Lock()
				cp := &memIndex{state: slices.Clone(idx.state), entries: slices.Clone(idx.entries)}
				idx.mu.Unlock()
				img = &crashImage{fs: mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rng}), idx: cp}
			}
			return nil
		}))
		run(fs, idx, &armed)
		if img == nil {
			return k - 1
		}
		check(k, *img)
	}
}

// runOp opens a log prepared by setup, runs op armed, and closes the log.
func runOp(t *testing.T, setup func(l *Log), op func(l *Log) error) func(fs vfs.FS, idx *memIndex, armed *atomic.Bool) {
	return func(fs vfs.FS, idx *memIndex, armed *atomic.Bool) {
		l := openTestLog(t, fs, idx, 1024)
		setup(l)
		armed.Store(true)
		if err := op(l); err != nil {
			t.Fatal(err)
		}
		armed.Store(false)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkEnds opens img twice and checks that the log holds [start, end) for one of the allowed (start,
// end) pairs, the same both times, and that an append works after the second open.
func checkEnds(t *testing.T, img crashImage, what string, allowed ...[2]int64) {
	t.Helper()
	var first [2]int64
	for reopen := range 2 {
		l := openTestLog(t, img.fs, img.idx, 1024)
		got := [2]int64{l.StartOffset(), l.HighWatermark()}
		if !slices.Contains(allowed, got) || reopen == 1 && got != first {
			t.Fatalf("%s, open %d: log holds [%d, %d), want one of %v (first open %v)", what, reopen, got[0], got[1], allowed, first)
		}
		first = got
		readRange(t, l, got[0], got[1], plainValue)
		if reopen == 1 {
			if base, err := l.Append([]segment.Record{{Value: value(int(got[1]))}}); err != nil || base != got[1] {
				t.Fatalf("%s: append after reopen: %d %v", what, base, err)
			}
			readRange(t, l, got[0], got[1]+1, plainValue)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A crash at every write operation of TruncateFrom (the commit point, the removes, the trim, the fsyncs,
// the final state) leaves the log as it was or cut, never the old tail under the new state; the next
// append works; a second open gives the same log. The cut lies in a closed segment, so later segments go.
func TestCrashDuringTruncateFrom(t *testing.T) {
	const n, cut = 120, 40
	for _, p := range []int{0, 50} {
		ops := crashAtEveryWrite(t, p, runOp(t, func(l *Log) { appendSingles(t, l, 0, n, 5) }, func(l *Log) error { return l.TruncateFrom(cut) }),
			func(k int, img crashImage) {
				checkEnds(t, img, fmt.Sprintf("p=%d, crash before write %d of the cut", p, k), [2]int64{0, n}, [2]int64{0, cut})
			})
		t.Logf("p=%d: %d crash points", p, ops)
		if ops < 5 {
			t.Fatalf("only %d write operations in a cut", ops)
		}
	}
}

// The same for DeleteBefore past the end (the log emptied to start at a later offset) and inside the log.
func TestCrashDuringDeleteBefore(t *testing.T) {
	const n = 120
	for _, p := range []int{0, 50} {
		for _, to := range []int64{500, 77} {
			ops := crashAtEveryWrite(t, p, runOp(t, func(l *Log) { appendSingles(t, l, 0, n, 5) }, func(l *Log) error { _, err := l.DeleteBefore(to); return err }),
				func(k int, img crashImage) {
					end := max(int64(n), to)
					checkEnds(t, img, fmt.Sprintf("p=%d, crash before write %d of DeleteBefore(%d)", p, k, to), [2]int64{0, n}, [2]int64{to, end})
				})
			t.Logf("p=%d, DeleteBefore(%d): %d crash points", p, to, ops)
			if ops < 2 {
				t.Fatalf("only %d write operations", ops)
			}
		}
	}
}

// Open finishes a committed cut, and a crash at every write operation of that Open leaves it to the next
// one (TESTING.md item 10).
func TestCrashDuringFinishCut(t *testing.T) {
	const n, cut = 120, 40
	// The image right after the commit point: the state with the marker, nothing done on disk yet.
	mem, idx := vfs.NewCrashableMem(), &memIndex{}
	var pending *crashImage
	var armed atomic.Bool
	hook := &stateHookIndex{memIndex: idx, after: func(st []byte) {
		if armed.Load() && pending == nil {
			pending = &crashImage{fs: mem.CrashClone(vfs.CrashCloneCfg{}), idx: &memIndex{state: slices.Clone(st), entries: slices.Clone(idx.entries)}}
		}
	}}
	l, err := Open(Options{FS: mem, Dir: "/p", Index: hook, SegmentBytes: 1024, IndexIntervalBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	appendSingles(t, l, 0, n, 5)
	armed.Store(true)
	if err := l.TruncateFrom(cut); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if st, err := decodeState(pending.idx.state); err != nil || !st.cutPending {
		t.Fatalf("image state %+v %v: no pending cut", st, err)
	}
	for _, p := range []int{0, 50} {
		ops := crashAtEveryWrite(t, p, func(fs vfs.FS, idx *memIndex, armed *atomic.Bool) {
			copyMem(t, pending.fs, fs)
			idx.state = slices.Clone(pending.idx.state)
			idx.entries = slices.Clone(pending.idx.entries)
			armed.Store(true)
			l := openTestLog(t, fs, idx, 1024)
			armed.Store(false)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}, func(k int, img crashImage) {
			checkEnds(t, img, fmt.Sprintf("p=%d, crash before write %d of the open that finishes the cut", p, k), [2]int64{0, cut})
		})
		t.Logf("p=%d: %d crash points in the open", p, ops)
	}
}

// stateHookIndex calls after once each state is saved.
type stateHookIndex struct {
	*memIndex
	after func(st []byte)
}

func (s *stateHookIndex) SaveState(b []byte) error {
	err := s.memIndex.SaveState(b)
	s.after(b)
	return err
}

// copyMem copies every file under /p of src into dst, synced.
func copyMem(t *testing.T, src vfs.FS, dst vfs.FS) {
	t.Helper()
	if err := dst.MkdirAll("/p", 0o755); err != nil {
		t.Fatal(err)
	}
	names, err := src.List("/p")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data := readAllFile(t, src, "/p/"+name)
		f, err := dst.Create("/p/"+name, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		f.Sync()
		f.Close()
	}
	d, err := dst.OpenDir("/p")
	if err == nil {
		d.Sync()
		d.Close()
	}
	if d, err := dst.OpenDir("/"); err == nil {
		d.Sync()
		d.Close()
	}
}

// Reset empties the log to any next offset: below the old start, onto an old segment's base, inside, past.
func TestReset(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	appendSingles(t, l, 0, 200, 9)
	if _, err := l.DeleteBefore(150); err != nil {
		t.Fatal(err)
	}
	for _, to := range []int64{100, 0, l.Segments()[0].BaseOffset, 5000, 4999} {
		if err := l.Reset(to); err != nil {
			t.Fatalf("reset to %d: %v", to, err)
		}
		readRange(t, l, to, to, plainValue)
		appendSingles(t, l, int(to), int(to)+30, 4)
		readRange(t, l, to, to+30, plainValue)
		names, _ := fs.List("/p")
		for _, name := range names {
			if base, ok := segment.ParseFileName(name); !ok || base < to || base > to+30 {
				t.Fatalf("after reset to %d: files %v", to, names)
			}
		}
		l.stopFlusherForTest()
		l = openTestLog(t, fs, idx, 2048)
		readRange(t, l, to, to+30, plainValue)
	}
	l.Close()
}

// A crash at every write operation of Reset, to below the log, onto the first segment's base, inside the
// log and past it: the old log or the empty one at the new offset.
func TestCrashDuringReset(t *testing.T) {
	const n = 120
	for _, p := range []int{0, 50} {
		for _, to := range []int64{0, 3, 77, 500} {
			ops := crashAtEveryWrite(t, p, runOp(t, func(l *Log) { appendSingles(t, l, 0, n, 5) }, func(l *Log) error { return l.Reset(to) }),
				func(k int, img crashImage) {
					checkEnds(t, img, fmt.Sprintf("p=%d, crash before write %d of Reset(%d)", p, k, to), [2]int64{0, n}, [2]int64{to, to})
				})
			t.Logf("p=%d, Reset(%d): %d crash points", p, to, ops)
			if ops < 4 {
				t.Fatalf("only %d write operations", ops)
			}
		}
	}
}

// A start raised past the next offset of the last saved state (appends since the last roll) moves the
// saved durable point up with it: the state is consistent after a kill. (It was saved with its start past
// its next offset, and Open refused it as a bad state.)
func TestDeleteBeforePastSavedState(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncAlways, SyncNever} {
		fs, idx := vfs.NewMem(), &memIndex{}
		l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, SegmentBytes: 1 << 20, IndexIntervalBytes: 256, Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		appendSingles(t, l, 0, 50, 5)
		if _, err := l.DeleteBefore(50); err != nil {
			t.Fatal(err)
		}
		appendSingles(t, l, 50, 60, 5)
		if _, err := l.DeleteBefore(55); err != nil {
			t.Fatal(err)
		}
		l.stopFlusherForTest() // a kill
		l = openTestLog(t, fs, idx, 1<<20)
		readRange(t, l, 55, 60, plainValue)
		l.Close()
	}
}

// TruncateFrom, DeleteBefore and Reset while other goroutines append and read: every append that returns
// gets an offset the log then holds (unless a later cut removed it), readers never see a gap or a record
// out of order, and the race detector finds nothing.
func TestCutsWithConcurrentAppends(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 4096)
	defer l.Close()
	appendSingles(t, l, 0, 100, 10)
	stop := make(chan struct{})
	done := make(chan error, 3)
	for w := range 2 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if _, err := l.AppendBatches([][]segment.Record{{{Value: value(w*100000 + i)}}, {{Value: value(i)}}}); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			r, err := l.NewReader(l.StartOffset(), false)
			if err != nil {
				continue // (the start moved between the two calls)
			}
			prev := int64(-1)
			for n := 0; n < 200; n++ {
				rec, err := r.Next()
				if err != nil {
					break // EOF, or out of range after a head cut
				}
				if prev >= 0 && rec.Offset != prev+1 {
					done <- fmt.Errorf("reader: offset %d after %d", rec.Offset, prev)
					return
				}
				prev = rec.Offset
			}
		}
	}()
	for i := range 30 {
		hw := l.HighWatermark()
		var err error
		switch i % 3 {
		case 0:
			err = l.TruncateFrom(max(l.StartOffset(), hw-7))
			if errors.Is(err, ErrNotBatchBoundary) { // (every batch here holds one record)
				t.Fatalf("cut inside a batch of a log of one-record batches: %v", err)
			}
			if errors.Is(err, ErrOutOfRange) {
				err = nil // (the start passed it)
			}
		case 1:
			_, err = l.DeleteBefore(hw - 20)
		case 2:
			if i%9 == 8 {
				err = l.Reset(hw + 1000)
			}
		}
		if err != nil {
			t.Fatalf("cut %d: %v", i, err)
		}
	}
	close(stop)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	readRange(t, l, l.StartOffset(), l.HighWatermark(), func(off int64) []byte {
		r, _ := l.NewReader(off, true)
		rec, _ := r.Next()
		return rec.Value
	})
}

// Verify reports a committed cut that a crash left unfinished, and Repair refuses to execute over it
// (its new state would drop the marker and bring the cut tail back); after an Open, both are clean.
func TestVerifyRepairPendingCut(t *testing.T) {
	mem, idx := vfs.NewCrashableMem(), &memIndex{}
	var pending *crashImage
	var armed atomic.Bool
	hook := &stateHookIndex{memIndex: idx, after: func(st []byte) {
		if armed.Load() && pending == nil {
			pending = &crashImage{fs: mem.CrashClone(vfs.CrashCloneCfg{}), idx: &memIndex{state: slices.Clone(st), entries: slices.Clone(idx.entries)}}
		}
	}}
	l, err := Open(Options{FS: mem, Dir: "/p", Index: hook, SegmentBytes: 1024, IndexIntervalBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	appendSingles(t, l, 0, 120, 5)
	armed.Store(true)
	if err := l.TruncateFrom(40); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep, err := Verify(VerifyOptions{FS: pending.fs, Dir: "/p", StateKnown: true, State: pending.idx.state})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CutPending {
		t.Fatal("Verify does not report the pending cut")
	}
	if _, err := Repair(rep, RepairOptions{FS: pending.fs, Dir: "/p", Execute: true, Index: pending.idx}); !errors.Is(err, ErrCutPending) {
		t.Fatalf("Repair over a pending cut: %v", err)
	}
	l = openTestLog(t, pending.fs, pending.idx, 1024)
	readRange(t, l, 0, 40, plainValue)
	l.Close()
	st, _ := pending.idx.LoadState()
	if rep, err := Verify(VerifyOptions{FS: pending.fs, Dir: "/p", StateKnown: true, State: st}); err != nil || rep.CutPending || rep.Corrupt() {
		t.Fatalf("after Open: %+v %v", rep, err)
	}
}
