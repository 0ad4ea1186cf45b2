package producers

import (
	"errors"
	"sync"
	"time"

	"github.com/mqlog/mqlog/segment"
)

// Defaults of Options' zero fields.
const (
	// DefaultMaxProducers bounds the producers one partition remembers; the one seen longest ago goes first.
	DefaultMaxProducers = 10_000
	// DefaultExpiration is how long a producer with no batch is remembered (Kafka's producer.id.expiration.ms).
	DefaultExpiration = 24 * time.Hour
	// DefaultSnapshotEvery is the number of idempotent batches between snapshots.
	DefaultSnapshotEvery = 1024
	// DefaultRebuildSegments is how many of the last segments are replayed when no snapshot is valid.
	DefaultRebuildSegments = 2
)

// retainedBatches is how many of a producer's last batches are kept for duplicate detection: Kafka's
// max.in.flight.requests.per.connection limit for idempotent producers.
const retainedBatches = 5

// Log is what the state needs of a partition's log.
type Log interface {
	// HighWatermark returns the offset after the last readable record.
	HighWatermark() int64
	// RecentStart returns the base offset of the n-th last segment (the log start when there are fewer).
	RecentStart(n int) int64
	// Batches calls fn with the header of each batch from the one holding offset from up to the high
	// watermark, in order; an error from fn stops it and is returned.
	Batches(from int64, fn func(h *segment.BatchHeader) error) error
}

// Store keeps a partition's snapshot.
type Store interface {
	// LoadSnapshot returns the last snapshot saved, or nil.
	LoadSnapshot() ([]byte, error)
	// SaveSnapshot stores a snapshot without sync: it is derived data.
	SaveSnapshot(snapshot []byte) error
}

// Options tune a Partition. Zero fields take the defaults above.
type Options struct {
	MaxProducers    int
	Expiration      time.Duration
	SnapshotEvery   int
	RebuildSegments int
}

func (o Options) withDefaults() Options {
	if o.MaxProducers <= 0 {
		o.MaxProducers = DefaultMaxProducers
	}
	if o.Expiration <= 0 {
		o.Expiration = DefaultExpiration
	}
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = DefaultSnapshotEvery
	}
	if o.RebuildSegments <= 0 {
		o.RebuildSegments = DefaultRebuildSegments
	}
	return o
}

// Partition is the producer state of one partition. Check runs under the log's append lock (through
// wal.Log.AppendFrame's check), so that the state sees batches in offset order; its own mutex guards the
// state against snapshots and concurrent readers.
type Partition struct {
	log   Log
	store Store
	opts  Options

	mu struct {
		sync.Mutex
		producers     map[int64]*producer
		nextOffset    int64  // offset after the last idempotent batch applied
		lastCRC       uint32 // that batch's CRC
		sinceSnapshot int    // batches applied since the last snapshot
	}
	// saving is held by the one goroutine writing a snapshot; others skip theirs.
	saving sync.Mutex
}

// producer is one producer's state in a partition.
type producer struct {
	epoch         int16
	nextSeq       int32
	lastTimestamp int64
	batches       []batchMeta // oldest first, at most retainedBatches
}

