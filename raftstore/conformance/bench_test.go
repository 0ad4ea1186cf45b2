package conformance

import (
	"fmt"
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
