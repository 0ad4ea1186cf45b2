package peers

import (
	"context"
	"sync"

	"github.com/tidwall/wal"
)

func tidwallWALSystem() System {
	return System{
		Name: NameTidwallWAL,
		Durability: "NoSync=false: WriteBatch writes the batch (uvarint length + data, no checksum) with one " +
			"write and fsyncs the segment file before returning; new 20 MB segments are created without " +
			"preallocation and without a directory fsync",
		Batching: "one WriteBatch of N entries, one fsync",
		Open:     openTidwallWAL,
	}
}

type tidwallWALQueue struct {
	mu    sync.Mutex // orders index assignment with the write
	log   *wal.Log
	next  uint64
	batch wal.Batch
}

func openTidwallWAL(dir string, durable bool) (Queue, error) {
	opts := *wal.DefaultOptions
	opts.NoSync = !durable
	opts.NoCopy = true // Read returns the segment's bytes; Scan does not keep them
	l, err := wal.Open(dir, &opts)
	if err != nil {
		return nil, err
	}
	last, err := l.LastIndex()
	if err != nil {
		l.Close()
		return nil, err
	}
	return &tidwallWALQueue{log: l, next: last + 1}, nil
}

func (q *tidwallWALQueue) Append(payloads [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batch.Clear()
	for i, p := range payloads {
		q.batch.Write(q.next+uint64(i), p)
	}
	if err := q.log.WriteBatch(&q.batch); err != nil {
		return err
	}
	q.next += uint64(len(payloads))
	return nil
}

func (q *tidwallWALQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	first, err := q.log.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := q.log.LastIndex()
	if err != nil || first == 0 {
		return 0, err
	}
	var n int64
	for i := first; i <= last; i++ {
		data, err := q.log.Read(i)
		if err != nil {
			return n, err
		}
		fn(data)
		n++
	}
	return n, ctx.Err()
}

func (q *tidwallWALQueue) Close() error {
	if err := q.log.Sync(); err != nil {
		q.log.Close()
		return err
	}
	return q.log.Close()
}
