package mqlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/producers"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Raw batches and idempotent producers: what the Kafka front end (package kafka) needs of the DB beyond
// Append and Read, and the idempotence it offers its clients, reachable from the embedded API too.

// Errors of idempotent and raw appends, for errors.Is.
var (
	// ErrOutOfOrderSequence is an idempotent batch whose first sequence number is not the one its producer
	// must send next in that partition (a batch lost in between): nothing was appended.
	ErrOutOfOrderSequence = producers.ErrOutOfOrderSequence
	// ErrProducerFenced is an idempotent batch from an epoch older than its producer's current one.
	ErrProducerFenced = producers.ErrInvalidEpoch
	// ErrTransactional is a transactional batch: mqlog has no transactions.
	ErrTransactional = errors.New("mqlog: transactional batches are not supported")
)

// ProducerID identifies an idempotent producer: an id from InitProducerID, never handed out again, and
// its epoch.
type ProducerID struct {
	ID    int64
	Epoch int16
}

// recordPool recycles the records a produced batch is decoded into for validation.
var recordPool = sync.Pool{New: func() any { return new([]segment.Record) }}

// producerRegistry holds the idempotent producers' state of the partitions that have seen one, loaded on
// first use (internal/producers).
type producerRegistry struct {
	mu         sync.Mutex
	ids        *producers.IDs
	partitions map[*wal.Log]*producers.Partition
}

// InitProducerID returns a new idempotent producer: an id never handed out before, epoch 0 (Kafka's
// InitProducerId without a transactional id). Ids are reserved in durable blocks.
func (db *DB) InitProducerID() (ProducerID, error) {
	if err := db.writable(); err != nil {
		return ProducerID{}, err
	}
	r := &db.producers
	r.mu.Lock()
	if r.ids == nil {
		r.ids = producers.NewIDs(producerIDStore{db.store})
	}
	ids := r.ids
	r.mu.Unlock()
	id, err := ids.Next()
	return ProducerID{ID: id}, err
}

// RawPartition is one partition's log, for batches that are already encoded: a Kafka producer's batches
// in, stored batches out, with the offsets and the wake-up a fetch needs. Get one with DB.RawPartition; it
// stays valid until the topic is deleted or the DB closed (then its calls return ErrClosed).
type RawPartition struct {
	db        *DB
	topic     string
	partition int32
	log       *wal.Log
}

// RawPartition returns the partition of an existing topic (ErrTopicNotFound, ErrInvalidPartition).
func (db *DB) RawPartition(topicName string, partition int32) (*RawPartition, error) {
	t, err := db.catalog.Get(topicName)
	if err != nil {
		return nil, err
	}
	l, err := t.Partition(partition)
	if err != nil {
		return nil, err
	}
	return &RawPartition{db: db, topic: topicName, partition: partition, log: l}, nil
}

// TopicIncarnation returns the incarnation of an existing topic: a number never given to another topic
// of the data directory, so that a topic deleted and created again under its name is told apart (the
// Kafka front end derives topic ids from it).
func (db *DB) TopicIncarnation(topicName string) (uint64, error) {
	t, err := db.catalog.Get(topicName)
	if err != nil {
		return 0, err
	}
	return t.Incarnation(), nil
}

// StartOffset returns the first offset the partition holds.
func (p *RawPartition) StartOffset() int64 { return p.log.StartOffset() }

// HighWatermark returns the offset after the last readable (under SyncAlways, durable) record.
func (p *RawPartition) HighWatermark() int64 { return p.log.HighWatermark() }

// Changed returns a channel closed the next time the high watermark advances or the log closes. Take it
// before reading HighWatermark, so that no advance is missed.
func (p *RawPartition) Changed() <-chan struct{} { return p.log.Changed() }

// OffsetForTime returns the offset of the first record at or after ts (ms since the epoch), or the high
// watermark when there is none, as DB.OffsetForTime.
func (p *RawPartition) OffsetForTime(ts int64) (int64, error) { return p.log.OffsetForTime(ts) }

// AppendResult is where a raw batch landed.
type AppendResult struct {
	// BaseOffset is the offset of the batch's first record.
	BaseOffset int64
	// Duplicate says the batch was a retry of an idempotent batch already appended: BaseOffset is the
	// original's, and nothing was written.
	Duplicate bool
}

