package wal

import (
	"encoding/binary"
	"fmt"
)

// durableState is what the log records in the index, synced, at open, at every roll and at clean close
// (DESIGN.md decision 6): where the trusted bytes end, the write epoch, and the closed segments.
//
// Encoding (big endian), version 3 (version 1 is the same without the pending swap and the pending cut,
// version 2 without the pending cut; all three are read):
//
//	+---------+--------------+--------------+----------------+-----------+---------+---------------+-------+
//	| version | activeBase   | position     | nextOffset     | epoch     | clean   | startOffset   | count |
//	| uint8   | int64        | int64        | int64          | int32     | uint8   | int64         | uint32|
//	+---------+--------------+--------------+----------------+-----------+---------+---------------+-------+
//	then count closed segments: base int64, size int64, nextOffset int64, maxTimestamp int64
//	then (version 2) the pending swap: renamed uint32 count, that many base int64 (segments whose
//	"<base>.log.cleaned" file replaces "<base>.log"), removed uint32 count, that many base int64 (segments
//	to delete). Both counts are 0 when no swap is pending. Then (version 3) cutPending uint8: 1 when a
//	TruncateFrom is committed but maybe not finished on disk (truncate.go): Open removes every segment
//	after activeBase and cuts activeBase's file at position before it recovers.
type durableState struct {
	activeBase  int64 // base offset of the active segment
	position    int64 // bytes of the active segment known durable and valid
	nextOffset  int64 // offset of the first record after position
	epoch       int32 // write epoch; frames past position older than it are stale
	clean       bool  // saved by Close: nothing was written after position
	startOffset int64 // first offset of the log (raised by retention)
	closed      []closedSegment
	swap        pendingSwap // a compaction's replacement, committed but maybe not finished on disk
	cutPending  bool        // a TruncateFrom's cut, committed but maybe not finished on disk
}

// pendingSwap is a segment replacement recorded as committed (docs/FORMAT.md "Recovery", "Segment
// replacement"): recovery finishes it by renaming each renamed base's ".cleaned" file over its segment and
// removing each removed base's segment.
type pendingSwap struct {
	renamed []int64
	removed []int64
}

func (p pendingSwap) empty() bool { return len(p.renamed) == 0 && len(p.removed) == 0 }

// closedSegment describes a segment that will never be written again.
type closedSegment struct {
	base         int64
	size         int64
	nextOffset   int64 // offset after its last record
	maxTimestamp int64
}

const (
	stateVersion    = 3
	stateHeaderSize = 1 + 8 + 8 + 8 + 4 + 1 + 8 + 4
	closedEntrySize = 32
)

func (s *durableState) encode() []byte {
	b := make([]byte, 0, stateHeaderSize+closedEntrySize*len(s.closed))
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(s.activeBase))
	b = binary.BigEndian.AppendUint64(b, uint64(s.position))
	b = binary.BigEndian.AppendUint64(b, uint64(s.nextOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(s.epoch))
	clean := byte(0)
	if s.clean {
		clean = 1
	}
	b = append(b, clean)
	b = binary.BigEndian.AppendUint64(b, uint64(s.startOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.closed)))
	for _, c := range s.closed {
		b = binary.BigEndian.AppendUint64(b, uint64(c.base))
		b = binary.BigEndian.AppendUint64(b, uint64(c.size))
		b = binary.BigEndian.AppendUint64(b, uint64(c.nextOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(c.maxTimestamp))
	}
	for _, bases := range [][]int64{s.swap.renamed, s.swap.removed} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(bases)))
		for _, base := range bases {
			b = binary.BigEndian.AppendUint64(b, uint64(base))
		}
	}
	cut := byte(0)
	if s.cutPending {
		cut = 1
	}
	return append(b, cut)
}

func decodeState(b []byte) (durableState, error) {
	var s durableState
	if len(b) < stateHeaderSize {
		return s, fmt.Errorf("%w: %d bytes", ErrBadState, len(b))
	}
	if b[0] < 1 || b[0] > stateVersion {
		return s, fmt.Errorf("%w: unknown version %d", ErrBadState, b[0])
	}
	be := binary.BigEndian
	s.activeBase = int64(be.Uint64(b[1:]))
	s.position = int64(be.Uint64(b[9:]))
	s.nextOffset = int64(be.Uint64(b[17:]))
	s.epoch = int32(be.Uint32(b[25:]))
	s.clean = b[29] == 1
	s.startOffset = int64(be.Uint64(b[30:]))
	count := be.Uint32(b[38:])
	rest := b[stateHeaderSize:]
	if uint64(len(rest)) < uint64(count)*closedEntrySize || b[0] == 1 && uint64(len(rest)) != uint64(count)*closedEntrySize {
		return s, fmt.Errorf("%w: %d closed segments in %d bytes", ErrBadState, count, len(rest))
	}
	s.closed = make([]closedSegment, count)
	for i := range s.closed {
		e := rest[i*closedEntrySize:]
		s.closed[i] = closedSegment{
			base:         int64(be.Uint64(e)),
			size:         int64(be.Uint64(e[8:])),
			nextOffset:   int64(be.Uint64(e[16:])),
			maxTimestamp: int64(be.Uint64(e[24:])),
		}
	}
	if b[0] >= 2 {
		var err error
		rest = rest[int(count)*closedEntrySize:]
		if s.swap.renamed, rest, err = decodeBases(rest); err == nil {
			s.swap.removed, rest, err = decodeBases(rest)
		}
		if err != nil || b[0] == 2 && len(rest) != 0 {
			return s, fmt.Errorf("%w: bad pending swap", ErrBadState)
		}
		if b[0] == 3 {
			if len(rest) != 1 || rest[0] > 1 {
				return s, fmt.Errorf("%w: bad pending cut", ErrBadState)
			}
			s.cutPending = rest[0] == 1
		}
	}
	if s.position < 0 || s.nextOffset < s.activeBase || s.startOffset < 0 || s.startOffset > s.nextOffset {
		return s, fmt.Errorf("%w: inconsistent fields", ErrBadState)
	}
	return s, nil
}

// decodeBases reads a uint32 count and that many int64 base offsets.
func decodeBases(b []byte) ([]int64, []byte, error) {
	if len(b) < 4 {
		return nil, b, ErrBadState
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(len(b)) < uint64(n)*8 {
		return nil, b, ErrBadState
	}
	var out []int64
	for i := uint32(0); i < n; i++ {
		out = append(out, int64(binary.BigEndian.Uint64(b[i*8:])))
	}
	return out, b[n*8:], nil
}
