package mqlog

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
)

// FollowPollInterval is how often a read-only DB checks the files of a partition it follows.
const FollowPollInterval = catalog.FollowPollInterval

// Read iterates one partition of a topic from offset from up to its readable end at the time each record
// is read, then stops. An error (a *CorruptionError for damaged data, ErrOutOfRange for an offset the log
// does not hold) is yielded once, as the last element.
func (db *DB) Read(topic string, partition int32, from int64) iter.Seq2[Record, error] {
	return facadeSeq(db.read(topic, partition, from, true))
}

// ReadNoCopy is Read without copying: each record's Key, Value and header values alias the reader's
// buffer and are valid only until the next iteration. It is for callers that handle each record before
// asking for the next (a pipe to stdout, a checksum), and it saves a copy of every batch and the garbage
// that copy makes. Under Options.ReadMmap MmapAll they alias the segment file's mapping, valid until the
// next iteration or the end of the loop.
func (db *DB) ReadNoCopy(topic string, partition int32, from int64) iter.Seq2[Record, error] {
	return facadeSeq(db.read(topic, partition, from, false))
}

func (db *DB) read(topic string, partition int32, from int64, copyRecords bool) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r, err := db.newReader(topic, partition, from, copyRecords)
		if err != nil {
			yield(Record{}, err)
			return
		}
		defer r.Close() // (releases the segment a ReadNoCopy record aliases under ReadMmap MmapAll)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(base.NewRecord(topic, partition, rec), nil) {
				return
			}
		}
	}
}

// ReadFrom is Read from the first record of the partition whose timestamp is at or after t (found with
// OffsetForTime): one call for "everything since t".
func (db *DB) ReadFrom(topic string, partition int32, t time.Time) iter.Seq2[Record, error] {
	return facadeSeq(func(yield func(Record, error) bool) {
		from, err := db.OffsetForTime(topic, partition, t)
		if err != nil {
			yield(Record{}, err)
			return
		}
		db.read(topic, partition, from, true)(yield)
	})
}

// Follow is Read that does not stop at the readable end: it waits for new records until ctx is done (then
// it yields ctx's error and stops). On a read-only DB, where the writer is another process, it checks the
// files every FollowPollInterval.
func (db *DB) Follow(ctx context.Context, topic string, partition int32, from int64) iter.Seq2[Record, error] {
	return facadeSeq(func(yield func(Record, error) bool) {
		r, err := db.newReader(topic, partition, from, true)
		if err != nil {
			yield(Record{}, err)
			return
		}
		for {
			rec, err := r.NextWait(ctx)
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(base.NewRecord(topic, partition, rec), nil) {
				return
			}
		}
	})
}

func (db *DB) newReader(topic string, partition int32, from int64, copyRecords bool) (*catalog.Reader, error) {
	t, err := db.catalog.Get(topic)
	if err != nil {
		return nil, err
	}
	l, err := t.Partition(partition)
	if err != nil {
		return nil, err
	}
	return catalog.NewReader(l, from, copyRecords)
}

// OffsetForTime returns the offset of the first record of a partition whose timestamp is at or after t,
// or the partition's high watermark when there is none (Kafka's offsetsForTimes). It skips the segments
// and the part of a segment that hold only older records, through the segments' greatest timestamps and
// a binary search over the sparse index (whose timestamps never decrease), then reads forward; where
// index entries are missing it reads more, with the same result. It works on a read-only DB too, by
// reading the segments.
func (db *DB) OffsetForTime(topic string, partition int32, t time.Time) (int64, error) {
	off, err := db.offsetForTime(topic, partition, t)
	return off, facade(err)
}

func (db *DB) offsetForTime(topic string, partition int32, t time.Time) (int64, error) {
	tp, err := db.catalog.Get(topic)
	if err != nil {
		return 0, err
	}
	l, err := tp.Partition(partition)
	if err != nil {
		return 0, err
	}
	if err := l.Refresh(); err != nil {
		return 0, err
	}
	return l.OffsetForTime(t.UnixMilli())
}
