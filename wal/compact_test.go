package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// compactModel is what a compacted log must hold: for each key, its latest record (offset, value), and
// every record ever appended by offset.
type compactModel struct {
	latest  map[string]int64
	records map[int64]segment.Record
}

func newCompactModel() *compactModel {
	return &compactModel{latest: map[string]int64{}, records: map[int64]segment.Record{}}
}

func (m *compactModel) add(base int64, recs []segment.Record) {
	for i, r := range recs {
		r.Offset = base + int64(i)
		m.records[r.Offset] = r
		m.latest[string(r.Key)] = r.Offset
	}
}

func openCompactedLog(t testing.TB, fs vfs.FS, idx *memIndex, segmentBytes int64) *Log {
	t.Helper()
	l, err := Open(Options{FS: fs, Dir: "/p", Index: idx, SegmentBytes: segmentBytes, IndexIntervalBytes: 256, Compacted: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendKeyed appends n batches of 1 to 3 records with keys drawn from keys distinct ones; about one in
// ten values is a tombstone (nil). Timestamps are ts.
func appendKeyed(t testing.TB, l *Log, m *compactModel, rng *rand.Rand, n, keys int, ts int64) {
	t.Helper()
	for i := range n {
		recs := make([]segment.Record, 1+rng.IntN(3))
		for j := range recs {
			k := rng.IntN(keys)
			recs[j] = segment.Record{Key: fmt.Appendf(nil, "key-%04d", k), Timestamp: ts,
				Headers: []segment.RecordHeader{{Key: "h", Value: []byte{byte(j)}}}}
			if rng.IntN(10) != 0 {
				recs[j].Value = fmt.Appendf(nil, "value-%d-%d-%d", k, i, j)
			}
		}
		base, err := l.Append(recs)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			m.add(base, recs)
		}
	}
}

// checkCompacted reads the whole log and checks it against the model: offsets strictly increase, each
// record is the one appended at its offset (value, timestamp, headers), every key's latest record is
// there unless it is a tombstone that was allowed to go, and no superseded record of a compacted range is
// left. It returns the number of records read.
func checkCompacted(t *testing.T, l *Log, m *compactModel, compactedBelow int64, tombstonesGone bool) int {
	t.Helper()
	r, err := l.NewReader(l.StartOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	latestBelow := map[string]int64{} // each key's latest record in the compacted range
	for off, rec := range m.records {
		if off < compactedBelow {
			latestBelow[string(rec.Key)] = max(latestBelow[string(rec.Key)], off)
		}
	}
	seen := map[string]int64{}
	prev, n := int64(-1), 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want, ok := m.records[rec.Offset]
		if rec.Offset <= prev || !ok || string(rec.Value) != string(want.Value) || (rec.Value == nil) != (want.Value == nil) ||
			string(rec.Key) != string(want.Key) || rec.Timestamp != want.Timestamp || len(rec.Headers) != 1 || rec.Headers[0].Value[0] != want.Headers[0].Value[0] {
			t.Fatalf("offset %d (after %d): got %q=%q, want %q=%q", rec.Offset, prev, rec.Key, rec.Value, want.Key, want.Value)
		}
		if rec.Offset < compactedBelow && latestBelow[string(rec.Key)] != rec.Offset {
			t.Fatalf("offset %d: superseded record of %q left (latest %d)", rec.Offset, rec.Key, latestBelow[string(rec.Key)])
		}
		seen[string(rec.Key)] = rec.Offset
		prev, n = rec.Offset, n+1
	}
	for k, off := range m.latest {
		got, ok := seen[k]
		if tombstonesGone && m.records[off].Value == nil && off < compactedBelow {
			if ok {
				t.Fatalf("key %q: expired tombstone at %d still there", k, got)
			}
			continue
		}
		if !ok || got != off {
			t.Fatalf("key %q: latest record %d, read %d (present %v)", k, off, got, ok)
		}
	}
	return n
}

func TestCompactMatchesModel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mapBytes int64
	}{{"one pass", 1 << 20}, {"many passes", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			fs, idx := vfs.NewMem(), &memIndex{}
			l := openCompactedLog(t, fs, idx, 2048)
			m := newCompactModel()
			rng := rand.New(rand.NewPCG(1, 2))
			appendKeyed(t, l, m, rng, 400, 60, 1000)
			before := len(l.Segments())
			res, err := l.Compact(context.Background(), CompactOptions{MapBytes: tc.mapBytes, DeleteRetention: time.Hour, Now: time.UnixMilli(1000)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if tc.mapBytes == 1 && res.Passes < 2 {
				t.Fatalf("a 1-byte map took %d passes", res.Passes)
			}
			if res.RecordsAfter >= res.RecordsBefore || res.BytesAfter >= res.BytesBefore || res.SegmentsAfter >= res.SegmentsBefore {
				t.Fatalf("nothing reclaimed: %+v", res)
			}
			segs := l.Segments()
			if len(segs) >= before {
				t.Fatalf("segments %d -> %d: small segments not merged", before, len(segs))
			}
			compactedBelow := segs[len(segs)-1].BaseOffset
			n := checkCompacted(t, l, m, compactedBelow, false)
			if int64(n) != res.RecordsAfter+(l.HighWatermark()-compactedBelow) {
				t.Fatalf("read %d records; %d after compaction plus %d in the active segment", n, res.RecordsAfter, l.HighWatermark()-compactedBelow)
			}
			// Reopen: recovery accepts the gaps and the new segments.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openCompactedLog(t, fs, idx, 2048)
			checkCompacted(t, l, m, compactedBelow, false)
			// Tombstones past the delete retention go in the next run.
			res, err = l.Compact(context.Background(), CompactOptions{MapBytes: tc.mapBytes, DeleteRetention: time.Hour, Now: time.UnixMilli(1000).Add(2 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tombstones == 0 {
				t.Fatalf("no tombstone removed: %+v", res)
			}
			checkCompacted(t, l, m, compactedBelow, true)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCompactDryRunChangesNothing(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openCompactedLog(t, fs, idx, 2048)
	defer l.Close()
	m := newCompactModel()
	appendKeyed(t, l, m, rand.New(rand.NewPCG(3, 4)), 300, 40, 1000)
	segs := l.Segments()
	dry, err := l.Compact(context.Background(), CompactOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Segments(); len(got) != len(segs) {
		t.Fatalf("dry run changed the segments: %d -> %d", len(segs), len(got))
	}
	if names, _ := fs.List("/p"); len(names) != len(segs) {
		t.Fatalf("dry run left files: %v", names)
	}
	real, err := l.Compact(context.Background(), CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !dry.Exact || dry.RecordsBefore != real.RecordsBefore || dry.RecordsAfter != real.RecordsAfter || dry.BytesAfter != real.BytesAfter || dry.SegmentsAfter != real.SegmentsAfter {
		t.Fatalf("dry run %+v, real run %+v", dry, real)
	}
}

func TestCompactNeedsCompactedLog(t *testing.T) {
	l := openTestLog(t, vfs.NewMem(), &memIndex{}, 2048)
	defer l.Close()
	if _, err := l.Compact(context.Background(), CompactOptions{}); !errors.Is(err, ErrNotCompacted) {
		t.Fatalf("Compact on a delete log: %v", err)
	}
}

// Appends and readers go on while compaction and retention run: readers positioned in segments that are
// swapped or deleted move on by offset (or get ErrOutOfRange below the start), and nothing appended is
// lost. Run with -race.
func TestCompactWhileAppendingAndReading(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openCompactedLog(t, fs, idx, 4096)
	m := newCompactModel()
	rng := rand.New(rand.NewPCG(5, 6))
	appendKeyed(t, l, m, rng, 300, 50, 1000)
	var mu sync.Mutex // guards m while the appender runs
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // appender (bounded: on the in-memory filesystem appends cost next to nothing)
		defer wg.Done()
		r := rand.New(rand.NewPCG(7, 8))
		for n := 0; ctx.Err() == nil && n < 5000; n++ {
			recs := []segment.Record{{Key: fmt.Appendf(nil, "key-%04d", r.IntN(50)), Value: []byte("v"), Timestamp: 1000,
				Headers: []segment.RecordHeader{{Key: "h", Value: []byte{0}}}}}
			base, err := l.Append(recs)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			m.add(base, recs)
			mu.Unlock()
		}
	}()
	go func() { // reader from the start, again and again
		defer wg.Done()
		for ctx.Err() == nil {
			r, err := l.NewReader(l.StartOffset(), false)
			if err != nil {
				t.Error(err)
				return
			}
			prev := int64(-1)
			for {
				rec, err := r.Next()
				if errors.Is(err, io.EOF) || errors.Is(err, ErrOutOfRange) {
					break
				}
				if err != nil {
					t.Error(err)
					return
				}
				if rec.Offset <= prev {
					t.Errorf("offset %d after %d", rec.Offset, prev)
					return
				}
				prev = rec.Offset
			}
		}
	}()
	for range 5 {
		if _, err := l.Compact(context.Background(), CompactOptions{MapBytes: 1000}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	segs := l.Segments()
	checkCompacted(t, l, m, 0, false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openCompactedLog(t, fs, idx, 4096)
	defer l.Close()
	if len(l.Segments()) != len(segs) {
		t.Fatalf("reopen: %d segments, had %d", len(l.Segments()), len(segs))
	}
	checkCompacted(t, l, m, 0, false)
}
