package base

import (
	"errors"

	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Errors returned by a DB and its consumers, for errors.Is.
var (
	// ErrClosed is returned by calls on a closed DB, consumer or log.
	ErrClosed = errors.New("mqlog: closed")
	// ErrLocked is returned by Open when another writer, in this or another process, holds the directory.
	ErrLocked = errors.New("mqlog: data directory is locked by another writer")
	// ErrReadOnly is returned by writes, and by reads of Pebble-held state such as groups, on a DB opened
	// with OpenReadOnly.
	ErrReadOnly = errors.New("mqlog: opened read-only")
	// ErrTopicNotFound is returned for a topic that does not exist, or no longer does: a handle (consumer,
	// queue, reader) of a deleted topic returns it too.
	ErrTopicNotFound = errors.New("mqlog: topic not found")
	// ErrTopicExists is returned by CreateTopic for a topic that already exists with another config.
	ErrTopicExists = errors.New("mqlog: topic already exists")
	// ErrInvalidTopic is returned for a topic name outside Kafka's rule: [a-zA-Z0-9._-], 1 to 249
	// characters, not "." or "..".
	ErrInvalidTopic = errors.New("mqlog: invalid topic name")
	// ErrInvalidPartition is returned for a partition the topic does not have.
	ErrInvalidPartition = errors.New("mqlog: invalid partition")
	// ErrInvalidGroup is returned for an empty group name or one with a NUL byte.
	ErrInvalidGroup = errors.New("mqlog: invalid group name")
	// ErrInvalidConfig is returned for topic settings that are out of range or unknown.
	ErrInvalidConfig = errors.New("mqlog: invalid topic config")
	// ErrOutOfRange is returned for an offset before the log's start or past its readable end.
	ErrOutOfRange = wal.ErrOutOfRange
	// ErrFailStop wraps the I/O error that stopped a partition's log; reopen the DB to recover.
	ErrFailStop = wal.ErrFailStop
	// ErrTooLarge is returned for a message or batch over the configured limits.
	ErrTooLarge = segment.ErrTooLarge
	// ErrGroupActive is returned by ResetGroup, DeleteGroup and commits without a member while the group
	// has members: Kafka, too, changes the offsets of a group only when it has no active members.
	ErrGroupActive = errors.New("mqlog: group has active members")
	// ErrFenced is returned by a commit that the group refuses because the committing member no longer
	// owns the partition (a rebalance gave it to another member), is no longer a member, or committed
	// with an old generation: Kafka's ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID. The error is a
	// *FencedError saying which.
	ErrFenced = errors.New("mqlog: commit fenced")
	// ErrStaleDelivery is returned by Nak, InProgress and Term on a queue message whose lease has ended: it
	// was acked, nak'd, or its AckWait passed and it may have been delivered again.
	ErrStaleDelivery = errors.New("mqlog: queue message is no longer leased by this delivery")
	// ErrQueueOptions is returned by Queue for options that are invalid or differ from those of a handle
	// of the same group already open in this DB.
	ErrQueueOptions = errors.New("mqlog: invalid queue options")
	// ErrInvalidMessage is returned by Append for a message whose delivery fields contradict its headers:
	// an ID or DeliverAt given both as a field and as its header, or a HeaderDeliverAt that is not a
	// number of milliseconds.
	ErrInvalidMessage = errors.New("mqlog: invalid message")
	// ErrCompactedTopic is returned by DeleteRecords for a topic with cleanup policy compact, whose records
	// go by key, not by offset (Kafka's POLICY_VIOLATION).
	ErrCompactedTopic = errors.New("mqlog: records of a compacted topic are not deleted by offset")
	// ErrGroupSubscribed is returned by DeleteGroupOffsets for a topic the group's members read (Kafka's
	// GROUP_SUBSCRIBED_TO_TOPIC).
	ErrGroupSubscribed = errors.New("mqlog: group is subscribed to the topic")
)

// CorruptionError reports damaged data: the file and the byte offset where it is. Use errors.As.
type CorruptionError = segment.CorruptionError

// FenceReason says why a commit was fenced.
type FenceReason string

// Reasons for a fenced commit.
const (
	// FenceNotOwner: the member is in the group but does not own the partition in the current
	// generation, or has not owned it continuously since the generation it read under.
	FenceNotOwner FenceReason = "partition not owned by the member"
	// FenceUnknownMember: the member left the group, was expired, or never joined (Kafka's
	// UNKNOWN_MEMBER_ID).
	FenceUnknownMember FenceReason = "unknown member"
	// FenceIllegalGeneration: the commit carries another generation than the group's (Kafka's
	// ILLEGAL_GENERATION).
	FenceIllegalGeneration FenceReason = "illegal generation"
	// FenceRebalancing: the group is between a join and its sync (Kafka's REBALANCE_IN_PROGRESS).
	FenceRebalancing FenceReason = "rebalance in progress"
	// FenceStaleTopic: the topic was deleted (and perhaps created again) since the member read from it.
	FenceStaleTopic FenceReason = "topic deleted since the member joined"
)

// FencedError is the error of a fenced commit; errors.Is(err, ErrFenced) holds for it.
type FencedError struct {
	Group      string
	Member     string
	Generation int32 // the generation the commit carried
	Current    int32 // the group's generation when the commit was refused
	Topic      string
	Partition  int32
	Reason     FenceReason
}

func (e *FencedError) Error() string {
	return "mqlog: commit fenced: group " + e.Group + " member " + e.Member + ", " + e.Topic + " partition " +
		itoa(int64(e.Partition)) + ": " + string(e.Reason) + " (commit generation " + itoa(int64(e.Generation)) +
		", group generation " + itoa(int64(e.Current)) + ")"
}

// Unwrap makes errors.Is(err, ErrFenced) hold.
func (e *FencedError) Unwrap() error { return ErrFenced }
