package wal

import (
	"errors"
	"fmt"

	"github.com/mqlog/mqlog/internal/fsutil"
)

// Errors returned by the log. Corruption is reported as *segment.CorruptionError.
var (
	// ErrClosed is returned by calls on a closed log.
	ErrClosed = errors.New("mqlog/wal: log closed")
	// ErrReadOnly is returned by writes to a log opened with OpenReadOnly.
	ErrReadOnly = errors.New("mqlog/wal: log is read-only")
	// ErrOutOfRange is returned for an offset below the log's start or past its readable end.
	ErrOutOfRange = errors.New("mqlog/wal: offset out of range")
	// ErrFailStop wraps the I/O error that stopped the log: after a failed write or fsync, every later
	// Append returns it until the log is reopened (DESIGN.md decision 5).
	ErrFailStop = errors.New("mqlog/wal: log stopped after an I/O error; reopen to recover")
	// ErrUnexpectedFile is returned by Open for a file in the partition directory that is not a segment.
	ErrUnexpectedFile = errors.New("mqlog/wal: unexpected file in partition directory")
	// ErrNoState is returned by Open for a segment that holds data in a partition directory for which no
	// durable state was ever saved: a file recovery knows nothing about is reported, never cut or adopted.
	ErrNoState = errors.New("mqlog/wal: segment holds data but the partition has no saved state")
	// ErrNotRegular is returned for a segment that is not a regular file (a symbolic link, a directory):
	// it is never followed, read or written.
	ErrNotRegular = fsutil.ErrNotRegular
	// ErrMissingSegment is returned when a segment recorded as closed is absent.
	ErrMissingSegment = errors.New("mqlog/wal: segment missing")
	// ErrBadState is returned when the saved state blob cannot be decoded.
	ErrBadState = errors.New("mqlog/wal: bad saved state")
	// ErrStoredOffset is returned by AppendFrame with FrameHooks.Stored for a frame whose base offset is
	// below the log's next offset, or past it in a log that is not key-compacted (a gap).
	ErrStoredOffset = errors.New("mqlog/wal: stored batch does not follow the log's end")
	// ErrNotCompacted is returned by Compact on a log that is not key-compacted.
	ErrNotCompacted = errors.New("mqlog/wal: log is not compacted")
	// ErrCutPending is returned by Repair for a log whose saved state records a cut not finished on disk
	// (TruncateFrom, Reset): a repair would save a state without it and bring the cut tail back. Open the
	// log for writing first (Open finishes the cut).
	ErrCutPending = errors.New("mqlog/wal: a committed cut is not finished: open the log for writing before repairing")
	// ErrEmptyBatch is returned by Append with no records.
	ErrEmptyBatch = errors.New("mqlog/wal: append of no records")
)

// failStop builds the sticky error of a failed write or sync.
func failStop(op, path string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrFailStop, op, path, err)
}
