package mqlog

import (
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
	"github.com/mqlog/mqlog/wal"
)

// Header is a record header: a Key string and an optional Value.
type Header = base.Header

// Message is what a producer appends: Key (nil for none; a key picks the partition with Kafka's
// murmur2), Value (nil is a null value: a tombstone in a compacted topic), Headers, and Timestamp (zero
// means the time of the Append). Two fields are delivery settings, stored as headers (docs/DELIVERY.md):
// ID, a producer-supplied message id that Append deduplicates within the topic's duplicate window
// (HeaderMessageID), and DeliverAt, the time before which no work queue delivers the message
// (HeaderDeliverAt; consumer groups keep Kafka's order and ignore it).
type Message = base.Message

// Position is where an appended message landed: its Partition and Offset. Duplicate is true when Append
// did not append the message because its ID had been appended within the topic's duplicate window: the
// position is the original's.
type Position = base.Position

// Record is a message as read back: Topic, Partition and Offset say where it is, Timestamp when it was
// written, and Key, Value and Headers are its bytes (the caller's to keep, except from ReadNoCopy).
type Record = base.Record

// TopicConfig is a topic's settings. Zero fields take the defaults: 1 partition, 64 MiB segments, no
// retention limit, cleanup by delete.
//
//   - Partitions: the partition count (at most 100,000).
//   - SegmentBytes: the size at which the active segment is closed and a new one started.
//   - RetentionBytes, RetentionMs: the size (per partition) and age limits of retention; 0 = unlimited.
//   - CleanupPolicy: CleanupDelete (whole closed segments go by retention) or CleanupCompact (the latest
//     record per key is kept, Kafka's log compaction).
//   - DeleteRetentionMs: how long compaction keeps a tombstone after its timestamp (0 = 24 hours).
//   - RetentionPolicy: RetentionInterest also deletes closed segments every consumer group has consumed.
//   - SegmentMs: the age at which the background cleaner closes the active segment even when it is not
//     full (Kafka's segment.ms, counted from its first batch's timestamp; 0 = 7 days), so that a quiet
//     topic's records reach retention and compaction.
//   - DuplicateWindowMs: how long message ids are remembered for deduplication (0 = 2 minutes).
type TopicConfig = base.TopicConfig

// CleanupPolicy says how a topic reclaims space.
type CleanupPolicy = base.CleanupPolicy

// Cleanup policies, as Kafka names them.
const (
	CleanupDelete  = base.CleanupDelete
	CleanupCompact = base.CleanupCompact
)

// RetentionPolicy says whether consumption, on top of the size and age limits, makes segments go.
type RetentionPolicy = base.RetentionPolicy

// Retention policies, named after NATS JetStream's.
const (
	// RetentionLimits keeps messages until the topic's size or age limit removes them (the default; Kafka's
	// only behaviour).
	RetentionLimits = base.RetentionLimits
	// RetentionInterest also deletes closed segments that every consumer group of the topic has consumed:
	// the minimum committed offset over the topic's groups and the ack floor of its work-queue groups (a
	// partition a group has not committed in counts as not consumed). A topic without any group loses
	// nothing this way.
	RetentionInterest = base.RetentionInterest
)

// Default topic settings.
const (
	DefaultPartitions   = base.DefaultPartitions
	DefaultSegmentBytes = base.DefaultSegmentBytes
)

// DefaultSegmentAge is the default SegmentMs: 7 days, as Kafka's segment.ms.
const DefaultSegmentAge = base.DefaultSegmentAge

// DefaultDeleteRetention is how long compaction keeps a tombstone by default (Kafka's delete.retention.ms).
const DefaultDeleteRetention = base.DefaultDeleteRetention

// MaxTopicNameLength is Kafka's limit on a topic name.
const MaxTopicNameLength = base.MaxTopicNameLength

// TopicAlteration lists the settings AlterTopic changes; nil fields stay as they are: SegmentBytes,
// RetentionBytes, RetentionMs, CleanupPolicy, DeleteRetentionMs, RetentionPolicy, SegmentMs,
// DuplicateWindowMs. The partition count changes with AddPartitions instead.
type TopicAlteration = catalog.Alteration

// PartitionInfo describes one partition's log.
type PartitionInfo struct {
	Partition     int32
	StartOffset   int64 // first offset held
	HighWatermark int64 // offset after the last readable record
	Segments      []wal.SegmentInfo
}

// ValidateTopicName reports whether name follows Kafka's rule: 1 to 249 characters of [a-zA-Z0-9._-],
// not "." or "..". Such a name cannot escape the data directory.
func ValidateTopicName(name string) error { return base.ValidateTopicName(name) }

// Directory layout inside a data directory.
const (
	IndexDirName     = base.IndexDirName     // Pebble
	TopicsDirName    = base.TopicsDirName    // one directory per partition: <topic>-<partition>
	LockFileName     = base.LockFileName     // the writer's flock(2), with its pid and start time
	LostFoundDirName = base.LostFoundDirName // what Repair cut, one directory per partition
)
