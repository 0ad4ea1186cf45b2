package segment

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"slices"
)

// RecordHeader is one header of a record: a non-null key and a value (nil = null).
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one message of a batch.
type Record struct {
	// Offset is the record's absolute offset. Decoding sets it to BaseOffset+offsetDelta; AppendBatch reads
	// it only with EncodeOptions.KeepOffsets.
	Offset int64
	// Timestamp is in milliseconds since the Unix epoch (absolute).
	Timestamp int64
	// Key is the record's key; nil is a null key, distinct from an empty one.
	Key []byte
	// Value is the record's value; nil is a null value (a tombstone), distinct from an empty one.
	Value []byte
	// Headers are the record's headers, in order.
	Headers []RecordHeader
}

// EncodeOptions says how AppendBatch builds a frame.
type EncodeOptions struct {
	// BaseOffset is the batch's base offset. It may also be set later with SetBaseOffset.
	BaseOffset int64
	// Epoch is the batch's partitionLeaderEpoch. It may also be set later with SetEpoch.
	Epoch int32
	// Compression is the codec of the records.
	Compression Compression
	// KeepOffsets keeps each Record.Offset (strictly increasing, >= BaseOffset, gaps allowed: compaction);
	// otherwise the records get offset deltas 0..n-1.
	KeepOffsets bool
	// Level is the codec's compression level; 0 is the codec's default. gzip: -2..9; lz4: 1..9; zstd: the
	// zstd levels (mapped to the nearest klauspost/compress level); snappy has none.
	Level int
}

// AppendBatch encodes records as one complete RecordBatch v2 frame and appends it to dst.
//
// Offsets: without opts.KeepOffsets the records get offset deltas 0..n-1 and BaseOffset = opts.BaseOffset;
// with it each Record.Offset is kept (strictly increasing, the first >= opts.BaseOffset, ErrBadOffset
// otherwise) and LastOffsetDelta = last.Offset - BaseOffset. BaseTimestamp and MaxTimestamp are the smallest
// and largest record timestamps. ProducerID, ProducerEpoch and BaseSequence are -1. The CRC is CRC-32C over
// the bytes from attributes to the end.
//
// AppendBatch applies no Limits (use Limits.CheckMessage before encoding); it fails with ErrTooLarge only
// when the frame does not fit the format's int32 length. An uncompressed batch is written straight into dst,
// which grows once, to at most the frame's size plus 36 bytes per record and 10 per header (every varint
// counted at its widest); nothing else is allocated. On error dst is returned unchanged.
func AppendBatch(dst []byte, records []Record, opts EncodeOptions) ([]byte, error) {
	if len(records) == 0 {
		return dst, ErrEmptyBatch
	}
	if !opts.Compression.valid() {
		return dst, errorf(ErrCompression, "codec id %d", int8(opts.Compression))
	}
	if len(records) > math.MaxInt32 {
		return dst, errorf(ErrTooLarge, "%d records", len(records))
	}
	if opts.BaseOffset < 0 {
		return dst, errorf(ErrBadOffset, "negative base offset %d", opts.BaseOffset)
	}
	lastOffsetDelta := int64(len(records) - 1)
	if opts.KeepOffsets {
		prev := opts.BaseOffset - 1
		for i := range records {
			if records[i].Offset <= prev {
				return dst, errorf(ErrBadOffset, "record %d: offset %d after %d", i, records[i].Offset, prev)
			}
			prev = records[i].Offset
		}
		lastOffsetDelta = prev - opts.BaseOffset
		if lastOffsetDelta > math.MaxInt32 {
			return dst, errorf(ErrBadOffset, "offset delta %d over int32", lastOffsetDelta)
		}
	}
	// One pass finds the timestamps and bounds the encoded size (the bytes of keys, values and headers, and
	// every varint at its widest), so that dst grows once and the records are written in one more pass,
	// each record's size computed once, as its length prefix.
	minTime, maxTime := records[0].Timestamp, records[0].Timestamp
	bound := len(records) * maxRecordOverhead
	for i := range records {
		r := &records[i]
		minTime = min(minTime, r.Timestamp)
		maxTime = max(maxTime, r.Timestamp)
		bound += len(r.Key) + len(r.Value)
		for j := range r.Headers {
			bound += maxHeaderOverhead + len(r.Headers[j].Key) + len(r.Headers[j].Value)
		}
	}
	if maxTime-minTime < 0 {
		return dst, errorf(ErrBadRecord, "timestamps %d..%d too far apart", minTime, maxTime)
	}
	if bound < 0 || bound > math.MaxInt32-HeaderSize {
		// Too large for the bound to say: the exact size does (a frame near 2 GiB, or one that cannot be).
		size, err := recordsSize(records, minTime, opts)
		if err != nil {
			return dst, err
		}
		bound = size
	}

	start := len(dst)
	var err error
	if opts.Compression == CompressionNone {
		dst = slices.Grow(dst, HeaderSize+bound)[:start+HeaderSize]
		dst = appendRecords(dst, records, minTime, opts)
	} else {
		scratch := getScratch()
		*scratch = appendRecords(slices.Grow((*scratch)[:0], bound), records, minTime, opts)
		dst = slices.Grow(dst, HeaderSize)[:start+HeaderSize]
		dst, err = compress(dst, *scratch, opts.Compression, opts.Level)
		putScratch(scratch)
		if err != nil {
			return dst[:start], err
		}
	}
	frame := dst[start:]
	length := len(frame) - lengthFieldEnd
	if length > math.MaxInt32 {
		return dst[:start], errorf(ErrTooLarge, "batch of %d bytes over 2 GiB", len(frame))
	}
	binary.BigEndian.PutUint64(frame[offBaseOffset:], uint64(opts.BaseOffset))
	binary.BigEndian.PutUint32(frame[offLength:], uint32(length))
	binary.BigEndian.PutUint32(frame[offEpoch:], uint32(opts.Epoch))
	frame[offMagic] = Magic
	binary.BigEndian.PutUint16(frame[offAttributes:], uint16(opts.Compression))
	binary.BigEndian.PutUint32(frame[offLastOffsetDelta:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(frame[offBaseTimestamp:], uint64(minTime))
	binary.BigEndian.PutUint64(frame[offMaxTimestamp:], uint64(maxTime))
	binary.BigEndian.PutUint64(frame[offProducerID:], math.MaxUint64) // -1
	binary.BigEndian.PutUint16(frame[offProducerEpoch:], math.MaxUint16)
	binary.BigEndian.PutUint32(frame[offBaseSequence:], math.MaxUint32)
	binary.BigEndian.PutUint32(frame[offNumRecords:], uint32(len(records)))
	binary.BigEndian.PutUint32(frame[offCRC:], crc32.Checksum(frame[offAttributes:], crcTable))
	return dst, nil
}

// offsetDelta returns the offset delta of records[i].
func offsetDelta(records []Record, i int, opts EncodeOptions) int64 {
	if opts.KeepOffsets {
		return records[i].Offset - opts.BaseOffset
	}
	return int64(i)
}

// bytesSize returns the encoded size of a nullable byte string: varint length (-1 for nil) and bytes.
func bytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int64(len(b))) + len(b)
}

