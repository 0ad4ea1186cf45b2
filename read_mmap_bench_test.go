package mqlog_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

// BenchmarkReadReopened reads a whole log of 64 Ki messages of 1 KiB (64 MiB, batches of 256) once per
// op, from the page cache, each time after a fresh Open (so that every read starts with nothing mapped,
// as the bench tool's consume workload does): "mmap" is DB.ReadNoCopy as it is, "pread" the same with
// Options.NoMmap, "raw" bench.ReadRawLog over a raw log of the same payloads. The segment size is 16 MiB,
// so that the log has sealed segments and an active one. One op is the whole log; MB/s is the figure.
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
	for _, mode := range []string{"mmap", "pread", "raw"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(size * messages)
			for b.Loop() {
				if mode == "raw" {
					st, err := bench.ReadRawLog(raw.Path())
					if err != nil || st.Messages != messages {
						b.Fatalf("raw read: %d messages, %v", st.Messages, err)
					}
					benchSink += st.Sum
					continue
				}
				b.StopTimer()
				db, err := mqlog.Open(dir, &mqlog.Options{NoMmap: mode == "pread"})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				n := 0
				for rec, err := range db.ReadNoCopy(bench.Topic, 0, 0) {
					if err != nil {
						b.Fatal(err)
					}
					benchSink += uint64(rec.Value[0])
					n++
				}
				b.StopTimer()
				if err := db.Close(); err != nil || n != messages {
					b.Fatalf("read %d messages; close: %v", n, err)
				}
				b.StartTimer()
			}
		})
	}
}
