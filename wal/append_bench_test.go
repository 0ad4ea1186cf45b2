package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// BenchmarkAppendLone is one producer appending single messages under SyncAlways on a real file,
// in /dev/shm when there is one (its fsync costs nothing, so what is measured is the CPU and the
// hand-offs of one commit: BENCH.md, phase 2 item 1). Compare builds with benchstat, same run.
func BenchmarkAppendLone(b *testing.B) {
	base := os.Getenv("WAL_BENCH_DIR") // (a real disk's figures: WAL_BENCH_DIR=/tmp)
	if st, err := os.Stat("/dev/shm"); base == "" && err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	for _, c := range []struct {
		size  int
		noPre bool
	}{{100, false}, {1024, false}, {100, true}, {1024, true}} {
		size := c.size
		name := fmt.Sprintf("%dB", size)
		if c.noPre {
			name += "-noprealloc"
		}
		b.Run(name, func(b *testing.B) {
			dir, err := os.MkdirTemp(base, "wal-bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			l, err := Open(Options{FS: vfs.Default, Dir: filepath.Join(dir, "p"), Index: &memIndex{}, NoPreallocate: c.noPre})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rec := []segment.Record{{Value: make([]byte, size)}}
			b.SetBytes(int64(size))
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			n := 0
			for b.Loop() {
				if _, err := l.Append(rec); err != nil {
					b.Fatal(err)
				}
				n++
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			// CPU time and context switches per append: less noisy than the time on a shared machine.
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
			b.ReportMetric(float64(after.Nvcsw-before.Nvcsw+after.Nivcsw-before.Nivcsw)/float64(n), "csw/op")
		})
	}
}