// AppendBatch appends one RecordBatch v2 frame as a producer encoded it, through the same group commit as
// Append, and returns once it is durable (under SyncAlways). The frame is validated first
// (segment.ValidateProduced: a frame the log's readers would reject is never written), then stored as it
// is but for its base offset and partition leader epoch. A batch with a producer id is idempotent: its
// sequence numbers are checked against that producer's in this partition (ErrOutOfOrderSequence,
// ErrProducerFenced), and a retry of one of its last five batches is answered with the original offset,
// once that is durable, without writing it again. Transactional batches are ErrTransactional.
//
// ordered, when not nil, is called once the batch's place in the partition is decided (its offsets
// assigned, or the batch refused), before it is durable; it must not block. A caller whose batches must
// keep their order (a connection's pipelined produce requests: an idempotent producer's sequence numbers
// follow each other) starts its next AppendBatch then, and the two may share a group commit.
func (p *RawPartition) AppendBatch(ctx context.Context, frame []byte, ordered func()) (AppendResult, error) {
	if ordered == nil {
		ordered = func() {}
	}
	ordered = sync.OnceFunc(ordered)
	defer ordered() // refused before the log decided
	if err := p.db.writable(); err != nil {
		return AppendResult{}, err
	}
	scratch := recordPool.Get().(*[]segment.Record)
	b, recs, err := segment.ValidateProduced(frame, p.db.opts.logOptions().Limits, *scratch)
	*scratch = recs
	recordPool.Put(scratch)
	if err != nil {
		return AppendResult{}, fmt.Errorf("mqlog: batch for %s partition %d: %w", p.topic, p.partition, err)
	}
	if b.Header.IsTransactional() {
		return AppendResult{}, ErrTransactional
	}
	defer p.db.commitLatency.since(time.Now())
	return p.appendValid(ctx, frame, &b.Header, ordered)
}

// appendValid appends a frame known to be valid, with its producer's checks when it has a producer id.
func (p *RawPartition) appendValid(ctx context.Context, frame []byte, h *segment.BatchHeader, ordered func()) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	if h.ProducerID < 0 {
		base, err := p.log.AppendFrame(frame, wal.FrameHooks{Queued: ordered})
		return AppendResult{BaseOffset: base}, err
	}
	state, err := p.db.producerState(p)
	if err != nil {
		return AppendResult{}, err
	}
	batch := producers.Batch{ProducerID: h.ProducerID, Epoch: h.ProducerEpoch, FirstSequence: h.BaseSequence,
		Records: h.NumRecords, MaxTimestamp: h.MaxTimestamp, CRC: h.CRC}
	base, err := p.log.AppendFrame(frame, wal.FrameHooks{Check: func(base int64) error { return state.Check(batch, base) }, Queued: ordered})
	var dup *producers.Duplicate
	if errors.As(err, &dup) {
		return AppendResult{BaseOffset: dup.FirstOffset, Duplicate: true}, p.waitReadable(ctx, dup.LastOffset)
	}
	if err != nil {
		return AppendResult{}, err
	}
	if err := state.Appended(); err != nil {
		p.db.opts.Logger.Warn("mqlog: saving producer state snapshot", "topic", p.topic, "partition", p.partition, "err", err)
	}
	return AppendResult{BaseOffset: base}, nil
}

