package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mqlog/mqlog"
)

// e2eGroup is the consumer group of the end-to-end workload.
const e2eGroup = "bench-e2e"

// EndToEndMQLog measures produce and consume at once: one producer appends batches of cfg.Batch messages
// of cfg.Size bytes (at least 8) under cfg.Sync until cfg.Limits, while one Consumer of the same DB reads
// them with Next. Every payload starts with the time its Append was called; the latency recorded per
// message is from that instant to Next returning it (an fsync and a wake-up: DESIGN.md's readers see only
// what is durable). The rate is of messages consumed.
func EndToEndMQLog(ctx context.Context, cfg AppendConfig) (m Measurement, err error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	if cfg.Size < 8 {
		return m, fmt.Errorf("mqlog/bench: end-to-end messages carry a timestamp: size %d is under 8", cfg.Size)
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
	c, err := db.Consumer(Topic, e2eGroup)
	if err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, c.Close()) }()

	consumerCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	base := time.Now()
	lat := newLatencyHistogram()
	var n atomic.Int64 // messages consumed; the histogram is the consumer's until it returns
	consumed := make(chan error, 1)
	go func() {
		for {
			rec, err := c.Next(consumerCtx)
			if err != nil {
				consumed <- err
				return
			}
			sent := time.Duration(binary.LittleEndian.Uint64(rec.Value))
			recordLatency(lat, time.Since(base)-sent)
			n.Add(1)
		}
	}()

	payloads := Payloads(cfg.Batch, cfg.Size)
	msgs := make([]mqlog.Message, cfg.Batch)
	for i, p := range payloads {
		msgs[i].Value = p
	}
	start := time.Now()
	produced, err := drive(ctx, 1, cfg.Batch, cfg.Limits, func(int) error {
		now := uint64(time.Since(base))
		for _, p := range payloads {
			binary.LittleEndian.PutUint64(p, now)
		}
		_, err := db.Append(ctx, Topic, msgs...)
		return err
	})
	var cerr error
	consumerDone := false
	if err == nil {
		// Wait until the consumer has every message produced, then stop it (Next blocks otherwise).
		for n.Load() < produced.Messages && ctx.Err() == nil && !consumerDone {
			select {
			case cerr = <-consumed:
				consumerDone = true
			case <-time.After(50 * time.Microsecond):
			}
		}
		err = ctx.Err()
	}
	m.Elapsed = time.Since(start)
	stopConsumer()
	if !consumerDone {
		cerr = <-consumed
	}
	if !errors.Is(cerr, context.Canceled) {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return m, err
	}
	m.Messages, m.Bytes = produced.Messages, produced.Messages*int64(cfg.Size)
	m.Latency = lat
	return m, nil
}
