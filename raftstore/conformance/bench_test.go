package conformance

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/raftstore/storetest"
)

// benchEntryBytes is the Data size of each benchmark entry (a small raft command).
const benchEntryBytes = 512

// BenchmarkStoreLogs appends batches of 1, 16 and 256 entries of 512 bytes through StoreLogs, each call
// durable when it returns (one fsync: raftstore under SyncAlways, raft-wal's own), on the temp directory's
// disk, for raftstore and raft-wal in one run: compare their entries/s within one run (docs/BENCH.md).
func BenchmarkStoreLogs(b *testing.B) {
	stores := []struct {
		name string
		h    storetest.Harness
	}{
		{"raftstore", raftstoreHarness(vfs.Default, 0)},
		{"raftwal", raftWALHarness(64 << 20)},
	}
	for _, batch := range []int{1, 16, 256} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, st.name), func(b *testing.B) {
				s := st.h.Open(b, b.TempDir())
				defer st.h.Close(s)
				data := make([]byte, benchEntryBytes)
				logs := make([]*raft.Log, batch)
				next := uint64(1)
				b.SetBytes(int64(batch * benchEntryBytes))
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					for i := range logs {
						logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: start}
						next++
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkStoreLogsInterleaved alternates the two stores, round by round (each round: 200 calls of the
// batch size on each store, in turn, on stores kept open; which goes first alternates too, since the first
// of a round measured about half as fast as the second whichever store it was), so that a noisy machine
// weighs on both alike, and reports each batch size's median over the rounds of raftstore's entries/s
// divided by raft-wal's (b.N rounds; run with -benchtime 8x).
func BenchmarkStoreLogsInterleaved(b *testing.B) {
	const calls = 200
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			type side struct {
				h    storetest.Harness
				s    storetest.Store
				next uint64
			}
			sides := []*side{{h: raftstoreHarness(vfs.Default, 0)}, {h: raftWALHarness(64 << 20)}}
			for _, sd := range sides {
				sd.s, sd.next = sd.h.Open(b, b.TempDir()), 1
				defer sd.h.Close(sd.s)
			}
			data := make([]byte, benchEntryBytes)
			var ratios []float64
			var rates [2][]float64
			for round := range b.N {
				var rate [2]float64
				order := []int{0, 1}
				if round%2 == 1 {
					order = []int{1, 0} // (the store that goes first in a round is slower, whichever it is)
				}
				for _, i := range order {
					sd := sides[i]
					start := time.Now()
					for range calls {
						logs := make([]*raft.Log, batch)
						for j := range logs {
							logs[j] = &raft.Log{Index: sd.next, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: start}
							sd.next++
						}
						if err := sd.s.StoreLogs(logs); err != nil {
							b.Fatal(err)
						}
					}
					rate[i] = float64(calls*batch) / time.Since(start).Seconds()
					rates[i] = append(rates[i], rate[i])
				}
				ratios = append(ratios, rate[0]/rate[1])
			}
			b.ReportMetric(median(ratios), "ratio")
			b.ReportMetric(median(rates[0]), "raftstore-entries/s")
			b.ReportMetric(median(rates[1]), "raftwal-entries/s")
		})
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
