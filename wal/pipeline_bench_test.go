package wal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/bench"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// nopIndex is an Index that keeps the state in memory and drops the sparse index entries.
type nopIndex struct{ state []byte }

func (x *nopIndex) LoadState() ([]byte, error)        { return x.state, nil }
func (x *nopIndex) SaveState(s []byte) error          { x.state = append([]byte(nil), s...); return nil }
func (x *nopIndex) AddEntries([]wal.IndexEntry) error { return nil }
func (x *nopIndex) FloorEntry(int64) (wal.IndexEntry, bool, error) {
	return wal.IndexEntry{}, false, nil
}
func (x *nopIndex) DeleteEntriesFrom(int64) error { return nil }
func (x *nopIndex) LastEntryBeforeTime(int64) (wal.IndexEntry, bool, error) {
	return wal.IndexEntry{}, false, nil
}

// BenchmarkPipelined is one producer writing batches of 256 messages under SyncAlways on a real disk
// (WAL_BENCH_DIR, default the system's temp directory), three ways in turn: the raw preallocated
// baseline (one pwrite and one fdatasync per batch, package bench), wal.Append (encode, then wait for the
// commit) and wal.AppendAsync with two batches in flight (encode the next batch while the previous one is
// synced). One op is one batch. (-count N repeats each of the three in a row; run the binary several
// times to interleave them.) fsyncs/op says how many batches shared a
// commit (below 1: a pipelined producer faster than the disk merges its batches into one commit).
func BenchmarkPipelined(b *testing.B) {
	base := os.Getenv("WAL_BENCH_DIR")
	for _, size := range []int{100, 1024} {
		const batch = 256
		payloads := bench.Payloads(batch, size)
		recs := make([]segment.Record, batch)
		for i, p := range payloads {
			recs[i] = segment.Record{Value: p}
		}
		b.Run(fmt.Sprintf("size=%d/raw-prealloc", size), func(b *testing.B) {
			l, err := bench.CreateRawLog(filepath.Join(tempDir(b, base), "raw.log"), true)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(size * batch))
			for b.Loop() {
				if err := l.AppendBatch(payloads); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, window := range []int{0, 2} {
			name := "append"
			if window > 0 {
				name = fmt.Sprintf("async-%d", window)
			}
			b.Run(fmt.Sprintf("size=%d/%s", size, name), func(b *testing.B) {
				l, err := wal.Open(wal.Options{FS: vfs.Default, Dir: filepath.Join(tempDir(b, base), "p"), Index: &nopIndex{}})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.SetBytes(int64(size * batch))
				before := l.Metrics()
				var inFlight []*wal.PendingAppend
				n := 0
				for b.Loop() {
					n++
					if window == 0 {
						if _, err := l.Append(recs); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if len(inFlight) == window {
						if _, err := inFlight[0].Wait(); err != nil {
							b.Fatal(err)
						}
						inFlight = inFlight[1:]
					}
					p, err := l.AppendAsync(recs)
					if err != nil {
						b.Fatal(err)
					}
					inFlight = append(inFlight, p)
				}
				for _, p := range inFlight {
					if _, err := p.Wait(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(l.Metrics().Syncs-before.Syncs)/float64(n), "fsyncs/op")
			})
		}
	}
}

func tempDir(b *testing.B, base string) string {
	dir, err := os.MkdirTemp(base, "wal-pipelined-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
