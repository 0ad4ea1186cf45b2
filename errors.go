package mqlog

import (
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// Errors returned by a DB, its consumers and its queues, for errors.Is.
var (
	// ErrClosed is returned by calls on a closed DB, consumer or queue.
	ErrClosed = base.ErrClosed
	// ErrLocked is returned by Open when another writer, in this or another process, holds the directory;
	// the error names the holder's pid and start time when its LOCK file says them.
	ErrLocked = base.ErrLocked
	// ErrReadOnly is returned by writes, and by reads of Pebble-held state such as groups, on a DB opened
	// with OpenReadOnly.
	ErrReadOnly = base.ErrReadOnly
	// ErrTopicNotFound is returned for a topic that does not exist, or no longer does: a consumer or queue
	// of a deleted topic returns it too.
	ErrTopicNotFound = base.ErrTopicNotFound
	// ErrTopicExists is returned by CreateTopic for a topic that already exists with another config.
	ErrTopicExists = base.ErrTopicExists
	// ErrInvalidTopic is returned for a topic name outside Kafka's rule: [a-zA-Z0-9._-], 1 to 249
	// characters, not "." or "..".
	ErrInvalidTopic = base.ErrInvalidTopic
	// ErrInvalidPartition is returned for a partition the topic does not have.
	ErrInvalidPartition = base.ErrInvalidPartition
	// ErrInvalidGroup is returned for an empty group name or one with a NUL byte.
	ErrInvalidGroup = base.ErrInvalidGroup
	// ErrInvalidConfig is returned for topic settings that are out of range or unknown.
	ErrInvalidConfig = base.ErrInvalidConfig
	// ErrOutOfRange is returned for an offset before the log's start or past its readable end.
	ErrOutOfRange = base.ErrOutOfRange
	// ErrFailStop wraps the I/O error that stopped a partition's log; reopen the DB to recover.
	ErrFailStop = base.ErrFailStop
	// ErrTooLarge is returned for a message or batch over the configured limits.
	ErrTooLarge = base.ErrTooLarge
	// ErrCompactedTopic is returned by DeleteRecords for a topic with cleanup policy compact.
	ErrCompactedTopic = base.ErrCompactedTopic
)

// Errors of consumer groups, for errors.Is.
var (
	// ErrGroupActive is returned by ResetGroup, DeleteGroup and CommitGroupOffset while the group has
	// members: Kafka, too, changes a group's offsets from outside only when it has no active members.
	ErrGroupActive = base.ErrGroupActive
	// ErrFenced is returned by a commit the group refuses: the member lost the partition in a rebalance
	// (or has not owned it since the assignment it read under), left the group, or its topic was deleted.
	// The error is a *FencedError saying which, like Kafka's ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID.
	ErrFenced = base.ErrFenced
	// ErrOffsetMetadataTooLarge is returned for a commit whose metadata is over MaxOffsetMetadataBytes
	// (Kafka's OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = index.ErrOffsetMetadataTooLarge
	// ErrGroupSubscribed is returned by DeleteGroupOffsets for a topic the group's members read.
	ErrGroupSubscribed = base.ErrGroupSubscribed
)

// MaxOffsetMetadataBytes is the most metadata a committed offset may carry (Kafka's default
// offset.metadata.max.bytes).
const MaxOffsetMetadataBytes = index.MaxOffsetMetadataBytes

// Errors of the work queue, for errors.Is.
var (
	// ErrStaleDelivery is returned by Nak, InProgress and Term on a message whose lease has ended: it
	// was acked, nak'd, or its AckWait passed and it may have been delivered again.
	ErrStaleDelivery = base.ErrStaleDelivery
	// ErrQueueOptions is returned by Queue for options that are invalid or differ from those of a handle
	// of the same group already open in this DB.
	ErrQueueOptions = base.ErrQueueOptions
)

// CorruptionError reports damaged data: the file (Path) and the byte offset (Offset) where it is, and
// what is wrong (Err). Use errors.As.
type CorruptionError = base.CorruptionError

// FencedError is the error of a refused commit: the group, the member and the generation it committed
// with, the group's current generation, the partition, and the Reason (one of the Fence... constants).
// errors.Is(err, ErrFenced) holds for it.
type FencedError = base.FencedError

// FenceReason says why a commit was fenced.
type FenceReason = base.FenceReason

// Reasons of a FencedError.
const (
	FenceNotOwner          = base.FenceNotOwner
	FenceUnknownMember     = base.FenceUnknownMember
	FenceIllegalGeneration = base.FenceIllegalGeneration
	FenceRebalancing       = base.FenceRebalancing
	FenceStaleTopic        = base.FenceStaleTopic
)

// AppendError is the error of an Append whose messages went to several partitions and failed in some of
// them: the messages of the other partitions are durable. Positions has one entry per message, in the
// order of the call, with Offset NoOffset for a message that was not appended; Failed lists their
// indexes, and Errs each failed partition's error. Retrying only the failed messages appends nothing
// twice. errors.Is and errors.As see each partition's error.
type AppendError = base.AppendError

// NoOffset is the Offset, in an AppendError's Positions, of a message that was not appended.
const NoOffset = base.NoOffset
