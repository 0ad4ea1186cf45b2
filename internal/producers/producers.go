// Package producers keeps the state of idempotent producers, one Partition per partition log: for each
// producer id its epoch, the next sequence number it must send, and the sequences and offsets of its last
// five batches, so that a retried batch is answered with the offset it got the first time and a gap in the
// sequence is refused. It is Kafka's ProducerStateManager without transactions.
//
// # Durability
//
// The state is derived from the log: every batch of an idempotent producer carries its producer id, epoch
// and base sequence in its header. A snapshot of the state is saved without sync (like the sparse offset
// index) every SnapshotEvery batches, and once the state is loaded; Open loads the last snapshot, checks
// that it describes this log (the batch just before the offset it covers must be there, with the CRC the
// snapshot recorded: a snapshot of a deleted topic, or of a tail that a crash lost, is dropped), and
// replays the batch headers of the log from there to the high watermark. Without a valid snapshot it
// replays the last RebuildSegments segments; producers last seen before them are unknown, and an unknown
// producer's batch is accepted with any sequence, as Kafka does after a producer's state has expired.
//
// # Snapshot encoding
//
// Big endian, version 1:
//
//	+---------+------------+-----------+-------+
//	| version | nextOffset | lastCRC   | count |
//	| uint8   | int64      | uint32    | uint32|
//	+---------+------------+-----------+-------+
//	then count producers: id int64, epoch int16, nextSeq int32, lastTimestamp int64, batches uint8 (<= 5),
//	then that many batches, oldest first: firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64.
//
// nextOffset is the offset after the last idempotent batch the state holds, lastCRC that batch's CRC.
//
// # Sequence rules
//
// For a batch of producer P with epoch E, sequences [first, last] (last = first + records - 1, modulo 2^31):
// an epoch below P's is ErrInvalidEpoch; a batch equal to one of P's last five is a duplicate (*Duplicate,
// with its original offsets); with a new epoch first must be 0; with the same epoch first must be P's next
// sequence (else ErrOutOfOrderSequence); an unknown P is accepted with any sequence.
package producers

import (
	"errors"
	"fmt"
)

// Errors of Check. The Kafka front end maps them to Kafka's error codes.
var (
	// ErrOutOfOrderSequence is a batch whose first sequence is not the next one the producer must send
	// (Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("mqlog/producers: out of order sequence number")
	// ErrInvalidEpoch is a batch from an epoch older than the producer's current one: a fenced producer
	// (Kafka's INVALID_PRODUCER_EPOCH).
	ErrInvalidEpoch = errors.New("mqlog/producers: producer epoch is older than the current one")
	// ErrBadSnapshot is a snapshot that cannot be decoded; Open drops it and rebuilds from the log.
	ErrBadSnapshot = errors.New("mqlog/producers: bad snapshot")
)

// Duplicate is returned by Check for a batch the producer already appended: it is not appended again, and
// the producer is answered with the original batch's offsets once they are durable.
type Duplicate struct {
	FirstOffset, LastOffset int64
}

func (d *Duplicate) Error() string {
	return fmt.Sprintf("mqlog/producers: duplicate of the batch at offsets %d-%d", d.FirstOffset, d.LastOffset)
}

// Batch is what the state needs to know of an idempotent producer's batch.
type Batch struct {
	ProducerID    int64
	Epoch         int16
	FirstSequence int32
	Records       int32 // number of records: the batch's sequences are FirstSequence .. +Records-1
	MaxTimestamp  int64 // ms since the epoch
	CRC           uint32
}

// lastSequence returns the sequence of the batch's last record, wrapping at 2^31 as Kafka's do.
func (b Batch) lastSequence() int32 { return addSequence(b.FirstSequence, b.Records-1) }

// addSequence returns seq + n modulo 2^31.
func addSequence(seq, n int32) int32 { return int32((int64(seq) + int64(n)) & (1<<31 - 1)) }
