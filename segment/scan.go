package segment

import (
	"errors"
	"io"
)

// ScanOptions says what Scan checks beyond each frame's own validity.
type ScanOptions struct {
	// Path names the file in errors.
	Path string
	// Limits bound frame sizes.
	Limits Limits
	// NextOffset is the offset the first batch must start at, -1 for any. With Contiguous the first batch's
	// BaseOffset must equal it; without, be at least it. Afterwards each batch must start at exactly
	// prev.LastOffset+1 when Contiguous, else after prev.LastOffset. A violation is ErrBadOffset.
	NextOffset int64
	// Contiguous requires offsets without gaps between batches (a topic that is not compacted).
	Contiguous bool
	// MinEpoch is the lowest PartitionLeaderEpoch the first batch may have; afterwards a batch's epoch must be
	// at least the previous batch's. A violation is ErrBadEpoch.
	MinEpoch int32
	// IgnoreEpochs skips the epoch checks: for durable data, where a frame's epoch (not covered by the CRC)
	// says nothing about its validity.
	IgnoreEpochs bool
}

// ScanResult says where the valid data of a scanned range ends and why.
type ScanResult struct {
	// ValidEnd is the byte position just after the last valid batch (the start position if there is none).
	ValidEnd int64
	// Batches is the number of valid batches.
	Batches int
	// Records is the sum of their NumRecords.
	Records int64
	// FirstOffset is the first valid batch's BaseOffset, -1 if there is none.
	FirstOffset int64
	// LastOffset is the last valid batch's LastOffset, -1 if there is none.
	LastOffset int64
	// LastEpoch is the last valid batch's PartitionLeaderEpoch, -1 if there is none.
	LastEpoch int32
	// MaxTimestamp is the largest MaxTimestamp of the valid batches, -1 if there is none.
	MaxTimestamp int64
	// Stop says why the scan stopped: nil for a clean end exactly at end; ErrZeroTail when everything from
	// ValidEnd to end is zero bytes (preallocated space); otherwise a *CorruptionError for the frame at
	// ValidEnd (wrapping ErrTruncated when the frame runs past end).
	Stop error
}

// Scan validates a segment from byte pos to end, calling fn (if not nil) for each valid batch in order, and
// stops at the first frame that is not valid. Each frame's length, magic, CRC and header are checked (all its
// bytes are read, buffered, in memory bounded by MaxBatchBytes plus the read-ahead buffer), then its offsets
// and epoch against the batch before (see ScanOptions); records are not decoded.
//
// If the frame at ValidEnd starts with 12 or more zero bytes, Scan reads the rest of [ValidEnd, end) in chunks:
// all zero is Stop = ErrZeroTail, otherwise a CorruptionError wrapping ErrBadLength.
//
// Validation failures go in ScanResult.Stop. The returned error is only for I/O errors and for an error
// returned by fn, which stops the scan with the result up to (not including) that batch.
func Scan(r io.ReaderAt, pos, end int64, opts ScanOptions, fn func(pos int64, h BatchHeader) error) (ScanResult, error) {
	res := ScanResult{ValidEnd: pos, FirstOffset: -1, LastOffset: -1, LastEpoch: -1, MaxTimestamp: -1}
	reader := NewReader(r, opts.Path, pos, end, opts.Limits)
	nextOffset, minEpoch := opts.NextOffset, opts.MinEpoch
	var corrupt *CorruptionError
	for {
		framePos, b, err := reader.Next()
		switch {
		case err == io.EOF:
			return res, nil
		case err == io.ErrUnexpectedEOF:
			res.Stop = &CorruptionError{Path: opts.Path, Offset: framePos, Err: errorf(ErrTruncated, "frame runs past byte %d", end)}
			return res, nil
		case errors.As(err, &corrupt):
			if corrupt.Err == ErrZeroTail {
				res.Stop = ErrZeroTail
			} else {
				res.Stop = corrupt
			}
			return res, nil
		case err != nil:
			return res, err
		}
		h := &b.Header
		if nextOffset >= 0 && (h.BaseOffset < nextOffset || opts.Contiguous && h.BaseOffset != nextOffset) {
			res.Stop = &CorruptionError{Path: opts.Path, Offset: framePos,
				Err: errorf(ErrBadOffset, "batch at offset %d, expected %d", h.BaseOffset, nextOffset)}
			return res, nil
		}
		if !opts.IgnoreEpochs && h.PartitionLeaderEpoch < minEpoch {
			res.Stop = &CorruptionError{Path: opts.Path, Offset: framePos,
				Err: errorf(ErrBadEpoch, "epoch %d after %d", h.PartitionLeaderEpoch, minEpoch)}
			return res, nil
		}
		if fn != nil {
			if err := fn(framePos, *h); err != nil {
				return res, err
			}
		}
		res.ValidEnd = reader.Pos()
		res.Batches++
		res.Records += int64(h.NumRecords)
		if res.FirstOffset < 0 {
			res.FirstOffset = h.BaseOffset
		}
		res.LastOffset = h.LastOffset()
		res.LastEpoch = h.PartitionLeaderEpoch
		res.MaxTimestamp = max(res.MaxTimestamp, h.MaxTimestamp)
		nextOffset, minEpoch = h.LastOffset()+1, h.PartitionLeaderEpoch
	}
}
