package segment

import (
	"encoding/binary"
	"math/bits"
)

// Kafka's varints are zigzag-encoded base-128 varints, the encoding of encoding/binary's PutVarint: a varint
// (int32) takes at most 5 bytes and a varlong (int64) at most 10.

// varintSize returns the number of bytes of v as a zigzag varint.
func varintSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// appendVarint appends v as a zigzag varint: binary.AppendVarint's encoding, with the one-byte values
// (most of a record's fields) appended without the loop.
func appendVarint(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	if u < 0x80 {
		return append(dst, byte(u))
	}
	return binary.AppendUvarint(dst, u)
}

// readVarint64 decodes a varlong at the start of b. It returns the value and the number of bytes read, or
// n <= 0 if b ends first or the varint is longer than 10 bytes or overflows.
func readVarint64(b []byte) (v int64, n int) {
	var u uint64
	for i := 0; i < len(b) && i < binary.MaxVarintLen64; i++ {
		c := b[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, -1
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, -1
}

// readVarint32 decodes a varint (int32) at the start of b, like readVarint64 but at most 5 bytes.
func readVarint32(b []byte) (v int32, n int) {
	var u uint32
	for i := 0; i < len(b) && i < 5; i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -1
}
