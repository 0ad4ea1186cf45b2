package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqlog/mqlog"
)

// compactionKeys is how many distinct keys the compaction workload's records cycle through.
const compactionKeys = 1000

// Compaction measures key compaction: a compacted topic of s.Messages records (default 32Ki) of s.Size
// bytes (default 1 KiB), whose keys cycle through compactionKeys keys, in 4 MiB segments, written with
// SyncNever and closed cleanly; then one DB.Compact over it, timed, with the background cleaner off. The
// measurement's Messages and Bytes are the records and segment bytes compaction read (the log before), so
// its MB/s is the read rate; DiskFileBytes is the log's size after.
func Compaction(ctx context.Context, s Spec) (m Measurement, err error) {
	size, n := s.Size, s.Messages
	if size <= 0 {
		size = 1024
	}
	if n <= 0 {
		n = 32 << 10
	}
	dir, cleanup, err := tempDir(s.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	opts := &mqlog.Options{Sync: mqlog.SyncNever, RetentionCheckInterval: -1}
	db, err := mqlog.Open(dir, opts)
	if err != nil {
		return m, err
	}
	cfg := mqlog.TopicConfig{Partitions: 1, SegmentBytes: 4 << 20, CleanupPolicy: mqlog.CleanupCompact}
	if err := db.CreateTopic(Topic, cfg); err != nil {
		return m, errors.Join(err, db.Close())
	}
	msgs := make([]mqlog.Message, consumeWriteBatch)
	var written int64
	err = writeBatches(ctx, n, size, func(batch [][]byte) error {
		for i, v := range batch {
			msgs[i] = mqlog.Message{Key: fmt.Appendf(nil, "key-%d", (written+int64(i))%compactionKeys), Value: v}
		}
		written += int64(len(batch))
		_, err := db.Append(ctx, Topic, msgs[:len(batch)]...)
		return err
	})
	if err := errors.Join(err, db.Close()); err != nil {
		return m, err
	}
	opts.Sync = mqlog.SyncAlways
	if db, err = mqlog.Open(dir, opts); err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	start := time.Now()
	reports, err := db.Compact(ctx, mqlog.CompactOptions{})
	m.Elapsed = time.Since(start)
	if err != nil {
		return m, err
	}
	for _, r := range reports {
		m.Messages += r.RecordsBefore
		m.Bytes += r.BytesBefore
		m.DiskFileBytes += r.BytesAfter
	}
	if m.Messages == 0 {
		return m, errors.New("mqlog/bench: compaction read nothing")
	}
	return m, nil
}
