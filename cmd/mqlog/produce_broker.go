package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// appender is where produce appends: the directory itself (directAppender) or a broker serving it
// (brokerAppender). Both place messages alike, so that the printed partitions are the same either way.
type appender interface {
	topicExists(ctx context.Context, topic string) (bool, error)
	// createTopic creates topic with the defaults (the broker's, through it) and returns its partitions.
	createTopic(ctx context.Context, topic string) (int, error)
	// append appends msgs to partition (-1: by key, keyless ones together round-robin) as DB.Append does,
	// with an *mqlog.AppendError when some partitions failed.
	append(ctx context.Context, topic string, partition int32, msgs []mqlog.Message) ([]mqlog.Position, error)
	Close() error
}

// directAppender appends to the opened directory.
type directAppender struct{ db *mqlog.DB }

func (d directAppender) topicExists(_ context.Context, topic string) (bool, error) {
	_, err := d.db.TopicConfig(topic)
	if errors.Is(err, mqlog.ErrTopicNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (d directAppender) createTopic(_ context.Context, topic string) (int, error) {
	if err := d.db.CreateTopic(topic, mqlog.TopicConfig{}); err != nil {
		return 0, err
	}
	cfg, err := d.db.TopicConfig(topic)
	return cfg.Partitions, err
}

func (d directAppender) append(ctx context.Context, topic string, partition int32, msgs []mqlog.Message) ([]mqlog.Position, error) {
	if partition >= 0 {
		return d.db.AppendPartition(ctx, topic, partition, msgs...)
	}
	return d.db.Append(ctx, topic, msgs...)
}

func (d directAppender) Close() error { return d.db.Close() }

// brokerProducerOpts are the producer settings of produce through a broker: acks from all replicas (on
// one node: durable), idempotent (a retried request is not appended twice), partitions chosen by produce
// itself, batches sent at once (no linger), of up to the engine's batch limit, with the codec of
// --compression.
func brokerProducerOpts(codec mqlog.Compression) []kgo.Opt {
	c := kgo.NoCompression()
	switch codec {
	case mqlog.CompressionGzip:
		c = kgo.GzipCompression()
	case mqlog.CompressionSnappy:
		c = kgo.SnappyCompression()
	case mqlog.CompressionLZ4:
		c = kgo.Lz4Compression()
	case mqlog.CompressionZstd:
		c = kgo.ZstdCompression()
	}
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(16 << 20),
		kgo.ProducerBatchCompression(c),
	}
}

// brokerAppender appends through a broker. It places messages as the engine does (a key: Kafka's murmur2
// partitioner, which franz-go's StickyKeyPartitioner has too; no key: one group at a time round-robin,
// starting where a freshly opened DB starts), so that produce prints the same partitions either way.
type brokerAppender struct {
	b          *brokerClient
	keyed      kgo.TopicPartitioner // for keyed records only
	roundRobin uint64
}

func (p *brokerAppender) topicExists(ctx context.Context, topic string) (bool, error) {
	t, err := p.b.topic(ctx, topic)
	return t.exists, err
}

func (p *brokerAppender) createTopic(ctx context.Context, topic string) (int, error) {
	resp, err := retried(ctx, p.b, func() (kadm.CreateTopicResponse, error) { return p.b.adm.CreateTopic(ctx, -1, -1, nil, topic) })
	p.b.cl.PurgeTopicsFromClient(topic) // its cached metadata said it did not exist
	if err != nil && resp.Err == nil {
		return 0, fmt.Errorf("broker %s: %w", p.b.addr, err)
	}
	if errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		// Created meanwhile (by another producer, or by the leader of a cluster whose node that said it was
		// missing had not applied the creation yet): produce to it, once this client's broker knows it.
		return waitListed(ctx, topic, brokerTimeout, func() (brokerTopic, error) { return p.b.topic(ctx, topic) })
	}
	if err := brokerError(resp.Err, resp.ErrMessage); err != nil {
		return 0, err
	}
	if resp.NumPartitions > 0 {
		return int(resp.NumPartitions), nil
	}
	t, err := p.b.topic(ctx, topic)
	return t.partitions, err
}

func (p *brokerAppender) append(ctx context.Context, topic string, partition int32, msgs []mqlog.Message) ([]mqlog.Position, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := p.b.topic(ctx, topic)
	if err != nil {
		return nil, err
	}
	if !t.exists {
		return nil, fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, topic)
	}
	if partition >= int32(t.partitions) {
		return nil, fmt.Errorf("%w: %s has no partition %d", mqlog.ErrInvalidPartition, topic, partition)
	}
	if p.keyed == nil {
		p.keyed = kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	}
	p.roundRobin++
	keyless := int32(p.roundRobin % uint64(t.partitions))
	records := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		r := &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Partition: partition}
		for _, h := range m.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if partition < 0 {
			r.Partition = keyless
			if m.Key != nil {
				r.Partition = int32(p.keyed.Partition(r, t.partitions))
			}
		}
		records[i] = r
	}
	// Once sent, the outcome is awaited (bounded by the delivery timeout), as DB.Append waits for a write
	// in flight: a signal does not abandon what may be acknowledged.
	results := p.b.cl.ProduceSync(context.WithoutCancel(ctx), records...)
	index := make(map[*kgo.Record]int, len(records)) // results come partition by partition
	for i, r := range records {
		index[r] = i
	}
	positions := make([]mqlog.Position, len(records))
	failed := map[int32]error{}
	for _, r := range results {
		i := index[r.Record]
		positions[i] = mqlog.Position{Partition: r.Record.Partition, Offset: r.Record.Offset}
		if r.Err != nil {
			positions[i].Offset = mqlog.NoOffset
			if _, ok := failed[r.Record.Partition]; !ok {
				failed[r.Record.Partition] = brokerError(r.Err, "")
			}
		}
	}
	switch {
	case len(failed) == 0:
		return positions, nil
	case len(failed) == 1 && len(failed) == countPartitions(positions):
		for _, err := range failed {
			return nil, err // the one partition failed: nothing was appended, as a direct append says
		}
	}
	return positions, &mqlog.AppendError{Positions: positions, Errs: failed}
}

// countPartitions is the number of distinct partitions in positions.
func countPartitions(positions []mqlog.Position) int {
	seen := map[int32]bool{}
	for _, p := range positions {
		seen[p.Partition] = true
	}
	return len(seen)
}

func (p *brokerAppender) Close() error { return p.b.Close() }

// waitListed polls lookup until it lists topic, which the broker said exists, and returns its partition
// count; it fails when lookup does, when ctx ends, or when timeout passes with the topic still missing.
func waitListed(ctx context.Context, topic string, timeout time.Duration, lookup func() (brokerTopic, error)) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		t, err := lookup()
		if err != nil || t.exists {
			return t.partitions, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: %s: the broker answered that it exists (TOPIC_ALREADY_EXISTS) but did not list it within %v",
				mqlog.ErrTopicNotFound, topic, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
