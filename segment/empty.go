package segment

import (
	"encoding/binary"
	"hash/crc32"
	"math"
)

// AppendEmptyBatch appends to dst a batch that holds no records and spans the offsets baseOffset to
// baseOffset+lastOffsetDelta: the empty batch Kafka's log cleaner leaves where it removed every record of a
// batch. Offsets stay contiguous across it, and readers skip it (it has no record). Repair puts one where it
// drops damaged bytes, so that the batches after them keep their offsets and no offset is handed out twice.
// Both timestamps are timestamp; producer fields are -1; no codec.
func AppendEmptyBatch(dst []byte, baseOffset int64, lastOffsetDelta, epoch int32, timestamp int64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	frame := dst[start:]
	binary.BigEndian.PutUint64(frame[offBaseOffset:], uint64(baseOffset))
	binary.BigEndian.PutUint32(frame[offLength:], uint32(minLength))
	binary.BigEndian.PutUint32(frame[offEpoch:], uint32(epoch))
	frame[offMagic] = Magic
	binary.BigEndian.PutUint16(frame[offAttributes:], 0)
	binary.BigEndian.PutUint32(frame[offLastOffsetDelta:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(frame[offBaseTimestamp:], uint64(timestamp))
	binary.BigEndian.PutUint64(frame[offMaxTimestamp:], uint64(timestamp))
	binary.BigEndian.PutUint64(frame[offProducerID:], math.MaxUint64) // -1
	binary.BigEndian.PutUint16(frame[offProducerEpoch:], math.MaxUint16)
	binary.BigEndian.PutUint32(frame[offBaseSequence:], math.MaxUint32)
	binary.BigEndian.PutUint32(frame[offNumRecords:], 0)
	binary.BigEndian.PutUint32(frame[offCRC:], crc32.Checksum(frame[offAttributes:], crcTable))
	return dst
}
