package segment

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every validation failure wraps exactly one of them, so that callers test with errors.Is.
var (
	// ErrTruncated reports a frame that runs past the end of the data.
	ErrTruncated = errors.New("mqlog/segment: truncated batch")
	// ErrBadCRC reports a frame whose CRC-32C does not match its bytes.
	ErrBadCRC = errors.New("mqlog/segment: CRC mismatch")
	// ErrBadMagic reports a frame whose magic byte is not 2 (RecordBatch v2).
	ErrBadMagic = errors.New("mqlog/segment: unsupported magic")
	// ErrBadLength reports a batch length below the minimum or above the limit.
	ErrBadLength = errors.New("mqlog/segment: invalid batch length")
	// ErrTooLarge reports a batch, a decompressed batch or a message over its size limit.
	ErrTooLarge = errors.New("mqlog/segment: batch or message over the size limit")
	// ErrBadRecord reports malformed contents of a batch: a bad varint, count or length.
	ErrBadRecord = errors.New("mqlog/segment: malformed record")
	// ErrBadOffset reports offsets out of order, between batches or inside one.
	ErrBadOffset = errors.New("mqlog/segment: batch offset out of order")
	// ErrBadEpoch reports a partition leader epoch lower than the one before it.
	ErrBadEpoch = errors.New("mqlog/segment: batch epoch went backwards")
	// ErrZeroTail reports that the rest of the scanned range is all zero bytes (preallocated space).
	ErrZeroTail = errors.New("mqlog/segment: zeroed (preallocated) space")
	// ErrCompression reports an unknown codec or a compressed payload that does not decode.
	ErrCompression = errors.New("mqlog/segment: unsupported or corrupt compression")
	// ErrEmptyBatch is returned by AppendBatch when it is given no records.
	ErrEmptyBatch = errors.New("mqlog/segment: batch has no records")
)

// CorruptionError names the file and byte offset of damaged data. Err is one of the sentinels of this package,
// possibly wrapped with detail.
type CorruptionError struct {
	// Path is the segment file's path, as given to NewReader or Scan.
	Path string
	// Offset is the byte position of the bad frame in the file.
	Offset int64
	// Err says what is wrong; errors.Is(Err, ErrBadCRC) and so on.
	Err error
}

// Error returns "mqlog: corrupt segment <path> at byte <offset>: <err>".
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("mqlog: corrupt segment %s at byte %d: %v", e.Path, e.Offset, e.Err)
}

// Unwrap returns Err, so that errors.Is sees the sentinel.
func (e *CorruptionError) Unwrap() error { return e.Err }

// errorf wraps a sentinel with detail, keeping it visible to errors.Is.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
