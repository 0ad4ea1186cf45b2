package wal

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/segment"
)

// gateFS is a filesystem whose files' SyncData waits until the test lets it through (one release per
// sync), or fails once fail is set.
type gateFS struct {
	vfs.FS
	syncing chan struct{} // receives a value when a SyncData starts
	release chan struct{} // one value lets one SyncData through
	mu      sync.Mutex
	fail    error
}

func newGateFS() *gateFS {
	return &gateFS{FS: vfs.NewMem(), syncing: make(chan struct{}, 16), release: make(chan struct{}, 16)}
}

func (fs *gateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return gateFile{f, fs}, err
}

func (fs *gateFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return gateFile{f, fs}, err
}

type gateFile struct {
	vfs.File
	fs *gateFS
}

func (f gateFile) SyncData() error {
	f.fs.syncing <- struct{}{}
	<-f.fs.release
	f.fs.mu.Lock()
	err := f.fs.fail
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.SyncData()
}

// Batches queued one after the other without waiting get increasing, contiguous offsets, reach the log
// in that order across rolls, and read back whole.
func TestAppendAsyncOrder(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	defer l.Close()
	var pending []*PendingAppend
	for i := 0; i < 300; i += 3 {
		p, err := l.AppendAsync([]segment.Record{{Value: value(i)}, {Value: value(i + 1)}, {Value: value(i + 2)}})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for i, p := range pending {
		base, err := p.Wait()
		if err != nil || base != int64(3*i) {
			t.Fatalf("batch %d: base %d, %v", i, base, err)
		}
		if again, err := p.Wait(); again != base || err != nil {
			t.Fatalf("batch %d: second Wait %d, %v", i, again, err)
		}
	}
	if segs := l.Segments(); len(segs) < 3 {
		t.Fatalf("no rolls: %+v", segs)
	}
	readAllValues(t, l, 300)
}

// Nothing is reported durable before its fsync: while the fsync that covers a batch is held, its Wait
// blocks and the high watermark stays; once the fsync returns, both move.
func TestAppendAsyncNotDurableBeforeSync(t *testing.T) {
	fs, idx := newGateFS(), &memIndex{}
	l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, SegmentBytes: 1 << 20, NoPreallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.AppendAsync([]segment.Record{{Value: value(0)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fs.syncing) // a sync of the new segment file or of the batch
	for {
		select {
		case <-p.Done():
			t.Fatal("reported durable while its fsync is held")
		case <-time.After(20 * time.Millisecond):
		}
		if hw := l.HighWatermark(); hw != 0 {
			t.Fatalf("high watermark %d before the fsync", hw)
		}
		fs.release <- struct{}{}
		select {
		case <-p.Done():
		case <-fs.syncing: // that sync was not the batch's: hold the next one
			continue
		case <-time.After(10 * time.Second):
			t.Fatal("no commit")
		}
		break
	}
	if base, err := p.Wait(); base != 0 || err != nil {
		t.Fatalf("Wait: %d, %v", base, err)
	}
	if hw := l.HighWatermark(); hw != 1 {
		t.Fatalf("high watermark %d after the fsync", hw)
	}
	go func() { // Close syncs again: let everything through
		for range fs.syncing {
			fs.release <- struct{}{}
		}
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(fs.syncing)
}

// A failed fsync fails every batch of its commit and stops the log: the pending batches' Wait and every
// later append return ErrFailStop.
func TestAppendAsyncSyncFailure(t *testing.T) {
	fs, idx := newGateFS(), &memIndex{}
	go func() {
		for range fs.syncing {
			fs.release <- struct{}{}
		}
	}()
	defer close(fs.syncing)
	l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, SegmentBytes: 1 << 20, NoPreallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append([]segment.Record{{Value: value(0)}}); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.fail = errors.New("injected fsync failure")
	fs.mu.Unlock()
	var pending []*PendingAppend
	for i := 1; i <= 5; i++ {
		p, err := l.AppendAsync([]segment.Record{{Value: value(i)}})
		if err != nil {
			break // (the log may already have stopped)
		}
		pending = append(pending, p)
	}
	if len(pending) == 0 {
		t.Fatal("nothing queued")
	}
	for i, p := range pending {
		if _, err := p.Wait(); !errors.Is(err, ErrFailStop) {
			t.Fatalf("batch %d: %v, want ErrFailStop", i, err)
		}
	}
	if _, err := l.AppendAsync([]segment.Record{{Value: value(9)}}); !errors.Is(err, ErrFailStop) {
		t.Fatalf("AppendAsync after the failure: %v", err)
	}
	if hw := l.HighWatermark(); hw != 1 {
		t.Fatalf("high watermark %d, want 1", hw)
	}
}

// Close commits what is queued: a batch queued just before Close is durable after it, and a reopen
// reads it; an AppendAsync after Close is refused.
func TestAppendAsyncClose(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	var pending []*PendingAppend
	for i := range 20 {
		p, err := l.AppendAsync([]segment.Record{{Value: value(i)}})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range pending {
		if base, err := p.Wait(); base != int64(i) || err != nil {
			t.Fatalf("batch %d: %d, %v", i, base, err)
		}
	}
	if _, err := l.AppendAsync([]segment.Record{{Value: value(0)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendAsync after Close: %v", err)
	}
	l = openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	readAllValues(t, l, 20)
}

func TestAppendAsyncRefusesBadInput(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	if _, err := l.AppendAsync(nil); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("empty batch: %v", err)
	}
	big := make([]byte, 2<<20)
	if _, err := l.AppendAsync([]segment.Record{{Value: big}}); !errors.Is(err, segment.ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d", hw)
	}
}

func waitFor(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

// A power cut at every write operation while a producer keeps batches in flight with AppendAsync: every
// batch reported durable (its Done closed) when the image was taken is there after recovery, and the log holds a
// contiguous prefix of what was queued (TESTING.md's model: acknowledged, maybe, never a gap), the same
// on a second open.
func TestCrashDuringAppendAsync(t *testing.T) {
	const batches, window = 24, 3
	for _, p := range []int{0, 50} {
		seed := uint64(rand.Int64())
		t.Logf("p=%d seed %d", p, seed)
		points := 0
		for k := 1; ; k++ {
			mem := vfs.NewCrashableMem()
			idx := &memIndex{}
			var armed atomic.Bool
			var ops atomic.Int64
			var img *crashImage
			var ackedAtCrash int64
			var queued struct {
				sync.Mutex
				all []*PendingAppend
			}
			// durable is the offset after the last batch reported durable (Done closed) at this instant.
			durable := func() int64 {
				queued.Lock()
				defer queued.Unlock()
				end := int64(0)
				for _, pa := range queued.all {
					select {
					case <-pa.Done():
						end = max(end, pa.base+1) // (one record per batch)
					default:
					}
				}
				return end
			}
			rng := rand.New(rand.NewPCG(seed, uint64(k)))
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(o errorfs.Op) error {
				if armed.Load() && o.Kind.ReadOrWrite() == errorfs.OpIsWrite && ops.Add(1) == int64(k) {
					ackedAtCrash = durable()
					idx.mu.Lock()
					cp := &memIndex{state: slices.Clone(idx.state), entries: slices.Clone(idx.entries)}
					idx.mu.Unlock()
					img = &crashImage{fs: mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rng}), idx: cp}
				}
				return nil
			}))
			l := openTestLog(t, fs, idx, 1024) // (rolls every few batches)
			armed.Store(true)
			var inFlight []*PendingAppend
			wait := func() {
				if _, err := inFlight[0].Wait(); err != nil {
					t.Fatal(err)
				}
				inFlight = inFlight[1:]
			}
			for i := range batches {
				if len(inFlight) == window {
					wait()
				}
				pa, err := l.AppendAsync([]segment.Record{{Value: value(i)}})
				if err != nil {
					t.Fatal(err)
				}
				inFlight = append(inFlight, pa)
				queued.Lock()
				queued.all = append(queued.all, pa)
				queued.Unlock()
			}
			for len(inFlight) > 0 {
				wait()
			}
			armed.Store(false)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if img == nil {
				break
			}
			points++
			var first int64
			for reopen := range 2 {
				r := openTestLog(t, img.fs, img.idx, 1024)
				hw := r.HighWatermark()
				if hw < ackedAtCrash || hw > batches || reopen == 1 && hw != first {
					t.Fatalf("crash point %d, open %d: high watermark %d, %d acknowledged (first open %d)", k, reopen, hw, ackedAtCrash, first)
				}
				first = hw
				readRange(t, r, 0, hw, plainValue)
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if points < batches/window {
			t.Fatalf("only %d crash points", points)
		}
	}
}
