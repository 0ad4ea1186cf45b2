package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mqlog/mqlog"
)

// consumeWriteBatch is the batch size the consume workloads write their log with (not measured).
const consumeWriteBatch = 256

// ConsumeConfig is one consume run: a log of Messages messages of Size bytes is written and synced in a
// fresh directory under BaseDir, then read back whole; only the read is measured. With Cold, the log's
// files are fsynced and dropped from the page cache (DropPageCache) before the read, and the measured
// time includes opening the log (a fresh reader over cold files).
type ConsumeConfig struct {
	BaseDir  string
	Size     int
	Messages int64
	Cold     bool
}

func (c ConsumeConfig) check() error {
	if c.Size <= 0 || c.Messages <= 0 {
		return fmt.Errorf("mqlog/bench: bad consume config: size %d, messages %d", c.Size, c.Messages)
	}
	return nil
}

// writeBatches calls write with batches of consumeWriteBatch payloads (fewer for the last) until n
// messages are written.
func writeBatches(ctx context.Context, n int64, size int, write func(batch [][]byte) error) error {
	batch := Payloads(consumeWriteBatch, size)
	for left := n; left > 0; left -= int64(len(batch)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if left < int64(len(batch)) {
			batch = batch[:left]
		}
		if err := write(batch); err != nil {
			return err
		}
	}
	return nil
}

// ConsumeMQLog writes the log with mqlog (SyncNever, then a clean Close that syncs it), reopens it and
// measures one DB.ReadNoCopy over every record, touching a byte of each value (the raw baseline does not
// copy either).
func ConsumeMQLog(ctx context.Context, cfg ConsumeConfig) (m Measurement, err error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: mqlog.SyncNever})
	if err != nil {
		return m, err
	}
	if err := db.CreateTopic(Topic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		return m, errors.Join(err, db.Close())
	}
	msgs := make([]mqlog.Message, consumeWriteBatch)
	err = writeBatches(ctx, cfg.Messages, cfg.Size, func(batch [][]byte) error {
		for i, v := range batch {
			msgs[i] = mqlog.Message{Value: v}
		}
		_, err := db.Append(ctx, Topic, msgs[:len(batch)]...)
		return err
	})
	if err := errors.Join(err, db.Close()); err != nil {
		return m, err
	}
	if m.DiskBytes, m.DiskFileBytes, err = DiskUsage(dir); err != nil {
		return m, err
	}
	if cfg.Cold {
		if err := DropPageCache(dir); err != nil {
			return m, err
		}
	}
	// Reopened after a clean close: nothing to recover; warm, every segment still in the page cache.
	start := time.Now()
	if db, err = mqlog.Open(dir, nil); err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	var sum uint64
	if !cfg.Cold {
		start = time.Now()
	}
	for rec, err := range db.ReadNoCopy(Topic, 0, 0) {
		if err != nil {
			return m, err
		}
		if len(rec.Value) > 0 {
			sum += uint64(rec.Value[0])
		}
		m.Messages++
		m.Bytes += int64(len(rec.Value))
	}
	m.Elapsed = time.Since(start)
	sink.Add(sum)
	if m.Messages != cfg.Messages {
		return m, fmt.Errorf("mqlog/bench: read %d messages back, wrote %d", m.Messages, cfg.Messages)
	}
	return m, nil
}

// ConsumeRaw writes the raw log (no fdatasync per batch, one at the end) and measures ReadRawLog over it.
func ConsumeRaw(ctx context.Context, cfg ConsumeConfig) (m Measurement, err error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	l, err := CreateRawLog(filepath.Join(dir, "raw.log"), false)
	if err != nil {
		return m, err
	}
	err = writeBatches(ctx, cfg.Messages, cfg.Size, l.WriteBatch)
	if err == nil {
		err = l.Sync()
	}
	if err := errors.Join(err, l.Close()); err != nil {
		return m, err
	}
	if m.DiskBytes, m.DiskFileBytes, err = DiskUsage(dir); err != nil {
		return m, err
	}
	if cfg.Cold {
		if err := DropPageCache(dir); err != nil {
			return m, err
		}
	}
	start := time.Now()
	st, err := ReadRawLog(l.Path())
	m.Elapsed = time.Since(start)
	if err != nil {
		return m, err
	}
	sink.Add(st.Sum)
	m.Messages, m.Bytes = st.Messages, st.Bytes
	if m.Messages != cfg.Messages {
		return m, fmt.Errorf("mqlog/bench: read %d raw messages back, wrote %d", m.Messages, cfg.Messages)
	}
	return m, nil
}
