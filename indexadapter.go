package mqlog

import (
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/wal"
)

// partitionIndex is the wal.Index of one partition, over the DB's Pebble store.
type partitionIndex struct {
	store     *index.Store
	topic     string
	partition int32
}

var _ wal.Index = partitionIndex{}

func (p partitionIndex) LoadState() ([]byte, error) { return p.store.LogState(p.topic, p.partition) }

func (p partitionIndex) SaveState(state []byte) error {
	return p.store.SaveLogState(p.topic, p.partition, state)
}

func (p partitionIndex) AddEntries(entries []wal.IndexEntry) error {
	es := make([]index.Entry, len(entries))
	for i, e := range entries {
		es[i] = index.Entry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}
	}
	return p.store.AddEntries(p.topic, p.partition, es)
}

func (p partitionIndex) FloorEntry(offset int64) (wal.IndexEntry, bool, error) {
	e, ok, err := p.store.FloorEntry(p.topic, p.partition, offset)
	return wal.IndexEntry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}, ok, err
}

func (p partitionIndex) DeleteEntriesFrom(offset int64) error {
	return p.store.DeleteEntriesFrom(p.topic, p.partition, offset)
}

// DeleteEntriesBefore implements wal.EntryTrimmer: retention drops the entries of deleted segments.
func (p partitionIndex) DeleteEntriesBefore(offset int64) error {
	return p.store.DeleteEntriesBefore(p.topic, p.partition, offset)
}

// DeleteEntriesBetween implements wal.EntryRangeDeleter: compaction drops the entries of the segments it
// replaces.
func (p partitionIndex) DeleteEntriesBetween(from, to int64) error {
	return p.store.DeleteEntriesBetween(p.topic, p.partition, from, to)
}

// LastEntryBeforeTime implements wal.TimeIndex: the time lookup's start in the sparse index.
func (p partitionIndex) LastEntryBeforeTime(ts int64) (wal.IndexEntry, bool, error) {
	e, ok, err := p.store.LastEntryBeforeTime(p.topic, p.partition, ts)
	return wal.IndexEntry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp}, ok, err
}

var _ wal.TimeIndex = partitionIndex{}
