package peers

import (
	"context"
	"errors"

	"github.com/mqlog/mqlog"
)

const mqlogTopic = "bench"

func mqlogSystem() System {
	return System{
		Name: NameMQLog,
		Durability: "SyncAlways: Append returns after the fdatasync of the segment that holds the batch " +
			"(group commit: one fsync covers every waiting appender); segments preallocated, CRC-32C per batch",
		Batching: "one DB.Append of N messages (one RecordBatch)",
		Open:     openMQLog,
	}
}

type mqlogQueue struct{ db *mqlog.DB }

func openMQLog(dir string, durable bool) (Queue, error) {
	policy := mqlog.SyncAlways
	if !durable {
		policy = mqlog.SyncNever
	}
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: policy})
	if err != nil {
		return nil, err
	}
	if err := db.CreateTopic(mqlogTopic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &mqlogQueue{db: db}, nil
}

func (q *mqlogQueue) Append(payloads [][]byte) error {
	msgs := make([]mqlog.Message, len(payloads))
	for i, p := range payloads {
		msgs[i].Value = p
	}
	_, err := q.db.Append(context.Background(), mqlogTopic, msgs...)
	return err
}

func (q *mqlogQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	var n int64
	for rec, err := range q.db.ReadNoCopy(mqlogTopic, 0, 0) {
		if err != nil {
			return n, err
		}
		fn(rec.Value)
		n++
	}
	return n, ctx.Err()
}

func (q *mqlogQueue) Close() error { return q.db.Close() }
