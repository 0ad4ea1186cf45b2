package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

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
	// InFlight, when 2 or more, makes each producer pipeline its appends with DB.AppendAsync, keeping at
	// most that many batches queued (a Kafka producer's max.in.flight); each batch counts once its Wait
	// returns, after its fsync. 0 or 1 is DB.Append, one batch at a time.
	InFlight int
}

func (c AppendConfig) check() error {
	if c.InFlight > 1 && c.Producers != 1 {
		return fmt.Errorf("mqlog/bench: pipelined appends take one producer, not %d", c.Producers)
	}
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
	if cfg.InFlight > 1 {
		m, err = drivePipelined(ctx, cfg.Batch, cfg.InFlight, cfg.Limits, func() (*mqlog.PendingAppend, error) {
			return db.AppendAsync(ctx, Topic, msgs[0]...)
		})
	} else {
		m, err = drive(ctx, cfg.Producers, cfg.Batch, cfg.Limits, func(p int) error {
			_, err := db.Append(ctx, Topic, msgs[p]...)
			return err
		})
	}
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

// drivePipelined runs one producer that keeps up to inFlight batches queued: it queues a batch with
// queue, and once inFlight are queued waits for the oldest before queueing the next. A batch's latency
// runs from its queue call to its Wait returning (under SyncAlways, after its fsync); the run ends, as in
// drive, at limits, with every queued batch waited for.
func drivePipelined(ctx context.Context, batch, inFlight int, limits Limits, queue func() (*mqlog.PendingAppend, error)) (Measurement, error) {
	if limits.Messages <= 0 && limits.Duration <= 0 {
		limits.Messages = 1000
	}
	type queued struct {
		p  *mqlog.PendingAppend
		t0 time.Time
	}
	h := newLatencyHistogram()
	var q []queued
	var firstErr error
	wait := func() {
		pos, err := q[0].p.Wait()
		if err == nil && len(pos) != batch {
			err = fmt.Errorf("mqlog/bench: %d positions for a batch of %d", len(pos), batch)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		recordLatency(h, time.Since(q[0].t0))
		q = q[1:]
	}
	start := time.Now()
	var deadline time.Time
	if limits.Duration > 0 {
		deadline = start.Add(limits.Duration)
	}
	var queuedMsgs int64
	for firstErr == nil && ctx.Err() == nil {
		if limits.Messages > 0 && queuedMsgs+int64(batch) > limits.Messages {
			break
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
		t0 := time.Now()
		p, err := queue()
		if err != nil {
			firstErr = err
			break
		}
		queuedMsgs += int64(batch)
		q = append(q, queued{p: p, t0: t0})
		if len(q) == inFlight {
			wait()
		}
	}
	for len(q) > 0 {
		wait()
	}
	elapsed := time.Since(start)
	if firstErr != nil {
		return Measurement{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	return Measurement{Messages: h.TotalCount() * int64(batch), Elapsed: elapsed, Latency: h}, nil
}
