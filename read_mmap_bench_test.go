package mqlog_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

// BenchmarkReadReopened reads a whole log of 64 Ki messages of 1 KiB (64 MiB, batches of 256) three
// times per op, interleaved, each mqlog read after a fresh Open (so that it starts with nothing mapped, as
// the bench tool's consume workloads do; the Open is timed only when cold, as there): DB.ReadNoCopy with
// ReadMmap MmapAll (mmap), the same with MmapOff (pread; MmapViews reads the same way), and
// bench.ReadRawLog over a raw log of the same payloads (raw). "warm" reads from the page cache; "cold"
// drops the files from it first (bench.DropPageCache, outside the timer). The segment size is 16 MiB, so
// that the log has sealed segments and an active one. The figures: MB/s of each, and the median over
// ops of mmap/raw and pread/raw (speed over raw's in the same op; 1.00 is as fast).
func BenchmarkReadReopened(b *testing.B) {
	const size, batch, messages = 1024, 256, 64 << 10
	dir := b.TempDir()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: mqlog.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateTopic(bench.Topic, mqlog.TopicConfig{Partitions: 1, SegmentBytes: 16 << 20}); err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages(batch, size)
	ctx := context.Background()
	for left := messages; left > 0; left -= batch {
		if _, err := db.Append(ctx, bench.Topic, msgs[:min(left, batch)]...); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	raw, err := bench.CreateRawLog(filepath.Join(b.TempDir(), "raw.log"), false)
	if err != nil {
		b.Fatal(err)
	}
	payloads := bench.Payloads(batch, size)
	for left := messages; left > 0; left -= batch {
		if err := raw.WriteBatch(payloads[:min(left, batch)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		b.Fatal(err)
	}
	// readDB reads the log after a fresh Open and returns the time taken, Open's included when cold (as the
	// bench tool's consume-cold does).
	readDB := func(policy mqlog.MmapPolicy, cold bool) time.Duration {
		start := time.Now()
		db, err := mqlog.Open(dir, &mqlog.Options{ReadMmap: policy})
		if err != nil {
			b.Fatal(err)
		}
		if !cold {
			start = time.Now()
		}
		n := 0
		for rec, err := range db.ReadNoCopy(bench.Topic, 0, 0) {
			if err != nil {
				b.Fatal(err)
			}
			benchSink += uint64(rec.Value[0])
			n++
		}
		took := time.Since(start)
		if err := db.Close(); err != nil || n != messages {
			b.Fatalf("read %d messages; close: %v", n, err)
		}
		return took
	}
	readRaw := func(bool) time.Duration {
		start := time.Now()
		st, err := bench.ReadRawLog(raw.Path())
		if err != nil || st.Messages != messages {
			b.Fatalf("raw read: %d messages, %v", st.Messages, err)
		}
		benchSink += st.Sum
		return time.Since(start)
	}
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			// One op reads the log three times, interleaved: mmap, pread, raw.
			var ratios [2][]float64
			var total [3]time.Duration
			for b.Loop() {
				var took [3]time.Duration
				for i, read := range []func(bool) time.Duration{
					func(cold bool) time.Duration { return readDB(mqlog.MmapAll, cold) },
					func(cold bool) time.Duration { return readDB(mqlog.MmapOff, cold) },
					readRaw,
				} {
					if cold {
						b.StopTimer()
						if err := errors.Join(bench.DropPageCache(dir), bench.DropPageCache(filepath.Dir(raw.Path()))); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					took[i] = read(cold)
					total[i] += took[i]
				}
				ratios[0] = append(ratios[0], float64(took[2])/float64(took[0]))
				ratios[1] = append(ratios[1], float64(took[2])/float64(took[1]))
			}
			mb := float64(size*messages) / 1e6
			for i, mode := range []string{"mmap", "pread", "raw"} {
				b.ReportMetric(mb*float64(b.N)/total[i].Seconds(), mode+"-MB/s")
			}
			b.ReportMetric(median(ratios[0]), "mmap/raw")
			b.ReportMetric(median(ratios[1]), "pread/raw")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
