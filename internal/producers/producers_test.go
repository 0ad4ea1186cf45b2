package producers

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mqlog/mqlog/segment"
)

// fakeLog is a log of batch headers, one per batch, in offset order.
type fakeLog struct {
	batches  []segment.BatchHeader
	segments []int64 // base offsets of the segments
}

func (l *fakeLog) HighWatermark() int64 {
	if len(l.batches) == 0 {
		return 0
	}
	return l.batches[len(l.batches)-1].LastOffset() + 1
}

func (l *fakeLog) RecentStart(n int) int64 {
	if len(l.segments) < n {
		return 0
	}
	return l.segments[len(l.segments)-n]
}

func (l *fakeLog) Batches(from int64, fn func(h *segment.BatchHeader) error) error {
	for i := range l.batches {
		if l.batches[i].LastOffset() >= from {
			if err := fn(&l.batches[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// append checks b against p (when p is not nil) and adds it to the log as it would be written.
func (l *fakeLog) append(t *testing.T, p *Partition, b Batch) error {
	t.Helper()
	base := l.HighWatermark()
	if p != nil {
		if err := p.Check(b, base); err != nil {
			return err
		}
	}
	l.batches = append(l.batches, segment.BatchHeader{BaseOffset: base, LastOffsetDelta: b.Records - 1, NumRecords: b.Records,
		ProducerID: b.ProducerID, ProducerEpoch: b.Epoch, BaseSequence: b.FirstSequence, MaxTimestamp: b.MaxTimestamp, CRC: b.CRC})
	return nil
}

type memStore struct{ snap []byte }

func (s *memStore) LoadSnapshot() ([]byte, error) { return s.snap, nil }
func (s *memStore) SaveSnapshot(b []byte) error   { s.snap = append([]byte(nil), b...); return nil }
func batch(id int64, epoch int16, seq, n int32) Batch {
	return Batch{ProducerID: id, Epoch: epoch, FirstSequence: seq, Records: n, MaxTimestamp: time.Now().UnixMilli(), CRC: uint32(id)<<16 | uint32(seq)}
}

func open(t *testing.T, l *fakeLog, s *memStore, opts Options) *Partition {
	t.Helper()
	p, err := Open(l, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSequenceRules(t *testing.T) {
	l, s := &fakeLog{}, &memStore{}
	p := open(t, l, s, Options{})
	steps := []struct {
		b    Batch
		want error
		dup  int64 // first offset of the original, for a duplicate
	}{
		{batch(1, 0, 5, 3), nil, 0},                    // unknown producer: any first sequence (offsets 0-2, seqs 5-7)
		{batch(1, 0, 8, 2), nil, 0},                    // next in sequence (offsets 3-4)
		{batch(1, 0, 5, 3), &Duplicate{}, 0},           // a retry of the first batch
		{batch(1, 0, 8, 2), &Duplicate{}, 3},           // and of the second
		{batch(1, 0, 11, 1), ErrOutOfOrderSequence, 0}, // a gap (10 expected)
		{batch(1, 0, 9, 2), ErrOutOfOrderSequence, 0},  // overlaps, but is no retained batch
		{batch(2, 3, 0, 1), nil, 0},                    // another producer (offset 5)
		{batch(2, 2, 1, 1), ErrInvalidEpoch, 0},        // an older epoch: fenced
		{batch(2, 4, 7, 1), ErrOutOfOrderSequence, 0},  // a new epoch must start at 0
		{batch(2, 4, 0, 1), nil, 0},                    // it does (offset 6)
		{batch(2, 4, 0, 1), &Duplicate{}, 6},           // retry in the new epoch
		{batch(1, 0, 10, 1), nil, 0},                   // producer 1 goes on (offset 7)
	}
	for i, st := range steps {
		err := l.append(t, p, st.b)
		var dup *Duplicate
		switch want := st.want.(type) {
		case *Duplicate:
			if !errors.As(err, &dup) || dup.FirstOffset != st.dup {
				t.Fatalf("step %d: %v, want a duplicate of offset %d", i, err, st.dup)
			}
		default:
			if !errors.Is(err, want) || (want == nil && err != nil) {
				t.Fatalf("step %d: %v, want %v", i, err, want)
			}
		}
	}
	if got := l.HighWatermark(); got != 8 {
		t.Fatalf("log holds %d records, want 8", got)
	}
}

func TestDuplicateOfEachOfTheLastFive(t *testing.T) {
	l := &fakeLog{}
	p := open(t, l, &memStore{}, Options{})
	for i := int32(0); i < 8; i++ {
		if err := l.append(t, p, batch(9, 0, i*2, 2)); err != nil {
			t.Fatal(err)
		}
	}
	for i := int32(0); i < 8; i++ {
		err := l.append(t, p, batch(9, 0, i*2, 2))
		var dup *Duplicate
		if i >= 3 { // batches 3..7 are the last five
			if !errors.As(err, &dup) || dup.FirstOffset != int64(i*2) || dup.LastOffset != int64(i*2+1) {
				t.Fatalf("retry of batch %d: %v", i, err)
			}
		} else if !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("retry of batch %d, no longer retained: %v, want out of order", i, err)
		}
	}
}

func TestSequenceWrapsAt2To31(t *testing.T) {
	l := &fakeLog{}
	p := open(t, l, &memStore{}, Options{})
	if err := l.append(t, p, batch(1, 0, math.MaxInt32-1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := l.append(t, p, batch(1, 0, 0, 1)); err != nil {
		t.Fatalf("sequence after MaxInt32: %v, want 0 accepted", err)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	l, s := &fakeLog{segments: []int64{0}}, &memStore{}
	p := open(t, l, s, Options{SnapshotEvery: 4})
	for i := int32(0); i < 10; i++ {
		if err := l.append(t, p, batch(1, 0, i, 1)); err != nil {
			t.Fatal(err)
		}
		if err := l.append(t, nil, Batch{ProducerID: -1, Records: 3}); err != nil { // a plain producer's batch
			t.Fatal(err)
		}
		if err := p.Appended(); err != nil {
			t.Fatal(err)
		}
	}
	if s.snap == nil {
		t.Fatal("no snapshot after 10 batches with SnapshotEvery 4")
	}
	// Reopen: the snapshot (taken after 8 batches) plus a replay of the last two batches.
	p2 := open(t, l, s, Options{})
	for i := int32(0); i < 10; i++ {
		var dup *Duplicate
		if err := l.append(t, p2, batch(1, 0, i, 1)); i >= 5 && !errors.As(err, &dup) {
			t.Fatalf("after restart, retry of seq %d: %v, want a duplicate", i, err)
		} else if errors.As(err, &dup) && dup.FirstOffset != int64(4*i) {
			t.Fatalf("after restart, seq %d answered with offset %d, want %d", i, dup.FirstOffset, 4*i)
		}
	}
	if err := l.append(t, p2, batch(1, 0, 11, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("after restart, a gap: %v", err)
	}
}

func TestStaleSnapshotIsDropped(t *testing.T) {
	old, s := &fakeLog{}, &memStore{}
	p := open(t, old, s, Options{SnapshotEvery: 1})
	for i := int32(0); i < 3; i++ {
		if err := old.append(t, p, batch(1, 0, i, 1)); err != nil {
			t.Fatal(err)
		}
		p.Appended()
	}
	// A new log under the same name (a topic deleted and created again), as long, other batches.
	fresh := &fakeLog{}
	for i := int32(0); i < 3; i++ {
		fresh.append(t, nil, batch(5, 0, i, 1))
	}
	p2 := open(t, fresh, s, Options{})
	if err := fresh.append(t, p2, batch(1, 0, 0, 1)); err != nil {
		t.Fatalf("producer 1 of the old log is unknown in the new one, any sequence goes: %v", err)
	}
	var dup *Duplicate
	if err := fresh.append(t, p2, batch(5, 0, 2, 1)); !errors.As(err, &dup) {
		t.Fatalf("producer 5 was replayed from the new log: %v", err)
	}
	// A snapshot past the high watermark (a tail a crash lost) is dropped too.
	short := &fakeLog{batches: old.batches[:1]}
	p3 := open(t, short, s, Options{})
	if err := short.append(t, p3, batch(1, 0, 1, 1)); err != nil {
		t.Fatalf("seq 1 after a lost tail: %v", err)
	}
}

func TestRebuildWithoutSnapshotReadsRecentSegments(t *testing.T) {
	l := &fakeLog{segments: []int64{0, 4, 8}}
	for i := int32(0); i < 12; i++ {
		l.append(t, nil, batch(int64(i/4+1), 0, i%4, 1)) // producer 1 in segment 0, 2 in 1, 3 in 2
	}
	p := open(t, l, &memStore{}, Options{RebuildSegments: 2})
	if p.Producers() != 2 {
		t.Fatalf("%d producers rebuilt from the last two segments, want 2", p.Producers())
	}
}

func TestMaxProducersBound(t *testing.T) {
	l := &fakeLog{}
	p := open(t, l, &memStore{}, Options{MaxProducers: 3})
	for id := int64(1); id <= 10; id++ {
		b := batch(id, 0, 0, 1)
		b.MaxTimestamp = id
		if err := l.append(t, p, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Producers(); n != 3 {
		t.Fatalf("%d producers remembered, bound 3", n)
	}
}

func TestDecodeSnapshotRejectsDamage(t *testing.T) {
	l := &fakeLog{}
	p := open(t, l, &memStore{}, Options{})
	for id := int64(1); id <= 3; id++ {
		l.append(t, p, batch(id, 0, 0, 2))
	}
	good := p.encodeLocked()
	if _, err := decodeSnapshot(good); err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(good); cut++ {
		if _, err := decodeSnapshot(good[:cut]); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	huge := append([]byte(nil), good...)
	huge[13], huge[14] = 0xff, 0xff // a count of 4 billion producers: refused before allocating
	if _, err := decodeSnapshot(huge); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("huge count: %v", err)
	}
}

type memIDStore struct {
	next  int64
	saves int
}

func (s *memIDStore) LoadNextProducerID() (int64, error) { return s.next, nil }
func (s *memIDStore) SaveNextProducerID(n int64) error   { s.next = n; s.saves++; return nil }

func TestIDsNeverRepeatAcrossRestarts(t *testing.T) {
	store := &memIDStore{}
	seen := map[int64]bool{}
	for restart := 0; restart < 3; restart++ {
		ids := NewIDs(store)
		for i := 0; i < IDBlockSize+10; i++ {
			id, err := ids.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			seen[id] = true
		}
	}
	if store.saves != 6 {
		t.Fatalf("%d synced writes for 3 × %d ids, want 6 (one per block)", store.saves, IDBlockSize+10)
	}
}

func TestExpiredProducersLeaveTheSnapshot(t *testing.T) {
	l, s := &fakeLog{}, &memStore{}
	p := open(t, l, s, Options{SnapshotEvery: 1, Expiration: time.Hour})
	old := batch(1, 0, 0, 1)
	old.MaxTimestamp = time.Now().Add(-2 * time.Hour).UnixMilli()
	l.append(t, p, old)
	l.append(t, p, batch(2, 0, 0, 1))
	p.Appended()
	if n := p.Producers(); n != 1 {
		t.Fatalf("%d producers after a snapshot, want 1 (producer 1 expired)", n)
	}
}