// recordBodySize returns the encoded size of a record after its length varint.
func recordBodySize(r *Record, timestampDelta, offsetDelta int64) int {
	size := 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + bytesSize(r.Key) + bytesSize(r.Value) +
		varintSize(int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		size += varintSize(int64(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
	}
	return size
}

// maxRecordOverhead is the most bytes a record takes besides its key, value and headers: the length,
// timestampDelta, offsetDelta, key length, value length and header count varints at their widest, and
// the attributes byte. maxHeaderOverhead is a header's: its key and value length varints.
const (
	maxRecordOverhead = binary.MaxVarintLen32 + 1 + binary.MaxVarintLen64 + binary.MaxVarintLen32*4
	maxHeaderOverhead = binary.MaxVarintLen32 * 2
)

// recordsSize returns the encoded size of the records (their length varints included), or ErrTooLarge
// when it passes what a frame's int32 length can hold.
func recordsSize(records []Record, baseTime int64, opts EncodeOptions) (int, error) {
	size := 0
	for i := range records {
		bodySize := recordBodySize(&records[i], records[i].Timestamp-baseTime, offsetDelta(records, i, opts))
		size += varintSize(int64(bodySize)) + bodySize
		if size > math.MaxInt32 {
			return 0, errorf(ErrTooLarge, "batch over 2 GiB")
		}
	}
	return size, nil
}

// appendBytes appends a nullable byte string.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 1) // zigzag(-1)
	}
	dst = appendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// appendRecords appends the records' encodings.
func appendRecords(dst []byte, records []Record, baseTime int64, opts EncodeOptions) []byte {
	for i := range records {
		r := &records[i]
		timestampDelta := r.Timestamp - baseTime
		delta := offsetDelta(records, i, opts)
		dst = appendVarint(dst, int64(recordBodySize(r, timestampDelta, delta)))
		dst = append(dst, 0) // attributes: unused
		dst = appendVarint(dst, timestampDelta)
		dst = appendVarint(dst, delta)
		dst = appendBytes(dst, r.Key)
		dst = appendBytes(dst, r.Value)
		dst = appendVarint(dst, int64(len(r.Headers)))
		for j := range r.Headers {
			h := &r.Headers[j]
			dst = appendVarint(dst, int64(len(h.Key)))
			dst = append(dst, h.Key...)
			dst = appendBytes(dst, h.Value)
		}
	}
	return dst
}
