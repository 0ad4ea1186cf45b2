package base

import (
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/wal"
)

// PartitionIndex is the wal.Index of one partition, over the data directory's Pebble store.
type PartitionIndex struct {
	Store     *index.Store
	Topic     string
	Partition int32
}

var (
	_ wal.Index             = PartitionIndex{}
	_ wal.TimeIndex         = PartitionIndex{}
	_ wal.EntryTrimmer      = PartitionIndex{}
	_ wal.EntryRangeDeleter = PartitionIndex{}
	_ wal.DeferredIndex     = PartitionIndex{}
)

// LoadState implements wal.Index.
func (p PartitionIndex) LoadState() ([]byte, error) { return p.Store.LogState(p.Topic, p.Partition) }

// SaveState implements wal.Index.
func (p PartitionIndex) SaveState(state []byte) error {
	return p.Store.SaveLogState(p.Topic, p.Partition, state)
}

// AddEntries implements wal.Index.
func (p PartitionIndex) AddEntries(entries []wal.IndexEntry) error {
	es := make([]index.Entry, len(entries))
	for i, e := range entries {
		es[i] = index.Entry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}
	}
	return p.Store.AddEntries(p.Topic, p.Partition, es)
}

// FloorEntry implements wal.Index.
func (p PartitionIndex) FloorEntry(offset int64) (wal.IndexEntry, bool, error) {
	e, ok, err := p.Store.FloorEntry(p.Topic, p.Partition, offset)
	return wal.IndexEntry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}, ok, err
}

// DeleteEntriesFrom implements wal.Index.
func (p PartitionIndex) DeleteEntriesFrom(offset int64) error {
	return p.Store.DeleteEntriesFrom(p.Topic, p.Partition, offset)
}

// DeleteEntriesBefore implements wal.EntryTrimmer: retention drops the entries of deleted segments.
func (p PartitionIndex) DeleteEntriesBefore(offset int64) error {
	return p.Store.DeleteEntriesBefore(p.Topic, p.Partition, offset)
}

// DeleteEntriesBetween implements wal.EntryRangeDeleter: compaction drops the entries of the segments it
// replaces.
func (p PartitionIndex) DeleteEntriesBetween(from, to int64) error {
	return p.Store.DeleteEntriesBetween(p.Topic, p.Partition, from, to)
}

// LastEntryBeforeTime implements wal.TimeIndex: the time lookup's start in the sparse index.
func (p PartitionIndex) LastEntryBeforeTime(ts int64) (wal.IndexEntry, bool, error) {
	e, ok, err := p.Store.LastEntryBeforeTime(p.Topic, p.Partition, ts)
	return wal.IndexEntry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}, ok, err
}

// SaveStateNoSync implements wal.DeferredIndex.
func (p PartitionIndex) SaveStateNoSync(state []byte) error {
	return p.Store.SaveLogStateNoSync(p.Topic, p.Partition, state)
}

// DeleteEntriesFromNoSync implements wal.DeferredIndex.
func (p PartitionIndex) DeleteEntriesFromNoSync(offset int64) error {
	return p.Store.DeleteEntriesFromNoSync(p.Topic, p.Partition, offset)
}
