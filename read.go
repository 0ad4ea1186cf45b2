package mqlog

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Record is a message as read back: where it is, when it was written, and its bytes (the caller's to keep).
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []Header
}

func newRecord(topic string, partition int32, r *segment.Record) Record {
	return Record{
		Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: time.UnixMilli(r.Timestamp),
		Key: r.Key, Value: r.Value, Headers: r.Headers,
	}
}

// Read iterates one partition of a topic from offset from up to its readable end at the time each record
// is read, then stops. An error (a *CorruptionError for damaged data, ErrOutOfRange for an offset the log
// does not hold) is yielded once, as the last element.
func (db *DB) Read(topicName string, partition int32, from int64) iter.Seq2[Record, error] {
	return db.read(topicName, partition, from, true)
}

// ReadNoCopy is Read without copying (DESIGN.md: values decoded without copying where the caller allows
// it): each record's Key, Value and header values alias the reader's buffer and are valid only until the
// next iteration. It is for callers that handle each record before asking for the next — a pipe to
// stdout, a checksum — and it saves a copy of every batch and the garbage that copy makes.
func (db *DB) ReadNoCopy(topicName string, partition int32, from int64) iter.Seq2[Record, error] {
	return db.read(topicName, partition, from, false)
}

func (db *DB) read(topicName string, partition int32, from int64, copyRecords bool) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r, err := db.newPartitionReader(topicName, partition, from, copyRecords)
		if err != nil {
			yield(Record{}, err)
			return
		}
		for {
			rec, err := r.reader.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(newRecord(topicName, partition, rec), nil) {
				return
			}
		}
	}
}

// Follow is Read that does not stop at the readable end: it waits for new records until ctx is done (then
// it yields ctx's error and stops). On a read-only DB, where the writer is another process, it checks the
// files every FollowPollInterval.
func (db *DB) Follow(ctx context.Context, topicName string, partition int32, from int64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r, err := db.newPartitionReader(topicName, partition, from, true)
		if err != nil {
			yield(Record{}, err)
			return
		}
		for {
			rec, err := r.next(ctx)
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(newRecord(topicName, partition, rec), nil) {
				return
			}
		}
	}
}

// FollowPollInterval is how often a read-only DB checks the files of a partition it follows.
const FollowPollInterval = 20 * time.Millisecond

// partitionReader reads one partition, blocking at the readable end when asked to.
type partitionReader struct {
	log    *wal.Log
	reader *wal.Reader
}

func (db *DB) newPartitionReader(topicName string, partition int32, from int64, copyRecords bool) (*partitionReader, error) {
	t, err := db.topic(topicName)
	if err != nil {
		return nil, err
	}
	l, err := t.partition(partition)
	if err != nil {
		return nil, err
	}
	if err := l.Refresh(); err != nil {
		return nil, err
	}
	r, err := l.NewReader(from, copyRecords)
	if err != nil {
		return nil, err
	}
	return &partitionReader{log: l, reader: r}, nil
}

// next returns the next record, waiting for one until ctx is done.
func (r *partitionReader) next(ctx context.Context) (*segment.Record, error) {
	for {
		changed := r.log.Changed()
		rec, err := r.reader.Next()
		if !errors.Is(err, io.EOF) {
			return rec, err
		}
		if err := r.wait(ctx, changed); err != nil {
			return nil, err
		}
	}
}

// wait blocks until the log's high watermark may have moved or ctx is done.
func (r *partitionReader) wait(ctx context.Context, changed <-chan struct{}) error {
	var poll <-chan time.Time
	if r.log.ReadOnly() {
		t := time.NewTimer(FollowPollInterval)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
		return nil
	case <-poll:
		return r.log.Refresh()
	}
}
