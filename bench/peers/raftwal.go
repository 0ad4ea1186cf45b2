package peers

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

func raftWALSystem() System {
	return System{
		Name: NameRaftWAL,
		Durability: "StoreLogs writes the entries' frames (CRC per frame) to a segment preallocated to 64 MiB " +
			"and fsyncs it before returning; segment rotations are recorded in a bbolt meta file (fsynced). " +
			"No sync option: the durable mode is the only mode",
		Batching: "one StoreLogs of N raft.Log entries, one fsync",
		Open:     openRaftWAL,
	}
}

type raftWALQueue struct {
	mu   sync.Mutex // orders index assignment with the store
	wal  *raftwal.WAL
	meta *metadb.BoltMetaDB // closed by Close: WAL.Close leaves it open (and its file locked)
	next uint64
	logs []*raft.Log
}

func openRaftWAL(dir string, durable bool) (Queue, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
	if err != nil {
		return nil, errors.Join(err, meta.Close())
	}
	q := &raftWALQueue{wal: w, meta: meta}
	last, err := w.LastIndex()
	if err != nil {
		return nil, errors.Join(err, q.Close())
	}
	q.next = last + 1
	return q, nil
}

func (q *raftWALQueue) Append(payloads [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cap(q.logs) < len(payloads) {
		q.logs = make([]*raft.Log, len(payloads))
		for i := range q.logs {
			q.logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand}
		}
	}
	logs := q.logs[:len(payloads)]
	for i, p := range payloads {
		logs[i].Index = q.next + uint64(i)
		logs[i].Data = p
	}
	if err := q.wal.StoreLogs(logs); err != nil {
		return err
	}
	q.next += uint64(len(payloads))
	return nil
}

func (q *raftWALQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	first, err := q.wal.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := q.wal.LastIndex()
	if err != nil || first == 0 {
		return 0, err
	}
	var n int64
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := q.wal.GetLog(i, &l); err != nil {
			return n, err
		}
		fn(l.Data)
		n++
	}
	return n, ctx.Err()
}

func (q *raftWALQueue) Close() error { return errors.Join(q.wal.Close(), q.meta.Close()) }
