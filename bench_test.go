// Benchmarks of the public API, beside the raw baselines of package bench, so that one
// `go test -bench . -run '^$'` measures both on the same disk. The mqlog benchmark tool (`mqlog bench`)
// runs the same workloads in interleaved rounds and reports ratios; these are the testing.B view.
//
// This file is the external test package: package bench imports mqlog, so a benchmark inside package
// mqlog could not import it back.
package mqlog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

var (
	benchSizes   = []int{100, 1024}
	benchBatches = []int{1, 16, 256}
)

// benchSink keeps what the read benchmarks compute from every payload alive.
var benchSink uint64

// openBenchDB opens a DB in a fresh directory with a one-partition topic, closed at the end of b.
func openBenchDB(b *testing.B, sync mqlog.SyncPolicy) (*mqlog.DB, string) {
	b.Helper()
	dir := b.TempDir()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.CreateTopic(bench.Topic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	return db, dir
}

func benchMessages(n, size int) []mqlog.Message {
	msgs := make([]mqlog.Message, n)
	for i, v := range bench.Payloads(n, size) {
		msgs[i] = mqlog.Message{Value: v}
	}
	return msgs
}

func reportMsgsPerSec(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppend is the durable append workload: one producer, one Append of a batch per iteration,
// SyncAlways. One op is one batch; msgs/s counts messages.
func BenchmarkAppend(b *testing.B) {
	for _, size := range benchSizes {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("size=%d/batch=%d", size, batch), func(b *testing.B) {
				db, _ := openBenchDB(b, mqlog.SyncAlways)
				msgs := benchMessages(batch, size)
				ctx := context.Background()
				b.SetBytes(int64(size * batch))
				for b.Loop() {
					if _, err := db.Append(ctx, bench.Topic, msgs...); err != nil {
						b.Fatal(err)
					}
				}
				reportMsgsPerSec(b, b.N*batch)
			})
		}
	}
}

// BenchmarkAppendConcurrent64 is 64 goroutines each appending single 100-byte messages durably; group
// commit shares fsyncs between them. One op is one message; msgs/fsync is group commit's sharing.
func BenchmarkAppendConcurrent64(b *testing.B) {
	const producers, size = 64, 100
	db, _ := openBenchDB(b, mqlog.SyncAlways)
	ctx := context.Background()
	b.SetBytes(size)
	before := db.Metrics()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	b.ResetTimer()
	for range producers {
		msg := benchMessages(1, size)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := db.Append(ctx, bench.Topic, msg...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	reportMsgsPerSec(b, b.N)
	after := db.Metrics()
	if syncs := after.Syncs - before.Syncs; syncs > 0 {
		b.ReportMetric(float64(b.N)/float64(syncs), "msgs/fsync")
		// A commit's cycle against its fsync: the rest is the group forming (the commit delay) and the
		// producers' own work between two commits.
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(syncs), "cycle-µs")
		b.ReportMetric(float64((after.SyncTime-before.SyncTime).Microseconds())/float64(syncs), "fsync-µs")
	}
}

// BenchmarkConsume1KiB reads b.N messages of 1 KiB from the page cache: the log is written (SyncNever),
// closed and reopened before the timer starts. One op is one message. "nocopy" is DB.ReadNoCopy, the
// counterpart of the raw read baseline (which copies nothing either); "copy" is DB.Read, whose records own
// their bytes.
func BenchmarkConsume1KiB(b *testing.B) {
	for _, noCopy := range []bool{true, false} {
		name := "copy"
		if noCopy {
			name = "nocopy"
		}
		b.Run(name, func(b *testing.B) { benchmarkConsume(b, noCopy) })
	}
}

func benchmarkConsume(b *testing.B, noCopy bool) {
	const size, batch = 1024, 256
	dir := b.TempDir()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: mqlog.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages(batch, size)
	ctx := context.Background()
	for left := b.N; left > 0; left -= batch {
		if _, err := db.Append(ctx, bench.Topic, msgs[:min(left, batch)]...); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = mqlog.Open(dir, nil); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.SetBytes(size)
	b.ResetTimer()
	n := 0
	read := db.Read
	if noCopy {
		read = db.ReadNoCopy
	}
	for rec, err := range read(bench.Topic, 0, 0) {
		if err != nil {
			b.Fatal(err)
		}
		benchSink += uint64(rec.Value[0])
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("read %d messages, wrote %d", n, b.N)
	}
	reportMsgsPerSec(b, n)
}

// BenchmarkRawBaseline runs the raw baselines of package bench with the shapes of BenchmarkAppend and
// BenchmarkConsume1KiB: one write and one fdatasync per batch into a plain file ("append") or into one
// grown ahead with fallocate in 64 MiB steps ("append-prealloc"), and the buffered read of such a file.
func BenchmarkRawBaseline(b *testing.B) {
	for _, prealloc := range []bool{false, true} {
		name := "append"
		if prealloc {
			name = "append-prealloc"
		}
		for _, size := range benchSizes {
			for _, batch := range benchBatches {
				b.Run(fmt.Sprintf("%s/size=%d/batch=%d", name, size, batch), func(b *testing.B) {
					l, err := bench.CreateRawLog(filepath.Join(b.TempDir(), "raw.log"), prealloc)
					if err != nil {
						b.Fatal(err)
					}
					defer l.Close()
					payloads := bench.Payloads(batch, size)
					b.SetBytes(int64(size * batch))
					for b.Loop() {
						if err := l.AppendBatch(payloads); err != nil {
							b.Fatal(err)
						}
					}
					reportMsgsPerSec(b, b.N*batch)
				})
			}
		}
	}
	b.Run("consume1KiB", func(b *testing.B) {
		const size, batch = 1024, 256
		l, err := bench.CreateRawLog(filepath.Join(b.TempDir(), "raw.log"), false)
		if err != nil {
			b.Fatal(err)
		}
		payloads := bench.Payloads(batch, size)
		for left := b.N; left > 0; left -= batch {
			if err := l.WriteBatch(payloads[:min(left, batch)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		st, err := bench.ReadRawLog(l.Path())
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if st.Messages != int64(b.N) {
			b.Fatalf("read %d messages, wrote %d", st.Messages, b.N)
		}
		benchSink += st.Sum
		reportMsgsPerSec(b, b.N)
	})
}
