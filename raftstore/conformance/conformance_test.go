package conformance

import (
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/mqlog/mqlog/raftstore"
	"github.com/mqlog/mqlog/raftstore/storetest"
)

func TestInmem(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open:         func(t testing.TB, dir string) storetest.Store { return raft.NewInmemStore() },
		Gaps:         true,
		MiddleRanges: true,
	})
}

func TestRaftWAL(t *testing.T) { storetest.Run(t, raftWALHarness(1<<20)) }

func TestRaftstore(t *testing.T) { storetest.Run(t, raftstoreHarness(vfs.Default, 4096)) }

// raftWALHarness opens raft-wal with its metadata store given (raft-wal's Close leaves the bbolt file it
// opened itself open and locked, so a reopen in the same process would wait on its flock forever).
func raftWALHarness(segmentBytes int) storetest.Harness {
	var mu sync.Mutex
	metas := map[*raftwal.WAL]*metadb.BoltMetaDB{}
	return storetest.Harness{
		Open: func(t testing.TB, dir string) storetest.Store {
			meta := &metadb.BoltMetaDB{}
			w, err := raftwal.Open(dir, raftwal.WithSegmentSize(segmentBytes), raftwal.WithMetaStore(meta))
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			metas[w] = meta
			mu.Unlock()
			return w
		},
		Close: func(s storetest.Store) error {
			w := s.(*raftwal.WAL)
			err := w.Close()
			mu.Lock()
			meta := metas[w]
			delete(metas, w)
			mu.Unlock()
			if meta != nil {
				if cerr := meta.Close(); err == nil {
					err = cerr
				}
			}
			return err
		},
		Persistent: true,
		StaleHead:  true,
		Skip:       map[string]string{"ReopenAfterTailCut": raftWALIssue31},
	}
}

func raftstoreHarness(fs vfs.FS, segmentBytes int64) storetest.Harness {
	return storetest.Harness{
		Open: func(t testing.TB, dir string) storetest.Store {
			s, err := raftstore.Open(raftstore.Options{FS: fs, Dir: dir, SegmentBytes: segmentBytes})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Close:      func(s storetest.Store) error { return s.(*raftstore.Store).Close() },
		Persistent: true,
	}
}

// raftWALIssue31 is the raft-wal bug that the suite finds in v0.4.0 (the only version the module proxy here
// has): TestRaftWALIssue31 shows it.
const raftWALIssue31 = "raft-wal v0.4.0, hashicorp/raft-wal issue #31: a DeleteRange at the tail records the " +
	"tail segment as sealed without writing its index block, so the next Open fails with \"sealed segment has no " +
	"index block\" (fixed upstream by pull request #33, after v0.4.0)"

// TestRaftWALIssue31 reproduces raft-wal issue #31 with the suite's own steps: a tail cut, appends, a
// reopen. It fails (on purpose) the day raft-wal reads its log back: drop the Skip above then.
func TestRaftWALIssue31(t *testing.T) {
	h := raftWALHarness(1 << 20)
	dir := t.TempDir()
	s := h.Open(t, dir)
	if err := s.StoreLogs(storetest.Entries(1, 300, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(281, 300); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(storetest.Entries(281, 290, 2)); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(s); err != nil {
		t.Fatal(err)
	}
	s = h.Open(t, dir)
	defer h.Close(s)
	var l raft.Log
	err := s.GetLog(100, &l)
	if err == nil {
		t.Fatalf("raft-wal reads its log back after a tail cut and a reopen: issue #31 is fixed in this version")
	}
	t.Logf("as issue #31 says: GetLog(100) after a tail cut and a reopen: %v", err)
}
