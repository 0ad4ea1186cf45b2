package segment

import (
	"encoding/binary"
	"hash/crc32"
	"math"
)

// Wire-format constants. HeaderSize and Magic are frozen: they are Kafka's RecordBatch v2.
const (
	// HeaderSize is the number of bytes of the batch header, from baseOffset to recordsCount.
	HeaderSize = 61
	// Magic is the RecordBatch format version this package reads and writes.
	Magic = 2
	// DefaultMaxBatchBytes is the default limit of a frame, and of a batch's decompressed records.
	DefaultMaxBatchBytes = 16 << 20
	// DefaultMaxMessageBytes is the default limit of one record's key plus value.
	DefaultMaxMessageBytes = 1 << 20
)

// Byte positions of the header fields inside a frame (frozen wire format).
const (
	offBaseOffset      = 0
	offLength          = 8
	offEpoch           = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // first byte covered by the CRC
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// lengthFieldEnd is the number of bytes that precede what the length field counts.
	lengthFieldEnd = offEpoch
	// minLength is the smallest valid batch length: a header and no records.
	minLength = HeaderSize - lengthFieldEnd
)

// Attribute bits.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08 // 1 = LogAppendTime: every record's timestamp is MaxTimestamp
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// crcTable is the CRC-32C (Castagnoli) table; hash/crc32 uses the CPU's instruction for it.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Limits bound what decoding may allocate. Zero fields take the defaults DefaultMaxBatchBytes and
// DefaultMaxMessageBytes. Decompression is limited to MaxBatchBytes; a record whose key and value together
// exceed MaxMessageBytes is ErrTooLarge.
type Limits struct {
	// MaxBatchBytes bounds a frame (12 + Length) and the decompressed size of its records.
	MaxBatchBytes int
	// MaxMessageBytes bounds len(Key)+len(Value) of one record.
	MaxMessageBytes int
}

// maxBatch returns MaxBatchBytes or its default.
func (l Limits) maxBatch() int {
	if l.MaxBatchBytes <= 0 {
		return DefaultMaxBatchBytes
	}
	return l.MaxBatchBytes
}

// maxMessage returns MaxMessageBytes or its default.
func (l Limits) maxMessage() int {
	if l.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return l.MaxMessageBytes
}

// CheckMessage returns an error wrapping ErrTooLarge if a record with this key and value would be over
// MaxMessageBytes. AppendBatch applies no limits itself: writers call this before encoding.
func (l Limits) CheckMessage(key, value []byte) error {
	if n := len(key) + len(value); n > l.maxMessage() {
		return errorf(ErrTooLarge, "message of %d bytes, limit %d", n, l.maxMessage())
	}
	return nil
}

// BatchHeader is the fixed 61-byte header of a RecordBatch v2, every field at the width Kafka writes it.
type BatchHeader struct {
	// BaseOffset is the offset of the batch's first record (not covered by the CRC).
	BaseOffset int64
	// Length is the number of bytes of the frame after the Length field (not covered by the CRC).
	Length int32
	// PartitionLeaderEpoch is the log's write epoch when the batch was written (not covered by the CRC).
	PartitionLeaderEpoch int32
	// Magic is the format version, 2.
	Magic int8
	// CRC is the CRC-32C of the frame's bytes from Attributes to the end.
	CRC uint32
	// Attributes holds the codec (bits 0-2), timestamp type (bit 3), transactional (bit 4), control (bit 5).
	Attributes int16
	// LastOffsetDelta is the offset of the batch's last record minus BaseOffset.
	LastOffsetDelta int32
	// BaseTimestamp is the smallest record timestamp, in milliseconds since the epoch.
	BaseTimestamp int64
	// MaxTimestamp is the largest record timestamp, in milliseconds since the epoch.
	MaxTimestamp int64
	// ProducerID is the idempotent producer's id, or -1.
	ProducerID int64
	// ProducerEpoch is the idempotent producer's epoch, or -1.
	ProducerEpoch int16
	// BaseSequence is the idempotent producer's sequence number of the first record, or -1.
	BaseSequence int32
	// NumRecords is the number of records in the batch.
	NumRecords int32
}

