package wal

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/segment"
)

// Roll closes a non-empty active segment at once, leaves an empty one alone, and reports the first batch's
// timestamp of the new active segment only once it holds something.
func TestRoll(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	if rolled, err := l.Roll(); err != nil || rolled {
		t.Fatalf("roll of an empty segment: rolled %v, %v", rolled, err)
	}
	if _, ok, err := l.ActiveSegmentTimestamp(); ok || err != nil {
		t.Fatalf("timestamp of an empty segment: %v %v", ok, err)
	}
	for i := range 3 {
		if _, err := l.Append([]segment.Record{{Value: value(i), Timestamp: int64(1000 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if ts, ok, err := l.ActiveSegmentTimestamp(); !ok || err != nil || ts != 1000 {
		t.Fatalf("timestamp: %d %v %v, want 1000", ts, ok, err)
	}
	if rolled, err := l.Roll(); err != nil || !rolled {
		t.Fatalf("roll: rolled %v, %v", rolled, err)
	}
	segs := l.Segments()
	if len(segs) != 2 || segs[0].Active || !segs[1].Active || segs[1].BaseOffset != 3 || segs[0].NextOffset != 3 {
		t.Fatalf("segments after roll: %+v", segs)
	}
	if _, ok, _ := l.ActiveSegmentTimestamp(); ok {
		t.Fatal("the new active segment is empty")
	}
	if rolled, _ := l.Roll(); rolled {
		t.Fatal("rolled an empty segment")
	}
	if base, err := l.Append([]segment.Record{{Value: value(3), Timestamp: 2000}}); err != nil || base != 3 {
		t.Fatalf("append after roll: %d %v", base, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Roll(); !errors.Is(err, ErrClosed) {
		t.Fatalf("roll after close: %v", err)
	}

	// Reopened, the log has both segments and every record.
	l = openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	if segs := l.Segments(); len(segs) != 2 {
		t.Fatalf("segments after reopen: %+v", segs)
	}
	readAll(t, l, 4)
}

// Rolls racing appenders from several goroutines lose, duplicate and reorder nothing (run with -race).
func TestRollWithConcurrentAppends(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	const appenders, each = 4, 200
	var rolls, appended atomic.Int64
	var wg sync.WaitGroup
	for range appenders {
		wg.Go(func() {
			// At least each appends, and on until a roll has happened among them (the roller goroutine
			// may not have run yet on a busy machine).
			for i := 0; i < each || rolls.Load() == 0; i++ {
				if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
					t.Error(err)
					return
				}
				appended.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	rollerDone := make(chan struct{})
	go func() {
		defer close(rollerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			rolled, err := l.Roll()
			if err != nil {
				t.Error(err)
				return
			}
			if rolled {
				rolls.Add(1)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-rollerDone
	// (Appenders running alone for long on a busy machine may also roll by size: count every roll.)
	if segs, all := l.Segments(), l.Metrics().Rolls; uint64(len(segs)) != all+1 || all < uint64(rolls.Load()) {
		t.Fatalf("%d segments after %d rolls, %d of them by Roll", len(segs), all, rolls.Load())
	}
	n := appended.Load()
	readAll(t, l, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	readAll(t, l, n)
}

// readAll reads l from its start and checks it holds offsets 0 to n-1, in order.
func readAll(t *testing.T, l *Log, n int64) {
	t.Helper()
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(0); ; want++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if want != n {
				t.Fatalf("EOF at offset %d, want %d records", want, n)
			}
			return
		}
		if err != nil || rec.Offset != want {
			t.Fatalf("record %d: %v %v", want, rec, err)
		}
	}
}

// A crash at every write operation of Roll (trim, fsync, create, preallocate, fsyncs, state) leaves a log
// that opens with every acknowledged record, and appends go on after it.
func TestCrashDuringRoll(t *testing.T) {
	for k := 1; ; k++ {
		mem := vfs.NewCrashableMem()
		idx := &memIndex{}
		var armed atomic.Bool
		var ops atomic.Int64
		var img *vfs.MemFS
		var imgState []byte
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if armed.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && ops.Add(1) == int64(k) {
				img = mem.CrashClone(vfs.CrashCloneCfg{})
				imgState, _ = idx.LoadState()
			}
			return nil
		}))
		l := openTestLog(t, fs, idx, 1<<20)
		for i := range 3 {
			if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		armed.Store(true)
		if rolled, err := l.Roll(); err != nil || !rolled {
			t.Fatalf("roll: %v %v", rolled, err)
		}
		armed.Store(false)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if img == nil {
			t.Logf("%d write operations in a roll, a crash before each", k-1)
			if k < 3 {
				t.Fatal("a roll with fewer than 2 write operations: the injector saw nothing")
			}
			return
		}
		crashed := &memIndex{state: imgState}
		l = openTestLog(t, img, crashed, 1<<20)
		readAll(t, l, 3)
		if base, err := l.Append([]segment.Record{{Value: value(3)}}); err != nil || base != 3 {
			t.Fatalf("crash before write %d of the roll: append after reopen: %d %v", k, base, err)
		}
		readAll(t, l, 4)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
