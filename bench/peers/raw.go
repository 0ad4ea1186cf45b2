package peers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/mqlog/mqlog/bench"
)

func rawSystem(prealloc bool) System {
	s := System{
		Name: NameRaw,
		Durability: "baseline: length-prefixed records in one plain file, one pwrite and one fdatasync per " +
			"batch, nothing else (no checksum, no index, no directory entry to sync after creation)",
		Batching: "one pwrite of the whole batch, then fdatasync",
	}
	if prealloc {
		s.Name = NameRawPrealloc
		s.Durability = "baseline, the physical limit: as raw, into a file grown ahead with fallocate in 64 MiB " +
			"steps, so fdatasync has no file size to commit"
	}
	s.Open = func(dir string, durable bool) (Queue, error) {
		return &rawQueue{path: filepath.Join(dir, "raw.log"), prealloc: prealloc, durable: durable}, nil
	}
	return s
}

// rawQueue creates its file at the first Append (the harness's untimed warm-up) and reads it back with
// bench.ScanRawLog.
type rawQueue struct {
	path     string
	prealloc bool
	durable  bool
	mu       sync.Mutex
	log      *bench.RawLog
}

func (q *rawQueue) Append(payloads [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.log == nil {
		l, err := bench.CreateRawLog(q.path, q.prealloc)
		if err != nil {
			return err
		}
		q.log = l
	}
	if !q.durable {
		return q.log.WriteBatch(payloads)
	}
	return q.log.AppendBatch(payloads)
}

func (q *rawQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	if _, err := os.Stat(q.path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	st, err := bench.ScanRawLog(q.path, fn)
	if err != nil {
		return st.Messages, err
	}
	return st.Messages, ctx.Err()
}

func (q *rawQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.log == nil {
		return nil
	}
	err := q.log.Sync()
	return errors.Join(err, q.log.Close())
}
