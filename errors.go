package mqlog

import (
	"errors"

	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// Errors returned by DB and its consumers, for errors.Is.
var (
	// ErrClosed is returned by calls on a closed DB, consumer or log.
	ErrClosed = errors.New("mqlog: closed")
	// ErrLocked is returned by Open when another writer, in this or another process, holds the directory.
	ErrLocked = errors.New("mqlog: data directory is locked by another writer")
	// ErrReadOnly is returned by writes, and by reads of Pebble-held state such as groups, on a DB opened
	// with OpenReadOnly.
	ErrReadOnly = errors.New("mqlog: opened read-only")
	// ErrTopicNotFound is returned for a topic that does not exist.
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
	// ErrOutOfRange is returned for an offset before the log's start or past its readable end.
	ErrOutOfRange = wal.ErrOutOfRange
	// ErrFailStop wraps the I/O error that stopped a partition's log; reopen the DB to recover.
	ErrFailStop = wal.ErrFailStop
	// ErrTooLarge is returned for a message or batch over the configured limits.
	ErrTooLarge = segment.ErrTooLarge
)

// CorruptionError reports damaged data: the file and the byte offset where it is. Use errors.As.
type CorruptionError = segment.CorruptionError