// waitReadable waits until offset is below the high watermark: the original of a duplicate may still be
// in its group commit, and its producer must not hear of it before it is durable.
func (p *RawPartition) waitReadable(ctx context.Context, offset int64) error {
	for {
		changed := p.log.Changed()
		if p.log.HighWatermark() > offset {
			return nil
		}
		if err := p.log.Err(); err != nil {
			return err
		}
		if p.log.Closed() {
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ReadBatches appends to dst the stored batches from the one that holds offset from, as they are on disk
// (verified, not decoded), up to maxBytes: always at least one whole batch when there is one, as a Kafka
// fetch returns (its first batch may begin before from). At the high watermark it appends nothing.
// An offset outside [StartOffset, HighWatermark] is ErrOutOfRange. The batches after the first are read
// from their segment straight into dst's spare capacity (wal.Reader.AppendFrames): a dst with room for
// maxBytes is filled without copying.
func (p *RawPartition) ReadBatches(dst []byte, from int64, maxBytes int) ([]byte, error) {
	r, err := p.log.NewReader(from, false)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err = r.AppendFrames(dst, maxBytes)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return dst, nil
	case len(dst) > start && errors.Is(err, ErrOutOfRange):
		return dst, nil // retention passed the reader: serve what was read
	}
	return dst, err
}

// AppendIdempotent appends msgs to one partition of topic as one batch of the idempotent producer
// producer, whose first record has sequence number firstSequence (the next batch then starts at
// firstSequence+len(msgs)). A retry of one of the producer's last five batches in that partition returns
// the original positions without writing anything; a gap in the sequence is ErrOutOfOrderSequence. It is
// what a Kafka client's idempotent producer does, for the embedded API: the topic is created as Append
// creates it.
func (db *DB) AppendIdempotent(ctx context.Context, topicName string, partition int32, producer ProducerID, firstSequence int32, msgs ...Message) ([]Position, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	if firstSequence < 0 || producer.ID < 0 || producer.Epoch < 0 {
		return nil, fmt.Errorf("%w: producer %d epoch %d sequence %d", ErrOutOfOrderSequence, producer.ID, producer.Epoch, firstSequence)
	}
	if _, err := db.catalog.Get(topicName); errors.Is(err, ErrTopicNotFound) {
		if err := db.CreateTopic(topicName, TopicConfig{}); err != nil && !errors.Is(err, ErrTopicExists) {
			return nil, err
		}
	}
	p, err := db.RawPartition(topicName, partition)
	if err != nil {
		return nil, err
	}
	limits := db.opts.logOptions().Limits
	recs := make([]segment.Record, len(msgs))
	now := time.Now().UnixMilli()
	for i := range msgs {
		m := &msgs[i]
		if err := limits.CheckMessage(m.Key, m.Value); err != nil {
			return nil, err
		}
		recs[i] = segment.Record{Timestamp: now, Key: m.Key, Value: m.Value, Headers: m.Headers}
		if !m.Timestamp.IsZero() {
			recs[i].Timestamp = m.Timestamp.UnixMilli()
		}
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{Compression: db.opts.Compression})
	if err != nil {
		return nil, err
	}
	segment.SetProducer(frame, producer.ID, producer.Epoch, firstSequence)
	h, err := segment.ParseHeaderLimits(frame, limits)
	if err != nil {
		return nil, err
	}
	res, err := p.appendValid(ctx, frame, &h, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Position, len(msgs))
	for i := range out {
		out[i] = Position{Partition: partition, Offset: res.BaseOffset + int64(i)}
	}
	return out, nil
}

// producerState returns the producer state of p's partition, loading it on first use. Entries of logs
// closed since (deleted topics) are dropped then.
func (db *DB) producerState(p *RawPartition) (*producers.Partition, error) {
	r := &db.producers
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.partitions[p.log]; ok {
		return s, nil
	}
	if r.partitions == nil {
		r.partitions = make(map[*wal.Log]*producers.Partition)
	}
	for l := range r.partitions {
		if l.Closed() {
			delete(r.partitions, l)
		}
	}
	s, err := producers.Open(producerLog{p.log}, producerStore{db.store, p.topic, p.partition}, producers.Options{})
	if err != nil {
		return nil, fmt.Errorf("mqlog: load producer state of %s partition %d: %w", p.topic, p.partition, err)
	}
	r.partitions[p.log] = s
	return s, nil
}

// producerLog is the producers.Log of a partition's log.
type producerLog struct{ log *wal.Log }

func (l producerLog) HighWatermark() int64 { return l.log.HighWatermark() }

func (l producerLog) RecentStart(n int) int64 {
	segs := l.log.Segments()
	if len(segs) < n {
		return l.log.StartOffset()
	}
	return max(segs[len(segs)-n].BaseOffset, l.log.StartOffset())
}

func (l producerLog) Batches(from int64, fn func(h *segment.BatchHeader) error) error {
	r, err := l.log.NewReader(max(from, l.log.StartOffset()), false)
	if err != nil {
		return err
	}
	for {
		b, err := r.NextBatch()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(&b.Header); err != nil {
			return err
		}
	}
}

// producerStore keeps a partition's producer snapshot in the index.
type producerStore struct {
	store     *index.Store
	topic     string
	partition int32
}

func (s producerStore) LoadSnapshot() ([]byte, error) {
	return s.store.ProducerSnapshot(s.topic, s.partition)
}

func (s producerStore) SaveSnapshot(b []byte) error {
	return s.store.SaveProducerSnapshot(s.topic, s.partition, b)
}

// producerIDStore keeps the next producer id in the index.
type producerIDStore struct{ store *index.Store }

func (s producerIDStore) LoadNextProducerID() (int64, error) { return s.store.NextProducerID() }
func (s producerIDStore) SaveNextProducerID(n int64) error   { return s.store.SetNextProducerID(n) }
