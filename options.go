package mqlog

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// SyncPolicy says when appended messages are fsynced.
type SyncPolicy = wal.SyncPolicy

// Sync policies. SyncAlways, the default, acknowledges an Append only once its messages are on disk.
const (
	SyncAlways   = wal.SyncAlways
	SyncInterval = wal.SyncInterval
	SyncNever    = wal.SyncNever
)

// MmapPolicy says which reads go through read-only memory mappings of the segment files (Options.ReadMmap).
type MmapPolicy = wal.MmapPolicy

// Mmap policies.
const (
	MmapViews = wal.MmapViews // the default: a Kafka fetch's batches only
	MmapAll   = wal.MmapAll   // every read
	MmapOff   = wal.MmapOff   // none: pread throughout
)

// Compression is a batch codec, with Kafka's ids.
type Compression = segment.Compression

// Codecs.
const (
	CompressionNone   = segment.CompressionNone
	CompressionGzip   = segment.CompressionGzip
	CompressionSnappy = segment.CompressionSnappy
	CompressionLZ4    = segment.CompressionLZ4
	CompressionZstd   = segment.CompressionZstd
)

// Options configure a DB. The zero value (or nil) gives the documented defaults.
type Options struct {
	// FS is the filesystem every file goes through; nil means the operating system's (vfs.Default).
	FS vfs.FS
	// Sync is the fsync policy of every partition (default SyncAlways); SyncInterval is its period under
	// SyncInterval (default 100ms).
	Sync         SyncPolicy
	SyncInterval time.Duration
	// Compression is the codec of written batches (default none).
	Compression Compression
	// MaxBatchBytes and MaxMessageBytes bound what is written and what reading may allocate (defaults
	// 16 MiB and 1 MiB).
	MaxBatchBytes   int
	MaxMessageBytes int
	// Logger receives notes on recovery (a cut torn tail) and Pebble's logging. Nil is silent.
	Logger *slog.Logger
	// NoAutoCreateTopics makes Append to a missing topic fail with ErrTopicNotFound instead of creating it
	// with the defaults (Kafka's auto.create.topics.enable=false), so that a typo does not create a topic.
	NoAutoCreateTopics bool
	// ReadMmap says which reads go through read-only memory mappings of the segment files instead of
	// pread: MmapViews (the default) for the Kafka front end's fetches only (their batches are written to
	// the socket from the page cache, without a copy), MmapAll for every read (ReadNoCopy's records then
	// alias the mapping), MmapOff for none. Read-only opens never map. Figures in docs/BENCH.md ("Reads:
	// mmap"); the rules that keep mapped reads safe in the wal package (mmap.go).
	ReadMmap MmapPolicy

	// RetentionCheckInterval is how often the background cleaner applies each topic's retention limits
	// and compacts its compacted topics (docs/RETENTION.md); default 5 minutes (Kafka's
	// log.retention.check.interval.ms), negative turns the cleaner off.
	RetentionCheckInterval time.Duration
	// CompactionMapBytes bounds the key map of a compaction (default 16 MiB); more keys than fit take
	// several passes.
	CompactionMapBytes int64
	// CompactionBytesPerSecond limits the I/O of compaction (bytes read plus written); 0 is unlimited.
	CompactionBytesPerSecond int64
}

// DefaultRetentionCheckInterval is the default period of the background cleaner.
const DefaultRetentionCheckInterval = 5 * time.Minute

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	return c
}

// logOptions is the template of every partition's wal.Options.
func (o *Options) logOptions() wal.Options {
	return wal.Options{
		Sync: o.Sync, SyncInterval: o.SyncInterval, Compression: o.Compression, Logger: o.Logger, Mmap: o.ReadMmap,
		Limits: segment.Limits{MaxBatchBytes: o.MaxBatchBytes, MaxMessageBytes: o.MaxMessageBytes},
	}
}
