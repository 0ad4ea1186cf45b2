package peers

import (
	"context"
	"fmt"
	"time"

	diskqueue "github.com/nsqio/go-diskqueue"
)

func diskQueueSystem() System {
	return System{
		Name: NameDiskQueue,
		Durability: "SyncEvery=1: Put returns once the message is written (write(2)); the queue's goroutine " +
			"then fsyncs the data file and rewrites its metadata file (write, fsync, rename; no directory " +
			"fsync) before it takes the next operation, so an acknowledged message is on disk only once " +
			"the next Put is accepted. Reads are destructive (a queue, not a log); the consume workload " +
			"opens it with SyncEvery large so reads do not sync the read position",
		Batching: "no batch API: N Puts, each followed by its own fsync",
		Open:     openDiskQueue,
	}
}

type diskQueueQueue struct{ dq diskqueue.Interface }

func openDiskQueue(dir string, durable bool) (Queue, error) {
	syncEvery := int64(1)
	if !durable {
		syncEvery = 1 << 62
	}
	dq := diskqueue.New("bench", dir, 64<<20, 0, 1<<20, syncEvery, time.Hour,
		func(diskqueue.LogLevel, string, ...any) {})
	return &diskQueueQueue{dq: dq}, nil
}

func (q *diskQueueQueue) Append(payloads [][]byte) error {
	for _, p := range payloads {
		if err := q.dq.Put(p); err != nil {
			return err
		}
	}
	return nil
}

func (q *diskQueueQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	total := q.dq.Depth()
	var n int64
	for n < total {
		select {
		case p := <-q.dq.ReadChan():
			fn(p)
			n++
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(10 * time.Second):
			return n, fmt.Errorf("mqlog/bench/peers: diskqueue: no message after 10s, %d of %d read", n, total)
		}
	}
	return n, nil
}

func (q *diskQueueQueue) Close() error { return q.dq.Close() }
