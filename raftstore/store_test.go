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
		Open:         func(t *testing.T, dir string) storetest.Store { return raft.NewInmemStore() },
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
		Open: func(t *testing.T, dir string) storetest.Store {
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