// Compression returns the codec of the batch's records.
func (h *BatchHeader) Compression() Compression {
	return Compression(h.Attributes & attrCompressionMask)
}

// LastOffset returns the offset of the batch's last record: BaseOffset + LastOffsetDelta.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// FrameSize returns the number of bytes of the whole frame: 12 + Length.
func (h *BatchHeader) FrameSize() int64 { return lengthFieldEnd + int64(h.Length) }

// IsControl reports whether the batch is a control batch (transaction markers in Kafka).
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsTransactional reports whether the batch is part of a transaction.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// ParseHeader decodes the header at the start of b with the default Limits. It needs at least HeaderSize
// bytes (else ErrTruncated), checks the magic (ErrBadMagic) and that the length is sane (ErrBadLength: Length <
// HeaderSize-12, or a frame over DefaultMaxBatchBytes). It does not check the CRC, nor that the whole frame is
// in b. Use ParseHeaderLimits for other limits.
func ParseHeader(b []byte) (BatchHeader, error) {
	return ParseHeaderLimits(b, Limits{})
}

// ParseHeaderLimits is ParseHeader with the frame size limit taken from limits.
func ParseHeaderLimits(b []byte, limits Limits) (BatchHeader, error) {
	if len(b) < HeaderSize {
		return BatchHeader{}, errorf(ErrTruncated, "%d bytes of a %d-byte header", len(b), HeaderSize)
	}
	if err := checkPrefix(b, limits); err != nil {
		return BatchHeader{}, err
	}
	return BatchHeader{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[offNumRecords:])),
	}, nil
}

// checkPrefix checks what it can of a frame's first bytes, however few: the magic once 17 bytes are there,
// then the length once 12 are. It returns nil if nothing is wrong so far. The magic comes first so that a
// Kafka v0/v1 message set (whose magic sits at the same byte) is reported as ErrBadMagic.
func checkPrefix(b []byte, limits Limits) error {
	if len(b) > offMagic {
		if m := int8(b[offMagic]); m != Magic {
			return errorf(ErrBadMagic, "magic %d", m)
		}
	}
	if len(b) >= lengthFieldEnd {
		length := int32(binary.BigEndian.Uint32(b[offLength:]))
		if length < minLength {
			return errorf(ErrBadLength, "length %d below the minimum %d", length, minLength)
		}
		if size := lengthFieldEnd + int64(length); size > int64(limits.maxBatch()) {
			return errorf(ErrBadLength, "frame of %d bytes over the limit %d", size, limits.maxBatch())
		}
	}
	return nil
}

// checkHeaderFields checks the header fields that do not depend on the records: it runs after the CRC, so
// that only the untrusted BaseOffset can be damaged without a CRC mismatch.
func checkHeaderFields(h *BatchHeader) error {
	switch {
	case h.LastOffsetDelta < 0:
		return errorf(ErrBadRecord, "negative lastOffsetDelta %d", h.LastOffsetDelta)
	case h.NumRecords < 0:
		return errorf(ErrBadRecord, "negative record count %d", h.NumRecords)
	case int64(h.NumRecords) > int64(h.LastOffsetDelta)+1:
		return errorf(ErrBadRecord, "%d records in %d offsets", h.NumRecords, int64(h.LastOffsetDelta)+1)
	case h.BaseOffset < 0 || h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta):
		return errorf(ErrBadOffset, "base offset %d", h.BaseOffset)
	}
	return nil
}

// SetBaseOffset writes base into the baseOffset field of an encoded frame. The field is outside the CRC, so the
// frame stays valid. The log uses it to assign offsets after encoding.
func SetBaseOffset(frame []byte, base int64) {
	binary.BigEndian.PutUint64(frame[offBaseOffset:], uint64(base))
}

// SetEpoch writes epoch into the partitionLeaderEpoch field of an encoded frame; the CRC stays valid.
func SetEpoch(frame []byte, epoch int32) {
	binary.BigEndian.PutUint32(frame[offEpoch:], uint32(epoch))
}
