package peers

import (
	"context"
	"encoding/binary"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

func pebbleSystem() System {
	return System{
		Name: NamePebble,
		Durability: "Pebble as a queue: one key per message (big-endian uint64 sequence), one Batch per Append " +
			"committed with pebble.Sync: the WAL record is fdatasynced before Commit returns; concurrent " +
			"commits share WAL syncs (group commit); memtable flushes and compactions run in the background",
		Batching: "one Batch of N Sets, Commit(pebble.Sync)",
		Open:     openPebble,
	}
}

type pebbleQueue struct {
	db   *pebble.DB
	next atomic.Uint64
	sync *pebble.WriteOptions
}

func openPebble(dir string, durable bool) (Queue, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebbleLogger{}})
	if err != nil {
		return nil, err
	}
	q := &pebbleQueue{db: db, sync: pebble.Sync}
	if !durable {
		q.sync = pebble.NoSync
	}
	// Continue after the last key, if any.
	it, err := db.NewIter(nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if it.Last() {
		q.next.Store(binary.BigEndian.Uint64(it.Key()) + 1)
	}
	if err := it.Close(); err != nil {
		db.Close()
		return nil, err
	}
	return q, nil
}

func (q *pebbleQueue) Append(payloads [][]byte) error {
	first := q.next.Add(uint64(len(payloads))) - uint64(len(payloads))
	b := q.db.NewBatch()
	var key [8]byte
	for i, p := range payloads {
		binary.BigEndian.PutUint64(key[:], first+uint64(i))
		if err := b.Set(key[:], p, nil); err != nil {
			b.Close()
			return err
		}
	}
	if err := b.Commit(q.sync); err != nil {
		b.Close()
		return err
	}
	return b.Close()
}

func (q *pebbleQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	it, err := q.db.NewIter(nil)
	if err != nil {
		return 0, err
	}
	var n int64
	for valid := it.First(); valid; valid = it.Next() {
		fn(it.Value())
		n++
	}
	if err := it.Close(); err != nil {
		return n, err
	}
	return n, ctx.Err()
}

func (q *pebbleQueue) Close() error {
	if err := q.db.Flush(); err != nil {
		q.db.Close()
		return err
	}
	return q.db.Close()
}

// quietPebbleLogger drops Pebble's informational logging; fatal errors still stop the process.
type quietPebbleLogger struct{}

func (quietPebbleLogger) Infof(string, ...any)  {}
func (quietPebbleLogger) Errorf(string, ...any) {}
func (quietPebbleLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
