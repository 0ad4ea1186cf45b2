package base

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/mqlog/mqlog/wal"
)

// CleanupPolicy says how a topic reclaims space.
type CleanupPolicy string

// Cleanup policies, as Kafka names them.
const (
	CleanupDelete  CleanupPolicy = "delete"
	CleanupCompact CleanupPolicy = "compact"
)

// RetentionPolicy says whether consumption, on top of the size and age limits, makes segments go.
type RetentionPolicy string

// Retention policies, named after NATS JetStream's.
const (
	// RetentionLimits keeps messages until the topic's size or age limit removes them (the default; Kafka's
	// only behaviour).
	RetentionLimits RetentionPolicy = "limits"
	// RetentionInterest also deletes closed segments that every consumer group of the topic has consumed:
	// the minimum committed offset over the topic's groups and the ack floor of its work-queue groups (a
	// partition a group has not committed in counts as not consumed). A topic without any group loses
	// nothing this way.
	RetentionInterest RetentionPolicy = "interest"
)

// TopicConfig is a topic's settings. Zero fields take the defaults: 1 partition, 64 MiB segments, no
// retention limit, cleanup by delete.
type TopicConfig struct {
	Partitions     int           `json:"partitions"`
	SegmentBytes   int64         `json:"segment_bytes"`
	RetentionBytes int64         `json:"retention_bytes,omitempty"` // per partition; 0 = unlimited
	RetentionMs    int64         `json:"retention_ms,omitempty"`    // 0 = unlimited
	CleanupPolicy  CleanupPolicy `json:"cleanup_policy"`
	// DeleteRetentionMs is how long compaction keeps a tombstone (a null value) after its timestamp, as
	// Kafka's delete.retention.ms; 0 = the default, 24 hours.
	DeleteRetentionMs int64 `json:"delete_retention_ms,omitempty"`
	// RetentionPolicy adds retention by consumption: RetentionInterest deletes closed segments that every
	// consumer group of the topic has consumed (NATS JetStream's InterestPolicy). Empty = RetentionLimits.
	RetentionPolicy RetentionPolicy `json:"retention_policy,omitempty"`
	// SegmentMs is the age at which the background cleaner closes the active segment even when it is not
	// full (Kafka's segment.ms), counted from the largest timestamp of its first batch, so that a quiet
	// topic's records reach retention and compaction too; 0 = the default, 7 days.
	SegmentMs int64 `json:"segment_ms,omitempty"`
	// DuplicateWindowMs is how long a message id (HeaderMessageID) is remembered: an Append of a message
	// whose id was appended to the topic within the window is answered with the original position instead
	// of being appended again (NATS JetStream's Duplicates window). 0 = DefaultDuplicateWindow. Messages
	// without an id are never deduplicated.
	DuplicateWindowMs int64 `json:"duplicate_window_ms,omitempty"`
}

// Default topic settings.
const (
	DefaultPartitions   = 1
	DefaultSegmentBytes = wal.DefaultSegmentBytes
)

// DefaultSegmentAge is the default SegmentMs (Kafka's segment.ms): 7 days.
const DefaultSegmentAge = 7 * 24 * time.Hour

// DefaultDeleteRetention is how long compaction keeps a tombstone by default (Kafka's delete.retention.ms).
const DefaultDeleteRetention = 24 * time.Hour

// WithDefaults fills the zero fields.
func (c TopicConfig) WithDefaults() TopicConfig {
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = CleanupDelete
	}
	return c
}

// Validate checks settings that WithDefaults does not fill.
func (c TopicConfig) Validate() error {
	if c.Partitions > MaxPartitions {
		return fmt.Errorf("%w: %d partitions (at most %d)", ErrInvalidConfig, c.Partitions, MaxPartitions)
	}
	if c.CleanupPolicy != CleanupDelete && c.CleanupPolicy != CleanupCompact {
		return fmt.Errorf("%w: unknown cleanup policy %q (delete or compact)", ErrInvalidConfig, c.CleanupPolicy)
	}
	switch c.RetentionPolicy {
	case "", RetentionLimits, RetentionInterest:
	default:
		return fmt.Errorf("%w: unknown retention policy %q (limits or interest)", ErrInvalidConfig, c.RetentionPolicy)
	}
	if c.RetentionBytes < 0 || c.RetentionMs < 0 || c.DeleteRetentionMs < 0 || c.SegmentMs < 0 || c.DuplicateWindowMs < 0 {
		return fmt.Errorf("%w: negative retention setting in %+v", ErrInvalidConfig, c)
	}
	return nil
}

// DefaultDuplicateWindow is the duplicate window of a topic that sets none (JetStream's default).
const DefaultDuplicateWindow = 2 * time.Minute

// DuplicateWindow is how long the topic remembers message ids.
func (c TopicConfig) DuplicateWindow() time.Duration {
	if c.DuplicateWindowMs == 0 {
		return DefaultDuplicateWindow
	}
	return time.Duration(c.DuplicateWindowMs) * time.Millisecond
}

// Compacted reports whether the topic keeps the latest record per key.
func (c TopicConfig) Compacted() bool { return c.CleanupPolicy == CleanupCompact }

// DeleteRetention is how long compaction keeps a tombstone.
func (c TopicConfig) DeleteRetention() time.Duration {
	if c.DeleteRetentionMs == 0 {
		return DefaultDeleteRetention
	}
	return time.Duration(c.DeleteRetentionMs) * time.Millisecond
}

// SegmentAge is the age at which the active segment is rolled.
func (c TopicConfig) SegmentAge() time.Duration {
	switch {
	case c.SegmentMs == 0:
		return DefaultSegmentAge
	case c.SegmentMs > int64(math.MaxInt64/time.Millisecond):
		return math.MaxInt64 // (never, in practice)
	}
	return time.Duration(c.SegmentMs) * time.Millisecond
}

// Incarnation identifies one life of a topic name: a topic deleted and created again under the same name
// has another incarnation, so that state kept for the old one (group offsets, queue acks, a consumer's
// handle) is never taken for the new one's. Incarnations are never reused in a data directory; the
// first topic created gets 1.
type Incarnation = uint64

// LegacyIncarnation is the incarnation of topics, offsets and acks stored before incarnations existed.
const LegacyIncarnation Incarnation = 0

// storedTopic is the index's value for a topic: its config and its incarnation, as JSON.
type storedTopic struct {
	TopicConfig
	Incarnation Incarnation `json:"incarnation,omitempty"`
}

// EncodeTopic is the stored form of a topic.
func EncodeTopic(c TopicConfig, inc Incarnation) []byte {
	b, _ := json.Marshal(storedTopic{TopicConfig: c, Incarnation: inc}) // numbers and strings cannot fail
	return b
}

// DecodeTopic decodes a stored topic. A record without an incarnation (written before they existed) has
// LegacyIncarnation, 0.
func DecodeTopic(b []byte) (TopicConfig, Incarnation, error) {
	var st storedTopic
	if err := json.Unmarshal(b, &st); err != nil {
		return TopicConfig{}, 0, fmt.Errorf("%w: bad stored config: %v", ErrInvalidConfig, err)
	}
	if st.Partitions <= 0 || st.Partitions > MaxPartitions {
		return TopicConfig{}, 0, fmt.Errorf("%w: bad stored config: %d partitions", ErrInvalidConfig, st.Partitions)
	}
	return st.TopicConfig.WithDefaults(), st.Incarnation, nil
}
