package wal

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// SyncPolicy says when appended batches are fsynced.
type SyncPolicy int

const (
	// SyncAlways fsyncs before Append returns: an acknowledged batch survives a crash. The readable end is
	// the durable end. It is the default.
	SyncAlways SyncPolicy = iota
	// SyncInterval writes before Append returns and fsyncs at most SyncInterval later. The readable end is
	// the written end; a crash may lose up to one interval of acknowledged batches.
	SyncInterval
	// SyncNever writes before Append returns and fsyncs only at segment rolls and Close.
	SyncNever
)

// String returns the policy's name as the CLI spells it.
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return "unknown"
}

// MmapPolicy says which reads of a log open for writing go through read-only mappings of its segments
// instead of pread (mmap.go).
type MmapPolicy int

const (
	// MmapViews, the default, maps segments for ViewFrames only: a Kafka fetch's batches are written to
	// the socket from the page cache, without the copy into a fetch buffer. Reader.Next, NextBatch and
	// AppendFrames use pread: measured here (docs/BENCH.md "Reads: mmap"), a consume through a mapping
	// costs more CPU than pread's copy into a buffer that stays in the CPU's cache, because the CRC then
	// reads from memory at a lower rate than the kernel's copy does, and first touches fault.
	MmapViews MmapPolicy = iota
	// MmapAll maps segments for every read: records of a Reader that does not copy alias the mapping.
	MmapAll
	// MmapOff maps nothing: every read is a pread, and ViewFrames returns no view.
	MmapOff
)

// String returns the policy's name.
func (p MmapPolicy) String() string {
	switch p {
	case MmapViews:
		return "views"
	case MmapAll:
		return "all"
	case MmapOff:
		return "off"
	}
	return "unknown"
}

// Defaults of Options' zero fields.
const (
	DefaultSegmentBytes       = 64 << 20
	DefaultSyncInterval       = 100 * time.Millisecond
	DefaultIndexIntervalBytes = 4096
)

// Options configure one partition's log. Zero fields take the defaults above.
type Options struct {
	// FS is the filesystem every file goes through. Required.
	FS vfs.FS
	// Dir is the partition's directory. Open creates it (and syncs its parents) when it is missing.
	Dir string
	// Index stores the log's durable state and its sparse offset index. Required for Open; unused by
	// OpenReadOnly.
	Index Index
	// SegmentBytes is the size at which the active segment is closed and a new one started.
	SegmentBytes int64
	// Sync is the fsync policy; SyncInterval is its period under SyncInterval.
	Sync         SyncPolicy
	SyncInterval time.Duration
	// Compression is the codec of the batches this log writes.
	Compression segment.Compression
	// Limits bound batch and message sizes, on write and on read.
	Limits segment.Limits
	// Compacted allows gaps between the offsets of successive batches (a key-compacted topic).
	Compacted bool
	// IndexIntervalBytes is the spacing, in segment bytes, of sparse offset index entries.
	IndexIntervalBytes int
	// NoPreallocate turns off preallocating the active segment in steps ahead of its writes (prealloc.go).
	NoPreallocate bool
	// Mmap says which reads go through read-only mappings of the segments (mmap.go); read-only logs never
	// map.
	Mmap MmapPolicy
	// DeferSync makes Open and Close record the log's state without syncing it, through the Index's
	// DeferredIndex methods (required then): the caller makes them durable with one synced commit for many
	// logs, after Open and before the log is written to or read by anyone, and after Close. A crash
	// before that commit leaves the state before Open (or before Close), which recovery accepts: Open has
	// written nothing under its epoch yet, and Close has trimmed and fsynced what it wrote. Rolls,
	// retention and compaction always sync their state.
	DeferSync bool
	// Logger receives recovery notes (a cut torn tail, removed leftovers). Nil is silent.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.Limits.MaxBatchBytes <= 0 {
		c.Limits.MaxBatchBytes = segment.DefaultMaxBatchBytes
	}
	if c.Limits.MaxMessageBytes <= 0 {
		c.Limits.MaxMessageBytes = segment.DefaultMaxMessageBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Index is what the log needs from the metadata store (the root package wires Pebble in). The state blob is
// primary data and must be durable when SaveState returns; entries are derived data, written without sync.
type Index interface {
	// LoadState returns the last saved state blob, or nil when there is none.
	LoadState() ([]byte, error)
	// SaveState stores the state blob durably (synced) before it returns.
	SaveState(state []byte) error
	// AddEntries stores sparse index entries, without sync.
	AddEntries(entries []IndexEntry) error
	// FloorEntry returns the entry with the greatest Offset <= offset.
	FloorEntry(offset int64) (IndexEntry, bool, error)
	// DeleteEntriesFrom removes the entries with Offset >= offset, durably.
	DeleteEntriesFrom(offset int64) error
}

// DeferredIndex is what an Index offers for Options.DeferSync: SaveState and DeleteEntriesFrom without
// the sync, which the caller makes durable later with one synced commit.
type DeferredIndex interface {
	SaveStateNoSync(state []byte) error
	DeleteEntriesFromNoSync(offset int64) error
}

// IndexEntry says that the batch whose base offset is Offset starts at byte Position of the segment that
// holds that offset. Timestamp is the greatest record timestamp of the log up to that batch.
type IndexEntry struct {
	Offset    int64
	Position  int64
	Timestamp int64
}
