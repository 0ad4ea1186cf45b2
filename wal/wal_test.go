package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// memIndex is an in-memory Index for the log's own tests (the root package's tests use Pebble).
type memIndex struct {
	mu      sync.Mutex
	state   []byte
	entries []IndexEntry
	floors  int // FloorEntry calls
}

func (m *memIndex) LoadState() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.state), nil
}

func (m *memIndex) SaveState(s []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = slices.Clone(s)
	return nil
}

func (m *memIndex) AddEntries(es []IndexEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, es...)
	slices.SortFunc(m.entries, func(a, b IndexEntry) int { return int(a.Offset - b.Offset) })
	return nil
}

func (m *memIndex) FloorEntry(offset int64) (IndexEntry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.floors++
	var best IndexEntry
	ok := false
	for _, e := range m.entries {
		if e.Offset <= offset {
			best, ok = e, true
		}
	}
	return best, ok, nil
}

func (m *memIndex) DeleteEntriesFrom(offset int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = slices.DeleteFunc(m.entries, func(e IndexEntry) bool { return e.Offset >= offset })
	return nil
}

func openTestLog(t *testing.T, fs vfs.FS, idx *memIndex, segmentBytes int64) *Log {
	t.Helper()
	l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, SegmentBytes: segmentBytes, IndexIntervalBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func value(i int) []byte { return fmt.Appendf(nil, "value-%05d", i) }

func TestAppendReadAcrossSegments(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 2048)
	for i := range 300 {
		base, err := l.Append([]segment.Record{{Value: value(i), Timestamp: int64(i)}})
		if err != nil || base != int64(i) {
			t.Fatalf("append %d: base %d, %v", i, base, err)
		}
	}
	if segs := l.Segments(); len(segs) < 3 || !segs[len(segs)-1].Active {
		t.Fatalf("segments %+v", segs)
	}
	idx.mu.Lock()
	entries := len(idx.entries) // (entries are stored after the appenders are released)
	idx.mu.Unlock()
	if entries == 0 {
		t.Fatal("no sparse index entries written")
	}
	for _, from := range []int64{0, 1, 150, 299, 300} {
		r, err := l.NewReader(from, false)
		if err != nil {
			t.Fatal(err)
		}
		for want := from; ; want++ {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				if want != 300 {
					t.Fatalf("from %d: EOF at %d", from, want)
				}
				break
			}
			if err != nil || rec.Offset != want || string(rec.Value) != string(value(int(want))) {
				t.Fatalf("from %d: got %v %v, want offset %d", from, rec, err, want)
			}
		}
	}
	if _, err := l.NewReader(301, false); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("reader past the high watermark: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]segment.Record{{Value: []byte("x")}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

// A sparse index entry that does not match the segment (derived data gone stale) makes the reader scan
// from the segment's start instead of returning wrong records.
func TestStaleIndexEntryIsIgnored(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	for i := range 100 {
		if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	idx.mu.Lock()
	idx.entries = []IndexEntry{{Offset: 50, Position: 7}} // wrong position
	idx.mu.Unlock()
	r, err := l.NewReader(60, false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next()
	if err != nil || rec.Offset != 60 {
		t.Fatalf("got %v, %v; want offset 60", rec, err)
	}
}

func TestStateEncoding(t *testing.T) {
	st := durableState{activeBase: 10, position: 99, nextOffset: 12, epoch: 3, clean: true, startOffset: 0,
		closed: []closedSegment{{base: 0, size: 50, nextOffset: 10, maxTimestamp: 7}}}
	got, err := decodeState(st.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.activeBase != 10 || got.position != 99 || got.nextOffset != 12 || got.epoch != 3 || !got.clean || len(got.closed) != 1 || got.closed[0] != st.closed[0] {
		t.Fatalf("round trip: %+v", got)
	}
	bad := [][]byte{nil, {9}, st.encode()[:stateHeaderSize+3], append([]byte{9}, st.encode()[1:]...)}
	for _, b := range bad {
		if _, err := decodeState(b); !errors.Is(err, ErrBadState) {
			t.Errorf("decodeState(%x) = %v, want ErrBadState", b, err)
		}
	}
}

// FuzzRecover is directory recovery on hostile files: the input becomes one or two segment files (the second
// named by a fuzzed base offset, which may lie below, inside or after the first one's offsets), with a saved
// state that trusts nothing (as after a crash right after the log was created), so that Open must scan
// everything and tell torn writes from damage. Open must report bad files as errors, never panic, never
// allocate more than a small multiple of the input; and a log it accepts must read back to its high
// watermark in order.
func FuzzRecover(f *testing.F) {
	good := vfs.NewMem()
	l, err := Open(Options{FS: good, Dir: "/p", Index: &memIndex{}, SegmentBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		l.Append([]segment.Record{{Value: value(i), Key: []byte("k")}})
	}
	l.Close()
	seg, _ := good.Open("/p/" + segment.FileName(0))
	data, _ := io.ReadAll(seg)
	seg.Close()
	f.Add(data, uint16(0), uint16(0))
	f.Add(data[:len(data)/2], uint16(0), uint16(0))
	f.Add(append(slices.Clone(data), make([]byte, 100)...), uint16(0), uint16(0))
	f.Add(append(slices.Clone(data), data...), uint16(len(data)), uint16(5))
	f.Add(append(slices.Clone(data), data...), uint16(len(data)), uint16(3))
	golden, _ := filepath.Glob("../testdata/segment/*.log")
	for _, path := range golden {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b, uint16(0), uint16(0))
			f.Add(append(slices.Clone(b), b...), uint16(len(b)), uint16(1))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, split, base2 uint16) {
		fs := vfs.NewMem()
		if err := fs.MkdirAll("/p", 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[int64][]byte{0: data}
		if base2 > 0 && int(split) <= len(data) {
			files[0], files[int64(base2)] = data[:split], data[split:]
		}
		for base, b := range files {
			w, _ := fs.Create("/p/"+segment.FileName(base), vfs.WriteCategoryUnspecified)
			w.Write(slices.Clone(b))
			w.Close()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		defer func() {
			runtime.ReadMemStats(&ms)
			if alloc := ms.TotalAlloc - before; alloc > 16*uint64(len(data))+64<<20 {
				t.Fatalf("recovery of %d bytes allocated %d", len(data), alloc)
			}
		}()
		st := durableState{epoch: 1}
		l, err := Open(Options{FS: fs, Dir: "/p", Index: &memIndex{state: st.encode()}, NoPreallocate: true})
		if err != nil {
			return // reported, not panicked
		}
		defer l.Close()
		r, err := l.NewReader(l.StartOffset(), false)
		if err != nil {
			t.Fatal(err)
		}
		prev := int64(-1)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				// (A batch may hold fewer records than its offset range, as Kafka's compacted batches do.)
				if prev >= l.HighWatermark() || r.Offset() != l.HighWatermark() {
					t.Fatalf("read up to offset %d, then EOF at %d; high watermark %d", prev, r.Offset(), l.HighWatermark())
				}
				return
			}
			if err != nil {
				t.Fatalf("recovered log does not read back: %v", err)
			}
			if rec.Offset <= prev {
				t.Fatalf("offset %d after %d", rec.Offset, prev)
			}
			prev = rec.Offset
		}
	})
}

// Every sparse index entry is stored by Close, under each policy: those of batches that only Close's
// fsync makes durable (SyncInterval, SyncNever) used to be dropped.
func TestEntriesStoredByClose(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			fs, idx := vfs.NewMem(), &memIndex{}
			l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, IndexIntervalBytes: 1, Sync: policy, SyncInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			const n = 19
			for i := range n {
				if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			idx.mu.Lock()
			defer idx.mu.Unlock()
			if len(idx.entries) != n { // one per batch: each is past the interval of 1 byte
				t.Fatalf("%d entries stored after %d appends and Close", len(idx.entries), n)
			}
			for i, e := range idx.entries {
				if e.Offset != int64(i) {
					t.Fatalf("entry %d: %+v", i, e)
				}
			}
		})
	}
}

// An append left to the flusher while it waits for a group (the adaptive commit delay) completes when the
// log closes, however long the delay: Close ends the wait and the flusher commits what is queued.
func TestCloseEndsGroupWait(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1<<20)
	if _, err := l.Append([]segment.Record{{Value: value(0)}}); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.maxCommitDelay = time.Hour
	l.lastSyncNanos.Store(int64(2 * time.Hour))
	l.mu.lastGroup = 8 // as if 8 producers had shared the last commit
	l.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := l.Append([]segment.Record{{Value: value(1)}})
		done <- err
	}()
	for { // until the append is queued (the flusher then waits for 7 more, for an hour)
		l.mu.Lock()
		queued := l.metrics.appends.Load() == 2
		l.mu.Unlock()
		if queued {
			break
		}
		runtime.Gosched()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("append left to the group wait: %v", err)
	}
	l = openTestLog(t, fs, idx, 1<<20)
	defer l.Close()
	readAll(t, l, 2)
}
