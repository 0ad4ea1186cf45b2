package raftstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/segment"
)

// A raft log entry is one record, alone in its batch (so that the log can be cut at any index, DeleteRange
// at the tail), at offset index−1:
//
//	key    (26 bytes, big endian)   version uint8 (1) | index uint64 | term uint64 | type uint8 | appendedAt int64 (Unix ns)
//	value                           Data (null when Data is nil)
//	header "raft.ext"               Extensions, present only when not empty
//	timestamp                       AppendedAt in Unix milliseconds (what Kafka tools and time lookups see)
//
// The index in the key is redundant with the offset: GetLog checks it, so that a wrong mapping is an error
// naming the file, never another entry's data.
const (
	entryVersion = 1
	entryKeySize = 1 + 8 + 8 + 1 + 8
	extHeader    = "raft.ext"
)

// encodeEntry returns the record of l.
func encodeEntry(l *raft.Log) segment.Record {
	key := make([]byte, 0, entryKeySize)
	key = append(key, entryVersion)
	key = binary.BigEndian.AppendUint64(key, l.Index)
	key = binary.BigEndian.AppendUint64(key, l.Term)
	key = append(key, byte(l.Type))
	var ns int64
	if !l.AppendedAt.IsZero() {
		ns = l.AppendedAt.UnixNano()
	}
	key = binary.BigEndian.AppendUint64(key, uint64(ns))
	rec := segment.Record{Key: key, Value: l.Data, Timestamp: ns / int64(time.Millisecond)}
	if len(l.Extensions) > 0 {
		rec.Headers = []segment.RecordHeader{{Key: extHeader, Value: l.Extensions}}
	}
	return rec
}

// decodeEntry fills l from rec, which must be the entry of index (rec's bytes are the caller's to keep).
func decodeEntry(rec *segment.Record, index uint64, l *raft.Log) error {
	k := rec.Key
	if len(k) != entryKeySize || k[0] != entryVersion {
		return fmt.Errorf("%w: record at offset %d has a key of %d bytes (version %v), not a raft entry", ErrBadEntry, rec.Offset, len(k), k[:min(len(k), 1)])
	}
	if got := binary.BigEndian.Uint64(k[1:]); got != index {
		return fmt.Errorf("%w: record at offset %d holds index %d, want %d", ErrBadEntry, rec.Offset, got, index)
	}
	*l = raft.Log{
		Index: index,
		Term:  binary.BigEndian.Uint64(k[9:]),
		Type:  raft.LogType(k[17]),
		Data:  rec.Value,
	}
	if ns := int64(binary.BigEndian.Uint64(k[18:])); ns != 0 {
		l.AppendedAt = time.Unix(0, ns)
	}
	for _, h := range rec.Headers {
		if h.Key == extHeader {
			l.Extensions = h.Value
		}
	}
	return nil
}
