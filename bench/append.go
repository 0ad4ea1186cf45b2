package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/mqlog/mqlog"
)

// Topic is the topic every mqlog workload writes.
const Topic = "bench"

// AppendConfig is one append run: Producers goroutines each appending batches of Batch messages of Size
// bytes, in a fresh directory under BaseDir, until Limits.
type AppendConfig struct {
	BaseDir   string // where the run's temporary directory goes; "" is os.TempDir()
	Size      int    // payload bytes per message
	Batch     int    // messages per Append call or raw batch
	Producers int    // concurrent appenders; the raw baselines take only 1
	Limits    Limits
	Sync      mqlog.SyncPolicy // mqlog only; the zero value is SyncAlways
}

func (c AppendConfig) check() error {
	if c.Size < 0 || c.Batch <= 0 || c.Producers <= 0 {
		return fmt.Errorf("mqlog/bench: bad append config: size %d, batch %d, producers %d", c.Size, c.Batch, c.Producers)
	}
	return nil
}

// AppendMQLog measures durable appends to a one-partition topic: one DB.Append of Batch messages per call,
// from each of Producers goroutines.
func AppendMQLog(ctx context.Context, cfg AppendConfig) (m Measurement, err error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: cfg.Sync})
	if err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if err := db.CreateTopic(Topic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		return m, err
	}
	// Each producer has its own messages, so that no two goroutines share a Message slice.
	msgs := make([][]mqlog.Message, cfg.Producers)
	for p := range msgs {
		msgs[p] = make([]mqlog.Message, cfg.Batch)
		for i, v := range Payloads(cfg.Batch, cfg.Size) {
			msgs[p][i] = mqlog.Message{Value: v}
		}
	}
	for range warmupBatches {
		if _, err := db.Append(ctx, Topic, msgs[0]...); err != nil {
			return m, err
		}
	}
	before := db.Metrics()
	m, err = drive(ctx, cfg.Producers, cfg.Batch, cfg.Limits, func(p int) error {
		_, err := db.Append(ctx, Topic, msgs[p]...)
		return err
	})
	if err != nil {
		return m, err
	}
	m.Bytes = m.Messages * int64(cfg.Size)
	m.Syncs = db.Metrics().Syncs - before.Syncs
	return m, nil
}

// AppendRaw measures the raw baseline: one write and one fdatasync per batch, into a plain file or, with
// prealloc, into a file grown ahead with fallocate. It takes one producer only.
func AppendRaw(ctx context.Context, cfg AppendConfig, prealloc bool) (m Measurement, err error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	if cfg.Producers != 1 {
		return m, fmt.Errorf("mqlog/bench: the raw baseline takes one producer, not %d", cfg.Producers)
	}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	l, err := CreateRawLog(filepath.Join(dir, "raw.log"), prealloc)
	if err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	batch := Payloads(cfg.Batch, cfg.Size)
	for range warmupBatches {
		if err := l.AppendBatch(batch); err != nil {
			return m, err
		}
	}
	m, err = drive(ctx, 1, cfg.Batch, cfg.Limits, func(int) error { return l.AppendBatch(batch) })
	if err != nil {
		return m, err
	}
	m.Bytes = m.Messages * int64(cfg.Size)
	m.Syncs = uint64(m.Latency.TotalCount())
	return m, nil
}
