package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// ErrSearchBudget is returned by FindFrame when it checksummed its budget of candidate frames without
// reaching a decision: the bytes searched are too hostile to tell whether a valid frame follows.
var ErrSearchBudget = errors.New("mqlog/segment: frame search over budget")

// FindOptions configure FindFrame.
type FindOptions struct {
	// Limits bound frame sizes.
	Limits Limits
	// Accept, when set, is asked about each header that passed the cheap checks (magic, length) before its
	// CRC is computed; only frames it accepts are found. Callers use it for the offsets and the epoch a
	// following frame must have.
	Accept func(h *BatchHeader) bool
	// MaxCRCBytes bounds the bytes checksummed over rejected candidates; 0 means four times the searched
	// range plus one maximal frame. Over the budget FindFrame returns ErrSearchBudget.
	MaxCRCBytes int64
	// StopAtZeroSector ends the search at the first whole sector (LostWriteSector bytes, aligned) of zeros:
	// a frame after it would be past the trace of a lost write (LooksLikeLostWrite), so looking further is
	// moot — and a preallocated file's zeros are not read to its end.
	StopAtZeroSector bool
}

// FindFrame looks in r for the first byte position in [from, end) where a valid frame starts: its magic
// is 2, its length is within Limits and within end, Accept (if set) accepts its header, and its CRC and the
// header fields it covers are right. It is how recovery and repair tell damage (a bad frame followed by
// valid ones) from a torn write (nothing valid after it), and where repair resumes after damaged bytes.
//
// Memory is bounded by one read buffer and one maximal frame; work by the budget (FindOptions.MaxCRCBytes).
// found is false when no such frame starts before end; err is an I/O error or ErrSearchBudget.
func FindFrame(r io.ReaderAt, from, end int64, opts FindOptions) (pos int64, h BatchHeader, found bool, err error) {
	if from < 0 || end-from < HeaderSize {
		return 0, BatchHeader{}, false, nil
	}
	budget := opts.MaxCRCBytes
	if budget <= 0 {
		budget = 4*(end-from) + int64(opts.Limits.maxBatch())
	}
	buf := make([]byte, readAhead+HeaderSize)
	var frame []byte
	for chunk := from; chunk+HeaderSize <= end; chunk += readAhead {
		n := int(min(int64(len(buf)), end-chunk))
		m, rerr := r.ReadAt(buf[:n], chunk)
		if m < n {
			if rerr == nil || rerr == io.EOF {
				n = m // the file is shorter than end
			} else {
				return 0, BatchHeader{}, false, rerr
			}
		}
		limit, stop := min(n, readAhead), false // candidates start before limit
		if opts.StopAtZeroSector {
			if z := zeroSector(buf[:n], chunk); z >= 0 && z < limit {
				limit, stop = z, true
			}
		}
		for i := 0; i+HeaderSize <= n && i < limit; i++ {
			// Jump to the next byte that can be a magic byte (memchr speed over zeros and text).
			j := bytes.IndexByte(buf[i+offMagic:min(n, limit+offMagic)], Magic)
			if j < 0 {
				break
			}
			i += j
			if i+HeaderSize > n {
				break
			}
			b := buf[i : i+HeaderSize]
			length := int64(int32(binary.BigEndian.Uint32(b[offLength:])))
			size := lengthFieldEnd + length
			p := chunk + int64(i)
			if length < minLength || size > int64(opts.Limits.maxBatch()) || p+size > end {
				continue
			}
			hdr, err := ParseHeaderLimits(b, opts.Limits)
			if err != nil || (opts.Accept != nil && !opts.Accept(&hdr)) {
				continue
			}
			if cap(frame) < int(size) {
				frame = make([]byte, size)
			}
			frame = frame[:size]
			if k, err := r.ReadAt(frame, p); int64(k) < size {
				if err != nil && err != io.EOF {
					return 0, BatchHeader{}, false, err
				}
				continue
			}
			if batch, err := DecodeBatch(frame, opts.Limits); err == nil {
				return p, batch.Header, true, nil
			}
			if budget -= size; budget < 0 {
				return 0, BatchHeader{}, false, ErrSearchBudget
			}
		}
		if stop || n < len(buf) {
			break // a zeroed sector, or the end of the file or of the range
		}
	}
	return 0, BatchHeader{}, false, nil
}

// zeroSector returns the index in b (whose first byte is at file position at) of the first whole aligned
// sector of zeros, or -1.
func zeroSector(b []byte, at int64) int {
	first := int((LostWriteSector - at%LostWriteSector) % LostWriteSector)
	for s := first; s+LostWriteSector <= len(b); s += LostWriteSector {
		if isZero(b[s : s+LostWriteSector]) {
			return s
		}
	}
	return -1
}

// LostWriteSector is the granularity at which a crash loses unsynced writes: a disk sector. A lost sector of
// a file region that was preallocated or past the file's end reads as zeros.
const LostWriteSector = 512

// LooksLikeLostWrite reports whether the bytes of r in [from, to) show the trace that lost unsynced writes
// leave, as opposed to damage to written bytes: a frame header that is all zeros (12 zero bytes at from),
// a whole zeroed sector, or zeros from from up to a sector boundary (a lost sector holding the start of
// the frame). A bit flip leaves none of these unless the data itself holds such zeros. It reads at most
// to-from bytes, in chunks.
func LooksLikeLostWrite(r io.ReaderAt, from, to int64) (bool, error) {
	if to <= from {
		return false, nil
	}
	buf := make([]byte, min(to-from, readAhead))
	zeroFrom := from // start of the current run of zero bytes
	for off := from; off < to; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), to-off)], off)
		for i := 0; i < n; i++ {
			p := off + int64(i)
			if buf[i] != 0 {
				zeroFrom = p + 1
				continue
			}
			run := p + 1 - zeroFrom
			switch {
			case zeroFrom == from && run >= lengthFieldEnd:
				return true, nil // a zeroed header: baseOffset and length 0
			case (p+1)%LostWriteSector == 0 && run >= LostWriteSector:
				return true, nil // a whole zeroed sector
			case (p+1)%LostWriteSector == 0 && zeroFrom == from && run >= 6:
				return true, nil // the frame starts in a lost sector's last bytes
			}
		}
		off += int64(n)
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}
