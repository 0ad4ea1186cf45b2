package segment

import (
	"encoding/binary"
	"hash/crc32"
)

// SetProducer writes an idempotent producer's id, epoch and base sequence into an encoded frame and
// recomputes its CRC (the three fields are covered by it). AppendBatch leaves them at -1; an embedded
// idempotent append sets them with this before the frame is appended.
func SetProducer(frame []byte, producerID int64, producerEpoch int16, baseSequence int32) {
	binary.BigEndian.PutUint64(frame[offProducerID:], uint64(producerID))
	binary.BigEndian.PutUint16(frame[offProducerEpoch:], uint16(producerEpoch))
	binary.BigEndian.PutUint32(frame[offBaseSequence:], uint32(baseSequence))
	binary.BigEndian.PutUint32(frame[offCRC:], crc32.Checksum(frame[offAttributes:], crcTable))
}