// batchMeta locates one retained batch.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// Open loads the state of a partition: its last snapshot if it is valid for log, then the batches after
// it (see the package doc). It saves a snapshot of what it loaded when it replayed anything.
func Open(log Log, store Store, opts Options) (*Partition, error) {
	p := &Partition{log: log, store: store, opts: opts.withDefaults()}
	p.mu.producers = make(map[int64]*producer)
	from, err := p.loadSnapshot()
	if err != nil {
		return nil, err
	}
	replayed := 0
	err = log.Batches(from, func(h *segment.BatchHeader) error {
		if h.ProducerID < 0 || h.IsControl() || h.BaseOffset < p.mu.nextOffset {
			return nil
		}
		p.applyLocked(batchOf(h), h.BaseOffset, h.LastOffset())
		replayed++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if replayed > 0 {
		if err := p.store.SaveSnapshot(p.encodeLocked()); err != nil {
			return nil, err
		}
		p.mu.sinceSnapshot = 0
	}
	return p, nil
}

// loadSnapshot adopts the stored snapshot when the log still holds the batch it ends with, and returns
// the offset to replay from.
func (p *Partition) loadSnapshot() (int64, error) {
	recent := p.log.RecentStart(p.opts.RebuildSegments)
	raw, err := p.store.LoadSnapshot()
	if err != nil || raw == nil {
		return recent, err
	}
	s, err := decodeSnapshot(raw)
	if err != nil {
		return recent, nil // derived data: rebuilt
	}
	if s.nextOffset <= 0 || s.nextOffset > p.log.HighWatermark() {
		return recent, nil
	}
	matches := false
	errStop := errors.New("stop")
	err = p.log.Batches(s.nextOffset-1, func(h *segment.BatchHeader) error {
		matches = h.LastOffset() == s.nextOffset-1 && h.CRC == s.lastCRC
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) || !matches {
		return recent, nil
	}
	p.mu.producers, p.mu.nextOffset, p.mu.lastCRC = s.producers, s.nextOffset, s.lastCRC
	return s.nextOffset, nil
}

func batchOf(h *segment.BatchHeader) Batch {
	return Batch{ProducerID: h.ProducerID, Epoch: h.ProducerEpoch, FirstSequence: h.BaseSequence,
		Records: h.NumRecords, MaxTimestamp: h.MaxTimestamp, CRC: h.CRC}
}

// Check decides whether b, about to be appended at offset base, may be: nil (and the state now holds it),
// a *Duplicate of a batch already appended, ErrInvalidEpoch or ErrOutOfOrderSequence. Call it under the
// log's append lock, in offset order.
func (p *Partition) Check(b Batch, base int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.mu.producers[b.ProducerID]; ok {
		last := b.lastSequence()
		switch {
		case b.Epoch < pr.epoch:
			return ErrInvalidEpoch
		case b.Epoch == pr.epoch:
			for _, m := range pr.batches {
				if m.firstSeq == b.FirstSequence && m.lastSeq == last {
					return &Duplicate{FirstOffset: m.firstOffset, LastOffset: m.lastOffset}
				}
			}
			if b.FirstSequence != pr.nextSeq {
				return ErrOutOfOrderSequence
			}
		case b.FirstSequence != 0: // a new epoch starts its sequences at 0
			return ErrOutOfOrderSequence
		}
	}
	p.applyLocked(b, base, base+int64(b.Records)-1)
	p.mu.sinceSnapshot++
	return nil
}

// applyLocked records b at offsets [first, last], without checking it (Check has; a replay trusts the log).
func (p *Partition) applyLocked(b Batch, first, last int64) {
	pr, ok := p.mu.producers[b.ProducerID]
	if !ok {
		if len(p.mu.producers) >= p.opts.MaxProducers {
			p.evictLocked(b.MaxTimestamp)
		}
		pr = &producer{}
		p.mu.producers[b.ProducerID] = pr
	}
	if b.Epoch != pr.epoch {
		pr.batches = pr.batches[:0]
	}
	pr.epoch = b.Epoch
	pr.nextSeq = addSequence(b.lastSequence(), 1)
	pr.lastTimestamp = max(pr.lastTimestamp, b.MaxTimestamp)
	if len(pr.batches) == retainedBatches {
		pr.batches = append(pr.batches[:0], pr.batches[1:]...)
	}
	pr.batches = append(pr.batches, batchMeta{firstSeq: b.FirstSequence, lastSeq: b.lastSequence(), firstOffset: first, lastOffset: last})
	p.mu.nextOffset = max(p.mu.nextOffset, last+1)
	p.mu.lastCRC = b.CRC
}

// evictLocked makes room for one producer: it drops every producer expired at now (ms), and if none was,
// the one seen longest ago.
func (p *Partition) evictLocked(now int64) {
	horizon := now - p.opts.Expiration.Milliseconds()
	oldestID, oldest := int64(-1), int64(0)
	for id, pr := range p.mu.producers {
		if pr.lastTimestamp < horizon {
			delete(p.mu.producers, id)
			continue
		}
		if oldestID < 0 || pr.lastTimestamp < oldest {
			oldestID, oldest = id, pr.lastTimestamp
		}
	}
	if len(p.mu.producers) >= p.opts.MaxProducers && oldestID >= 0 {
		delete(p.mu.producers, oldestID)
	}
}

// Appended is called after an append through Check returned: once SnapshotEvery batches were applied
// and everything applied is below the log's high watermark (so durable under SyncAlways), it saves a
// snapshot. Only one snapshot is written at a time; a caller that finds one in progress leaves it.
func (p *Partition) Appended() error {
	if !p.saving.TryLock() {
		return nil
	}
	defer p.saving.Unlock()
	p.mu.Lock()
	due := p.mu.sinceSnapshot >= p.opts.SnapshotEvery && p.mu.nextOffset <= p.log.HighWatermark()
	var snap []byte
	if due {
		p.expireLocked(time.Now().UnixMilli())
		snap = p.encodeLocked()
		p.mu.sinceSnapshot = 0
	}
	p.mu.Unlock()
	if !due {
		return nil
	}
	return p.store.SaveSnapshot(snap)
}

// expireLocked drops the producers with no batch since the expiration horizon.
func (p *Partition) expireLocked(now int64) {
	horizon := now - p.opts.Expiration.Milliseconds()
	for id, pr := range p.mu.producers {
		if pr.lastTimestamp < horizon {
			delete(p.mu.producers, id)
		}
	}
}

// Producers returns the number of producers the partition remembers.
func (p *Partition) Producers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.producers)
}
