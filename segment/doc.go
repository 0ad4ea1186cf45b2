// Package segment is mqlog's bottom layer: the batch codec, and the writer, reader and recovery scan of one
// segment file. It imports nothing of mqlog.
//
// # Segment files
//
// A segment file is named after the offset of its first batch, 20 zero-padded decimal digits and ".log"
// (FileName, ParseFileName), and is a plain sequence of Kafka RecordBatch v2 frames, the same bytes that a
// Kafka broker keeps in its .log files. There is no file header and no padding between frames. An active
// segment may be preallocated: zero bytes follow its valid end until it is trimmed (ErrZeroTail).
//
// # Batch header
//
// All integers are big endian. The first 21 bytes are not covered by the CRC and are untrusted.
//
//	 0                   8           12          16  17          21      23          27
//	+-------------------+-----------+-----------+---+-----------+-------+-----------+
//	| baseOffset int64  | length    | partition |mag| crc       | attrs | lastOffset|
//	|                   | int32     | LeaderEp. |=2 | uint32    | int16 | Delta i32 |
//	+-------------------+-----------+-----------+---+-----------+-------+-----------+
//	27                  35                  43                  51      53          57          61
//	+-------------------+-------------------+-------------------+-------+-----------+-----------+
//	| baseTimestamp i64 | maxTimestamp i64  | producerId int64  | prod. | baseSeq.  | records   |
//	|                   |                   |                   | epoch | int32     | count i32 |
//	+-------------------+-------------------+-------------------+-------+-----------+-----------+
//	| records (length-49 bytes; compressed as a whole when the codec is not 0) ...
//	+------------------------------------------------------------------------------
//	                    <------------------- covered by the CRC-32C (bytes 21 .. end) ------------>
//
//	offset size field                 meaning
//	0      8    baseOffset            offset of the first record; not in the CRC
//	8      4    length                bytes after this field (frame size = 12 + length, >= 49)
//	12     4    partitionLeaderEpoch  the log's write epoch; not in the CRC
//	16     1    magic                 2
//	17     4    crc                   CRC-32C (Castagnoli) of bytes 21 .. end
//	21     2    attributes            bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//	                                  bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
//	                                  bit 5 control
//	23     4    lastOffsetDelta       offset of the last record minus baseOffset
//	27     8    baseTimestamp         smallest record timestamp (ms since the epoch)
//	35     8    maxTimestamp          largest record timestamp
//	43     8    producerId            -1 unless idempotent
//	51     2    producerEpoch         -1 unless idempotent
//	53     4    baseSequence          -1 unless idempotent
//	57     4    recordsCount          number of records
//	61     ...  records
//
// # Record
//
// Varints are zigzag base-128 (as encoding/binary's PutVarint): varint = int32 in at most 5 bytes, varlong =
// int64 in at most 10.
//
//	+--------+-------+---------+-----------+--------+-----+----------+-------+---------+---------+
//	| length | attrs | tsDelta | offDelta  | keyLen | key | valueLen | value | headers | headers |
//	| varint | int8  | varlong | varint    | varint |     | varint   |       | count   | ...     |
//	+--------+-------+---------+-----------+--------+-----+----------+-------+---------+---------+
//	header: keyLen varint (>= 0) | key | valueLen varint (-1 = null) | value
//
// length counts the bytes after it; keyLen and valueLen are -1 for null. A record's timestamp is
// baseTimestamp+tsDelta (maxTimestamp for LogAppendTime batches) and its offset baseOffset+offDelta.
//
// # Frozen wire format
//
// HeaderSize, Magic, the header field positions and widths, the attribute bits, the Compression values, the
// varint encodings, CRC-32C over bytes 21 .. end, and the 20-digit file name are Kafka's format and never
// change. DefaultMaxBatchBytes and DefaultMaxMessageBytes are defaults, not format.
//
// # Reading hostile files
//
// Every length and count read from a file is checked against the bytes that remain and against Limits before
// anything is allocated; decompression stops at Limits.MaxBatchBytes. Errors wrap the package's sentinels,
// and readers report a *CorruptionError naming the file and the frame's byte offset. docs/FORMAT.md describes
// the same format for readers of the files.
package segment
