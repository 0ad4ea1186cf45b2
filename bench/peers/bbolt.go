package peers

import (
	"context"
	"encoding/binary"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

var bboltBucket = []byte("queue")

func bboltSystem() System {
	return System{
		Name: NameBbolt,
		Durability: "bbolt as a queue: one read-write transaction per Append with NoSync=false; the commit " +
			"writes the dirty pages and fdatasyncs, then writes the meta page and fdatasyncs again; keys " +
			"are the bucket's NextSequence, big-endian; FillPercent 1.0 for append-only keys",
		Batching: "one db.Update per batch with N Puts (transactions are serialized: no group commit)",
		Open:     openBbolt,
	}
}

type bboltQueue struct{ db *bolt.DB }

func openBbolt(dir string, durable bool) (Queue, error) {
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, &bolt.Options{NoSync: !durable})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bboltBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &bboltQueue{db: db}, nil
}

func (q *bboltQueue) Append(payloads [][]byte) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bboltBucket)
		b.FillPercent = 1.0
		var key [8]byte
		for _, p := range payloads {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			binary.BigEndian.PutUint64(key[:], seq)
			if err := b.Put(key[:], p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (q *bboltQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	var n int64
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bboltBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			fn(v)
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, ctx.Err()
}

func (q *bboltQueue) Close() error {
	if err := q.db.Sync(); err != nil {
		q.db.Close()
		return err
	}
	return q.db.Close()
}
