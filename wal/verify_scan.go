package wal

import (
	"errors"
	"fmt"
	"io"

	"github.com/mqlog/mqlog/segment"
)

// scanSegment is segment.Scan without its epoch check: it validates the frames of a segment from byte 0
// to end (length, magic, CRC, offsets strictly increasing from nextOffset, contiguous when asked) and calls
// fn for each valid one. Verify judges epochs itself, because a lower epoch in durable data is a damaged
// header field to report and fix, not the end of the log. Stop and the returned error mean what they mean
// for segment.Scan; LastEpoch is left -1.
func scanSegment(r io.ReaderAt, path string, end int64, limits segment.Limits, nextOffset int64, contiguous bool,
	fn func(pos int64, h segment.BatchHeader) error) (segment.ScanResult, error) {
	res := segment.ScanResult{FirstOffset: -1, LastOffset: -1, LastEpoch: -1, MaxTimestamp: -1}
	reader := segment.NewReader(r, path, 0, end, limits)
	var corrupt *segment.CorruptionError
	for {
		framePos, b, err := reader.Next()
		switch {
		case err == io.EOF:
			return res, nil
		case err == io.ErrUnexpectedEOF:
			res.Stop = &segment.CorruptionError{Path: path, Offset: framePos,
				Err: fmt.Errorf("%w: frame runs past byte %d", segment.ErrTruncated, end)}
			return res, nil
		case errors.As(err, &corrupt):
			if errors.Is(corrupt.Err, segment.ErrZeroTail) {
				res.Stop = segment.ErrZeroTail
			} else {
				res.Stop = corrupt
			}
			return res, nil
		case err != nil:
			return res, err
		}
		h := &b.Header
		if h.BaseOffset < nextOffset || contiguous && h.BaseOffset != nextOffset {
			res.Stop = &segment.CorruptionError{Path: path, Offset: framePos,
				Err: fmt.Errorf("%w: batch at offset %d, expected %d", segment.ErrBadOffset, h.BaseOffset, nextOffset)}
			return res, nil
		}
		if err := fn(framePos, *h); err != nil {
			return res, err
		}
		res.ValidEnd = reader.Pos()
		res.Batches++
		res.Records += int64(h.NumRecords)
		if res.FirstOffset < 0 {
			res.FirstOffset = h.BaseOffset
		}
		res.LastOffset = h.LastOffset()
		res.MaxTimestamp = max(res.MaxTimestamp, h.MaxTimestamp)
		nextOffset = h.LastOffset() + 1
	}
}
