package mqlog

import (
	"errors"
	"fmt"
	"io"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/groups"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// What a replicated node (package cluster) needs of its local DB beyond the API every user has: the
// fencing of a group commit checked apart from its write, offsets set and groups deleted without the
// checks that depend on the members this process holds, a partition cut back or emptied (with its
// idempotent producers' state following the cut), and stored batches installed at their offsets. These
// calls are for a DB whose writes all come through one replicated state machine; mixed with ordinary
// writes they can break the promises of the calls they bypass.

// CheckGroupCommit applies the rules of CommitGroupOffsets (member, generation, rebalance) to a commit of
// memberID at generation without writing anything: a replicated leader checks a commit with it, then
// replicates the offsets, which every node writes with SetGroupOffsets.
func (db *DB) CheckGroupCommit(group, memberID string, generation int32) error {
	if err := db.writable(); err != nil {
		return err
	}
	return db.groups.CheckClassicCommit(group, memberID, generation)
}

// SetGroupOffsets durably sets group's positions whatever members it has (no fencing): the replicated form
// of a commit that was checked on the leader. The error is for the whole call; the slice has one error per
// offset (ErrTopicNotFound, ErrInvalidPartition, ErrOutOfRange, ErrOffsetMetadataTooLarge), nil for those set.
func (db *DB) SetGroupOffsets(group string, offsets []GroupOffsetCommit) ([]error, error) {
	return db.writeGroupOffsets(offsets, func(commits []groups.OffsetCommit) ([]error, error) {
		return db.groups.SetOffsets(group, commits)
	})
}

// DeleteAllGroupOffsets deletes every committed position of group, whatever members it has (DeleteGroup
// refuses a group with members): the replicated form of a DeleteGroup checked on the leader.
func (db *DB) DeleteAllGroupOffsets(group string) error {
	if err := db.writable(); err != nil {
		return err
	}
	return db.groups.DeleteAllOffsets(group)
}

// TruncateFrom removes every record of the partition at and after offset, durably (wal.Log.TruncateFrom:
// a synced marker makes the cut crash safe), so that the next append gets offset. offset must start a
// batch (ErrNotBatchBoundary) and lie in [StartOffset, HighWatermark]; below StartOffset the partition is
// emptied at offset instead (Reset). The partition's idempotent producers' state follows the cut: it is
// loaded again from what the partition holds on next use.
func (p *RawPartition) TruncateFrom(offset int64) error {
	if err := p.db.writable(); err != nil {
		return err
	}
	var err error
	if offset < p.log.StartOffset() {
		err = p.log.Reset(offset)
	} else {
		err = p.log.TruncateFrom(offset)
	}
	p.db.dropProducerState(p.log)
	return facade(err)
}

// Reset empties the partition, durably, so that the next append gets offset (which may lie anywhere),
// and drops its producers' state: what a replicated node does before it installs a partition's batches
// from a snapshot.
func (p *RawPartition) Reset(offset int64) error {
	if err := p.db.writable(); err != nil {
		return err
	}
	err := p.log.Reset(offset)
	p.db.dropProducerState(p.log)
	return facade(err)
}

// AppendDeduplicated runs the message-id deduplication of AppendPartition (Message.ID, the topic's
// DuplicateWindow) around appendFn, which must append the messages that are not duplicates to partition
// as one batch and return their positions: the replicated form, whose appendFn proposes the batch to
// every node. The messages appendFn gets carry their ids and delivery times as headers
// (HeaderMessageID, HeaderDeliverAt; their ID and DeliverAt fields are not to be read again). A
// duplicate's position is the original's, with Duplicate set. The topic must exist (ErrTopicNotFound).
func (db *DB) AppendDeduplicated(topic string, partition int32, msgs []Message, appendFn func([]Message) ([]Position, error)) ([]Position, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return nil, err
	}
	if partition < 0 || int(partition) >= t.Config().Partitions {
		return nil, fmt.Errorf("%w: %s partition %d", ErrInvalidPartition, topic, partition)
	}
	msgs, ids, err := base.PrepareDelivery(msgs)
	if err != nil {
		return nil, facade(err)
	}
	if !ids {
		return appendFn(msgs)
	}
	pos, err := db.dedup.Append(t, msgs, appendFn)
	return pos, facade(err)
}

// ForgetDuplicates drops the tables of message ids that deduplication keeps in memory: the next append
// with an id to a topic reads them again from the tail of its log. A replicated node calls it when it
// becomes the leader, since the batches another leader appended reached its partitions without going
// through its tables.
func (db *DB) ForgetDuplicates() { db.dedup.Forget() }

// ErrStoredOffset is returned by AppendStored for a batch whose base offset is below the partition's next
// offset, or past it in a topic that is not compacted.
var ErrStoredOffset = wal.ErrStoredOffset

// AppendStored appends one stored batch (as ReadBatches returns it, from another copy of the partition) at
// its own base offset, which must be the partition's next offset, or past it in a compacted topic (whose
// offsets have gaps where compaction removed records: ErrStoredOffset otherwise). The batch is verified
// (CRC, header, records) but not checked against its producer's sequence: it was when it was first
// appended. Producer state is loaded again from the partition on next use. It returns once the batch is
// durable (under SyncAlways).
func (p *RawPartition) AppendStored(frame []byte) error {
	if err := p.db.writable(); err != nil {
		return err
	}
	b, err := segment.DecodeBatch(frame, p.db.opts.logOptions().Limits)
	if err != nil {
		return fmt.Errorf("mqlog: stored batch for %s partition %d: %w", p.topic, p.partition, err)
	}
	if b.Header.FrameSize() != int64(len(frame)) {
		return fmt.Errorf("mqlog: stored batch for %s partition %d: %w: %d bytes, header says %d", p.topic, p.partition, segment.ErrTruncated, len(frame), b.Header.FrameSize())
	}
	_, err = p.log.AppendFrame(frame, wal.FrameHooks{Stored: true})
	p.db.dropProducerState(p.log)
	if errors.Is(err, wal.ErrStoredOffset) {
		return fmt.Errorf("mqlog: %s partition %d: %w", p.topic, p.partition, err)
	}
	return facade(err)
}

// BatchBefore returns the header of the stored batch that holds offset-1 (the last batch below offset),
// read from the partition: a replicated node compares its CRC with a snapshot's to tell whether its
// partition holds the snapshot's prefix. ok is false when the partition does not hold offset-1.
func (p *RawPartition) BatchBefore(offset int64) (h segment.BatchHeader, ok bool, err error) {
	if offset <= p.log.StartOffset() || offset > p.log.HighWatermark() {
		return h, false, nil
	}
	r, err := p.log.NewReader(offset-1, false)
	if err != nil {
		return h, false, facade(err)
	}
	b, err := r.NextBatch()
	if errors.Is(err, io.EOF) {
		return h, false, nil
	}
	if err != nil {
		return h, false, facade(err)
	}
	return b.Header, b.Header.LastOffset() == offset-1, nil
}

// dropProducerState forgets the cached producer state of log, so that the next idempotent append loads
// it again from what the log holds (its stored snapshot is adopted only if the log still holds the batch
// it ends with).
func (db *DB) dropProducerState(l *wal.Log) {
	r := &db.producers
	r.mu.Lock()
	delete(r.partitions, l)
	r.mu.Unlock()
}

// Err returns the sticky error that stopped the partition's log (a failed write or fsync), or nil: a
// replicated node tells an error every node meets alike (a refused batch) from one of its own disk.
func (p *RawPartition) Err() error { return p.log.Err() }
