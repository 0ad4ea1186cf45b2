package raftstore

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/raftstore/storetest"
)

// The conformance suite on raft's own in-memory store: the reference the others are held to.
func TestConformanceInmem(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open:         func(t testing.TB, dir string) storetest.Store { return raft.NewInmemStore() },
		Gaps:         true,
		MiddleRanges: true,
	})
}

// The conformance suite on this store, on the operating system's filesystem and on the in-memory one.
func TestConformance(t *testing.T) {
	storetest.Run(t, Harness(nil, 4096))
	mem := vfs.NewMem()
	t.Run("MemFS", func(t *testing.T) { storetest.Run(t, Harness(mem, 4096)) })
}

// Harness returns the conformance harness of this store on fs (nil: the operating system's), with
// segments of segmentBytes (small ones make DeleteRange cross segments).
func Harness(fs vfs.FS, segmentBytes int64) storetest.Harness {
	return storetest.Harness{
		Open: func(t testing.TB, dir string) storetest.Store {
			s, err := Open(Options{FS: fs, Dir: dir, SegmentBytes: segmentBytes})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Close:      func(s storetest.Store) error { return s.(*Store).Close() },
		Persistent: true,
	}
}

// StoreLogs costs one fsync of the segment however many entries it takes; a DeleteRange at the head frees
// whole segments, never rewrites one.
func TestOneSyncPerStoreLogsAndWholeSegments(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open(Options{FS: fs, Dir: "/raft", SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := uint64(1)
	for _, n := range []uint64{1, 16, 256} {
		before := s.Log().Metrics()
		if err := s.StoreLogs(storetest.Entries(next, next+n-1, 1)); err != nil {
			t.Fatal(err)
		}
		after := s.Log().Metrics()
		if syncs, writes := after.Syncs-before.Syncs, after.Writes-before.Writes; syncs != 1 || writes != 1 {
			t.Fatalf("StoreLogs of %d entries: %d fsyncs, %d writes; want 1 and 1", n, syncs, writes)
		}
		next += n
	}
	s.Close()

	s, err = Open(Options{FS: fs, Dir: "/raft2", SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.StoreLogs(storetest.Entries(1, 400, 1)); err != nil {
		t.Fatal(err)
	}
	segs := s.Log().Segments()
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	// Up to the middle of the third segment: the first two go, the third stays whole.
	mid := uint64(segs[2].BaseOffset+segs[2].NextOffset) / 2
	if err := s.DeleteRange(1, mid); err != nil {
		t.Fatal(err)
	}
	after := s.Log().Segments()
	if len(after) != len(segs)-2 || after[0] != segs[2] {
		t.Fatalf("segments after the head delete: %+v, before %+v", after, segs)
	}
	storetest.CheckBounds(t, s, mid+1, 400)
}
