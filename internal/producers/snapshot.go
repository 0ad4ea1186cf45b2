package producers

import (
	"encoding/binary"
	"fmt"
)

const (
	snapshotVersion    = 1
	snapshotHeaderSize = 1 + 8 + 4 + 4
	producerHeaderSize = 8 + 2 + 4 + 8 + 1
	batchMetaSize      = 4 + 4 + 8 + 8
)

// snapshot is a decoded snapshot.
type snapshot struct {
	nextOffset int64
	lastCRC    uint32
	producers  map[int64]*producer
}

// encodeLocked encodes the state (package doc, "Snapshot encoding").
func (p *Partition) encodeLocked() []byte {
	be := binary.BigEndian
	b := make([]byte, 0, snapshotHeaderSize+len(p.mu.producers)*(producerHeaderSize+retainedBatches*batchMetaSize))
	b = append(b, snapshotVersion)
	b = be.AppendUint64(b, uint64(p.mu.nextOffset))
	b = be.AppendUint32(b, p.mu.lastCRC)
	b = be.AppendUint32(b, uint32(len(p.mu.producers)))
	for id, pr := range p.mu.producers {
		b = be.AppendUint64(b, uint64(id))
		b = be.AppendUint16(b, uint16(pr.epoch))
		b = be.AppendUint32(b, uint32(pr.nextSeq))
		b = be.AppendUint64(b, uint64(pr.lastTimestamp))
		b = append(b, byte(len(pr.batches)))
		for _, m := range pr.batches {
			b = be.AppendUint32(b, uint32(m.firstSeq))
			b = be.AppendUint32(b, uint32(m.lastSeq))
			b = be.AppendUint64(b, uint64(m.firstOffset))
			b = be.AppendUint64(b, uint64(m.lastOffset))
		}
	}
	return b
}

// decodeSnapshot decodes a snapshot, checking every count against the bytes there before allocating.
func decodeSnapshot(b []byte) (snapshot, error) {
	be := binary.BigEndian
	var s snapshot
	if len(b) < snapshotHeaderSize || b[0] != snapshotVersion {
		return s, fmt.Errorf("%w: %d bytes, version %d", ErrBadSnapshot, len(b), firstByte(b))
	}
	s.nextOffset = int64(be.Uint64(b[1:]))
	s.lastCRC = be.Uint32(b[9:])
	count := be.Uint32(b[13:])
	rest := b[snapshotHeaderSize:]
	if uint64(count)*producerHeaderSize > uint64(len(rest)) {
		return s, fmt.Errorf("%w: %d producers in %d bytes", ErrBadSnapshot, count, len(rest))
	}
	s.producers = make(map[int64]*producer, count)
	for range count {
		if len(rest) < producerHeaderSize {
			return s, fmt.Errorf("%w: truncated producer", ErrBadSnapshot)
		}
		id := int64(be.Uint64(rest))
		pr := &producer{epoch: int16(be.Uint16(rest[8:])), nextSeq: int32(be.Uint32(rest[10:])), lastTimestamp: int64(be.Uint64(rest[14:]))}
		n := int(rest[22])
		rest = rest[producerHeaderSize:]
		if n > retainedBatches || len(rest) < n*batchMetaSize || id < 0 {
			return s, fmt.Errorf("%w: producer %d with %d batches", ErrBadSnapshot, id, n)
		}
		for i := 0; i < n; i++ {
			e := rest[i*batchMetaSize:]
			pr.batches = append(pr.batches, batchMeta{firstSeq: int32(be.Uint32(e)), lastSeq: int32(be.Uint32(e[4:])),
				firstOffset: int64(be.Uint64(e[8:])), lastOffset: int64(be.Uint64(e[16:]))})
		}
		rest = rest[n*batchMetaSize:]
		s.producers[id] = pr
	}
	if len(rest) != 0 {
		return s, fmt.Errorf("%w: %d bytes after the last producer", ErrBadSnapshot, len(rest))
	}
	return s, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
