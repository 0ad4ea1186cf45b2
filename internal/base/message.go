package base

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqlog/mqlog/segment"
)

// Header is a record header: a key and an optional value.
type Header = segment.RecordHeader

// Message is what a producer appends.
type Message struct {
	Key       []byte // nil for no key; a key picks the partition (Kafka's murmur2)
	Value     []byte // nil is a null value (a tombstone in a compacted topic)
	Headers   []Header
	Timestamp time.Time // zero means the time of the Append
	// ID is a producer-supplied message id, stored as the HeaderMessageID header: an Append of a message
	// whose id the topic has seen within its duplicate window returns the original position instead of
	// appending it again. Empty means none.
	ID string
	// DeliverAt is the time before which no work queue delivers the message, stored as the
	// HeaderDeliverAt header (milliseconds). Zero means at once. Consumer groups ignore it.
	DeliverAt time.Time
}

// Position is where an appended message landed.
type Position struct {
	Partition int32
	Offset    int64
	// Duplicate is true when the message was not appended because its id had been appended before
	// within the topic's duplicate window: Partition and Offset are the original's.
	Duplicate bool
}

// Record is a message as read back: where it is, when it was written, and its bytes (the caller's to keep,
// unless it came from a no-copy read).
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []Header
}

// NewRecord is the Record of a decoded segment record of topic's partition.
func NewRecord(topic string, partition int32, r *segment.Record) Record {
	return Record{
		Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: time.UnixMilli(r.Timestamp),
		Key: r.Key, Value: r.Value, Headers: r.Headers,
	}
}

// NoOffset is the Offset of a Position whose message was not appended (see AppendError).
const NoOffset = -1

// AppendError is the error of an Append whose messages went to several partitions and failed in some of
// them: the messages of the other partitions are durable. Positions has one entry per message, in the
// order of the call; a message that was not appended has Offset NoOffset. Retrying only those messages
// (Failed) appends nothing twice. errors.Is and errors.As see each partition's error.
type AppendError struct {
	Positions []Position
	// Errs maps each failed partition to its error.
	Errs map[int32]error
}

// Failed returns the indexes (into the Append call's messages) of the messages that were not appended.
func (e *AppendError) Failed() []int {
	var out []int
	for i, p := range e.Positions {
		if p.Offset == NoOffset {
			out = append(out, i)
		}
	}
	return out
}

func (e *AppendError) Error() string {
	var parts []string
	for _, p := range e.partitions() {
		parts = append(parts, fmt.Sprintf("partition %d: %v", p, e.Errs[p]))
	}
	return fmt.Sprintf("mqlog: append failed in %d of the partitions written (%d messages not appended, the others durable): %s",
		len(e.Errs), len(e.Failed()), strings.Join(parts, "; "))
}

// Unwrap returns every partition's error, by partition.
func (e *AppendError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, p := range e.partitions() {
		out = append(out, e.Errs[p])
	}
	return out
}

func (e *AppendError) partitions() []int32 {
	ps := make([]int32, 0, len(e.Errs))
	for p := range e.Errs {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// GroupOffset is a group's position in one partition, and how far behind the readable end it is.
type GroupOffset struct {
	Topic     string
	Partition int32
	// Offset is the next offset the group reads: the committed offset, clamped to what the log holds
	// (raised to the log start when retention removed what it pointed at, lowered to the high watermark
	// when a crash under a relaxed sync policy lost the end of the log).
	Offset int64
	// Committed is the offset as stored in the index, before clamping.
	Committed int64
	// Lag is the high watermark minus Offset.
	Lag int64
	// LeaderEpoch is the leader epoch committed with the offset (a Kafka client's committed leader
	// epoch), -1 for none.
	LeaderEpoch int32
	// Metadata is the string committed with the offset (a Kafka client's commit metadata), "" for none.
	Metadata string
}
