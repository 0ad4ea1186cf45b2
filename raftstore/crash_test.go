package raftstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/raftstore/storetest"
)

// model is what the store must hold: the first index and the term of each index from it (empty: none),
// and the stable CurrentTerm.
type model struct {
	first uint64
	terms []uint64
	term  uint64
}

func (m model) last() uint64 {
	if len(m.terms) == 0 {
		return 0
	}
	return m.first + uint64(len(m.terms)) - 1
}

// crashOp is one step of the crash workload: what it does to the store and to the model.
type crashOp struct {
	name  string
	do    func(s *Store) error
	apply func(m model) model
	// partial says a crash during it may leave a prefix of its entries (a StoreLogs: one write, which a
	// power cut may keep in part, before the fsync that acknowledges it).
	partial bool
}

func storeOp(from, to, term uint64) crashOp {
	return crashOp{
		name: fmt.Sprintf("StoreLogs [%d, %d] term %d", from, to, term),
		do:   func(s *Store) error { return s.StoreLogs(storetest.Entries(from, to, term)) },
		apply: func(m model) model {
			if len(m.terms) == 0 {
				m.first = from
			}
			terms := append([]uint64(nil), m.terms...)
			for i := from; i <= to; i++ {
				terms = append(terms, term)
			}
			m.terms = terms
			return m
		},
		partial: true,
	}
}

func deleteOp(min, max uint64) crashOp {
	return crashOp{
		name: fmt.Sprintf("DeleteRange(%d, %d)", min, max),
		do:   func(s *Store) error { return s.DeleteRange(min, max) },
		apply: func(m model) model {
			first, last := m.first, m.last()
			switch {
			case len(m.terms) == 0 || max < first || min > last:
			case min <= first && max >= last:
				m.terms = nil
			case min <= first:
				m.terms = append([]uint64(nil), m.terms[max+1-first:]...)
				m.first = max + 1
			default:
				m.terms = append([]uint64(nil), m.terms[:min-first]...)
			}
			return m
		},
	}
}

func termOp(term uint64) crashOp {
	return crashOp{
		name:  fmt.Sprintf("SetUint64(CurrentTerm, %d)", term),
		do:    func(s *Store) error { return s.SetUint64([]byte("CurrentTerm"), term) },
		apply: func(m model) model { m.term = term; return m },
	}
}

// crashWorkload is what raft does to a store over a few terms: appends, a conflicting tail rewritten,
// compaction at the head across segments, everything deleted after a snapshot and the log started anew.
func crashWorkload() []crashOp {
	return []crashOp{
		termOp(1),
		storeOp(1, 1, 1),
		storeOp(2, 40, 1),
		storeOp(41, 80, 1),
		termOp(2),
		deleteOp(61, 80),
		storeOp(61, 70, 2),
		deleteOp(1, 30),
		storeOp(71, 71, 2),
		deleteOp(1, 71),
		storeOp(200, 230, 3),
	}
}

// checkModel fails t unless s holds m, or a state that op may have left from m (before, after, or, for a
// partial op, before plus a prefix of its entries).
func checkModel(t *testing.T, s *Store, before model, op *crashOp) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	term, err := s.GetUint64([]byte("CurrentTerm"))
	if err != nil {
		t.Fatal(err)
	}
	var got model
	got.first, got.term = first, term
	if last > 0 {
		for i := first; i <= last; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil {
				t.Fatalf("GetLog(%d) of [%d, %d]: %v", i, first, last, err)
			}
			if err := storetest.SameEntry(&l, storetest.Entry(i, l.Term)); err != nil {
				t.Fatal(err)
			}
			got.terms = append(got.terms, l.Term)
		}
	} else {
		got.first = 0
	}
	candidates := []model{before}
	if op != nil {
		after := op.apply(before)
		candidates = append(candidates, after)
		if op.partial {
			for n := len(before.terms) + 1; n < len(after.terms); n++ {
				p := after
				p.terms = after.terms[:n]
				candidates = append(candidates, p)
			}
		}
	}
	for _, c := range candidates {
		if len(c.terms) == 0 {
			c.first = 0
		}
		if c.first == got.first && c.term == got.term && fmt.Sprint(c.terms) == fmt.Sprint(got.terms) {
			return
		}
	}
	opName := "none"
	if op != nil {
		opName = op.name
	}
	t.Fatalf("store holds first %d terms %v CurrentTerm %d; acknowledged before the crash: first %d terms %v CurrentTerm %d; in flight: %s",
		got.first, got.terms, got.term, before.first, before.terms, before.term, opName)
}

// A power cut at every write operation of the workload (StoreLogs, tail and head DeleteRange, a reset to
// a new start, stable values; segments, the Pebble WAL and its manifest alike) never loses what had been
// acknowledged: each image reopens as the acknowledged state, with the operation in flight done, not done,
// or (an append) done in part; it reopens the same a second time, and takes appends. With p=0 and p=50
// (seed logged). -short samples every 4th crash point; MQLOG_TORTURE=1 runs every one at p=0, 50 and 100.
func TestCrashAtEveryWrite(t *testing.T) {
	ops := crashWorkload()
	step := 1
	ps := []int{0, 50}
	if testing.Short() {
		step = 4
	}
	if os.Getenv("MQLOG_TORTURE") != "" {
		step, ps = 1, []int{0, 50, 100}
	}
	for _, p := range ps {
		seed := rand.Uint64()
		t.Logf("p=%d seed %d", p, seed)
		points := 0
		for k := 1; ; k += step {
			mem := vfs.NewCrashableMem()
			var armed atomic.Bool
			var writes atomic.Int64
			var img *vfs.MemFS
			var before model
			var inFlight *crashOp
			var acked atomic.Pointer[model] // the model of every op that returned, updated by the workload
			acked.Store(&model{})
			var current atomic.Int64 // the op in flight, -1 for none
			current.Store(-1)
			rng := rand.New(rand.NewPCG(seed, uint64(k)))
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(o errorfs.Op) error {
				if armed.Load() && o.Kind.ReadOrWrite() == errorfs.OpIsWrite && writes.Add(1) == int64(k) {
					img = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rng})
					before = *acked.Load()
					if c := current.Load(); c >= 0 {
						inFlight = &ops[c]
					}
				}
				return nil
			}))
			s, err := Open(Options{FS: fs, Dir: "/raft", SegmentBytes: 2048})
			if err != nil {
				t.Fatal(err)
			}
			armed.Store(true)
			for i := range ops {
				current.Store(int64(i))
				if err := ops[i].do(s); err != nil {
					t.Fatalf("%s: %v", ops[i].name, err)
				}
				next := ops[i].apply(*acked.Load())
				acked.Store(&next)
				current.Store(-1)
			}
			armed.Store(false)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if img == nil {
				t.Logf("p=%d: %d crash points of %d write operations", p, points, k-1)
				if k < 50 {
					t.Fatalf("only %d write operations in the workload", k-1)
				}
				break
			}
			points++
			what := "none"
			if inFlight != nil {
				what = inFlight.name
			}
			for reopen := range 2 {
				s, err := Open(Options{FS: img, Dir: "/raft", SegmentBytes: 2048})
				if err != nil {
					t.Fatalf("p=%d, crash before write %d (in flight: %s), open %d: %v", p, k, what, reopen, err)
				}
				checkModel(t, s, before, inFlight)
				if reopen == 1 {
					last, _ := s.LastIndex()
					if err := s.StoreLogs(storetest.Entries(last+1, last+2, 9)); err != nil {
						t.Fatalf("p=%d, crash before write %d: append after reopen: %v", p, k, err)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
