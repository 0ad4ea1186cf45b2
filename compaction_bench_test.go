package mqlog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog"
)

// fillCompacted appends totalBytes of messages of size bytes with keys drawn from keys distinct ones, in
// batches of 256, to a compacted topic (SyncNever: the fill is setup, not measured).
func fillCompacted(b *testing.B, db *mqlog.DB, totalBytes, size, keys int) {
	b.Helper()
	ctx := context.Background()
	value := make([]byte, size)
	msgs := make([]mqlog.Message, 256)
	for i := 0; i*size < totalBytes; {
		for j := range msgs {
			msgs[j] = mqlog.Message{Key: fmt.Appendf(nil, "key-%08d", (i*7919)%keys), Value: value}
			i++
		}
		if _, err := db.Append(ctx, "c", msgs...); err != nil {
			b.Fatal(err)
		}
	}
}

func openCompactionBenchDB(b *testing.B, sync mqlog.SyncPolicy, segmentBytes int64, opts mqlog.Options) *mqlog.DB {
	b.Helper()
	opts.Sync, opts.RetentionCheckInterval = sync, -1
	db, err := mqlog.Open(b.TempDir(), &opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateTopic("c", mqlog.TopicConfig{SegmentBytes: segmentBytes, CleanupPolicy: mqlog.CleanupCompact}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkCompaction measures compaction throughput: one op compacts a fresh 64 MiB log of 1 KiB
// messages over 10,000 keys (4 MiB segments) on the real disk. read_MB/s and written_MB/s are the bytes
// compaction read and wrote over the time of the Compact call; a small key map forces several passes.
func BenchmarkCompaction(b *testing.B) {
	for _, mapBytes := range []int64{16 << 20, 64 << 10} {
		b.Run(fmt.Sprintf("map=%dKiB", mapBytes>>10), func(b *testing.B) {
			var read, written, passes int64
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				db := openCompactionBenchDB(b, mqlog.SyncNever, 4<<20, mqlog.Options{CompactionMapBytes: mapBytes})
				fillCompacted(b, db, 64<<20, 1024, 10_000)
				b.StartTimer()
				start := time.Now()
				reports, err := db.Compact(context.Background(), mqlog.CompactOptions{})
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				c := reports[0].Compaction
				read, written, passes = read+c.BytesRead, written+c.BytesWritten, passes+int64(c.Passes)
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(read)/1e6/elapsed.Seconds(), "read_MB/s")
			b.ReportMetric(float64(written)/1e6/elapsed.Seconds(), "written_MB/s")
			b.ReportMetric(float64(passes)/float64(b.N), "passes/op")
		})
	}
}

// BenchmarkAppendDuringCompaction measures the append latency of 8 producers (SyncAlways, one 100-byte
// keyed message per Append, 1 MiB segments) on a compacted topic prefilled with 32 MiB, without compaction
// ("idle"), and with compaction running back to back the whole time, unlimited ("compacting") or limited
// to 20 MB/s of I/O ("compacting-20MBps"). One op is one Append; the latencies are per Append, in
// microseconds.
func BenchmarkAppendDuringCompaction(b *testing.B) {
	for _, mode := range []struct {
		name           string
		compacting     bool
		bytesPerSecond int64
	}{{"idle", false, 0}, {"compacting", true, 0}, {"compacting-20MBps", true, 20e6}} {
		compacting := mode.compacting
		b.Run(mode.name, func(b *testing.B) {
			db := openCompactionBenchDB(b, mqlog.SyncAlways, 1<<20, mqlog.Options{CompactionBytesPerSecond: mode.bytesPerSecond})
			defer db.Close()
			fillCompacted(b, db, 32<<20, 1024, 10_000)
			ctx, cancel := context.WithCancel(context.Background())
			var compactions, compactRead, runRead int64 // runRead: bytes read by the run in progress
			compactDone := make(chan struct{})
			go func() {
				defer close(compactDone)
				progress := func(read, _ int64) { runRead = read }
				for compacting && ctx.Err() == nil {
					runRead = 0
					_, err := db.Compact(ctx, mqlog.CompactOptions{Progress: progress})
					compactRead += runRead
					if err != nil {
						if ctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					compactions++
				}
			}()
			const producers = 8
			hists := make([]*hdrhistogram.Histogram, producers)
			var wg sync.WaitGroup
			value := make([]byte, 100)
			b.ResetTimer()
			for p := range producers {
				hists[p] = hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
				n := b.N / producers
				if p < b.N%producers {
					n++
				}
				wg.Add(1)
				go func(p, n int) {
					defer wg.Done()
					for i := range n {
						m := mqlog.Message{Key: fmt.Appendf(nil, "key-%08d", (i*producers+p)%10_000), Value: value}
						start := time.Now()
						if _, err := db.Append(context.Background(), "c", m); err != nil {
							b.Error(err)
							return
						}
						hists[p].RecordValue(time.Since(start).Microseconds())
					}
				}(p, n)
			}
			wg.Wait()
			b.StopTimer()
			cancel()
			<-compactDone
			h := hists[0]
			for _, o := range hists[1:] {
				h.Merge(o)
			}
			b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50_us")
			b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99_us")
			b.ReportMetric(float64(h.Max()), "max_us")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			if compacting {
				b.ReportMetric(float64(compactions), "compactions_done")
				b.ReportMetric(float64(compactRead)/1e6/b.Elapsed().Seconds(), "compact_read_MB/s")
			}
		})
	}
}
