package wal

import (
	"errors"
	"io"
	"slices"
	"sync"
	"unsafe"

	"github.com/mqlog/mqlog/segment"
)

// bulkChunk bounds one bulk read: the frames are verified right after it, while they are in the CPU's
// cache (one read of megabytes would send them to memory before their CRCs are computed).
var bulkChunk = 512 << 10

// AppendFrames appends to dst the stored frames from the one that holds the reader's offset, as NextBatch
// returns them (verified, CRC and header, not decoded), up to maxBytes of them in all (the first whole even
// when it is larger), and moves the reader past the last one appended. At the high watermark it appends
// nothing and returns io.EOF; an error after frames were appended is returned with them.
//
// It is NextBatch in bulk, for a Kafka fetch: after the first frame, the frames that follow it in the same
// segment are read with a ReadAt per bulkChunk straight into dst's spare capacity (grown to the bytes
// wanted) and verified where they landed, instead of being read into the reader's buffer and copied out
// one by one. A frame whose header the bulk read has and that would pass maxBytes ends the call unread (it is checked
// by the read that starts at it). Anything else the bulk read does not take as it is (a frame cut by the
// readable end, one at or past the high watermark, one that does not verify, the end of the segment) is
// left to NextBatch, which reads it, moves to the next segment or reports the damage as every read does.
func (r *Reader) AppendFrames(dst []byte, maxBytes int) ([]byte, error) {
	start := len(dst)
	for len(dst)-start < maxBytes {
		if len(dst) > start {
			room := maxBytes - (len(dst) - start)
			if room <= segment.HeaderSize {
				break // no frame fits
			}
			var n int
			var full bool
			if dst, n, full = r.bulkFrames(dst, room); full {
				break // the next frame does not fit: no need to read it
			} else if n > 0 {
				continue
			}
		}
		b, err := r.NextBatch()
		if errors.Is(err, io.EOF) && len(dst) > start {
			break
		}
		if err != nil {
			return dst, err
		}
		if len(dst) > start && len(dst)-start+len(b.Frame) > maxBytes {
			// (The one frame read past the limit: the reader goes back before it.)
			return dst, r.SetOffset(b.Header.BaseOffset)
		}
		dst = append(dst, b.Frame...)
	}
	return dst, nil
}

// bulkFrames reads the frames that follow the reader's position in its segment, up to room bytes, into
// dst's spare capacity, keeps the whole ones that verify and lie below the high watermark, and returns dst
// with them and their byte count (0: nothing taken; NextBatch goes on from the same place). full reports
// that the frame after them, below the high watermark and within the segment's readable bytes, is larger
// than what is left of room: the read is complete (that frame is read, and checked, by the next read
// that starts at it).
func (r *Reader) bulkFrames(dst []byte, room int) (_ []byte, taken int, full bool) {
	seg, sr := r.seg, r.sr
	if sr == nil || seg == nil || len(r.batch) > r.i || room < segment.HeaderSize || !seg.acquire() {
		return dst, 0, false
	}
	defer seg.release()
	if seg.retired.Load() {
		return dst, 0, false
	}
	pos := sr.Pos()
	readable := int(min(int64(room), seg.readableEnd.Load()-pos))
	want := min(readable, bulkChunk)
	if want < segment.HeaderSize {
		return dst, 0, false
	}
	dst = slices.Grow(dst, want)
	buf := dst[len(dst) : len(dst)+want]
	n, _ := r.readAt(seg, buf, pos) // (a short read keeps what it read; NextBatch reports the failure)
	if n < segment.HeaderSize {
		return dst, 0, false
	}
	limits, hw := r.log.opts.Limits, r.log.HighWatermark()
	if h, err := segment.ParseHeaderLimits(buf, limits); err == nil && h.FrameSize() > int64(n) && h.FrameSize() <= int64(readable) {
		// A frame larger than a chunk: read it whole.
		want = int(h.FrameSize())
		dst = slices.Grow(dst, want)
		buf = dst[len(dst) : len(dst)+want]
		if n, _ = r.readAt(seg, buf, pos); n < segment.HeaderSize {
			return dst, 0, false
		}
	}
	buf = buf[:n]
	for len(buf)-taken >= segment.HeaderSize {
		frame := buf[taken:]
		h, err := segment.ParseHeaderLimits(frame, limits)
		if err != nil || h.BaseOffset >= hw {
			break
		}
		if size := h.FrameSize(); size > int64(len(frame)) {
			// Cut by the chunk (the next call reads it), or past room: then the read is complete.
			full = size > int64(room-taken) && int64(taken)+size <= int64(seg.readableEnd.Load()-pos)
			break
		}
		if _, err := segment.DecodeBatch(frame[:h.FrameSize()], limits); err != nil {
			break
		}
		if r.checkOffsets(pos+int64(taken), &h) != nil {
			break
		}
		taken += int(h.FrameSize())
		r.next = h.LastOffset() + 1
	}
	if taken > 0 {
		r.sr = r.newSegmentReader(seg, pos+int64(taken))
	}
	return dst[:len(dst)+taken], taken, full
}

// readAt reads seg's bytes at pos into buf: copied from its mapping when the reader reads one (a fault
// there is the error), else with ReadAt. The caller holds a reference on seg.
func (r *Reader) readAt(seg *segmentFile, buf []byte, pos int64) (n int, err error) {
	data := r.useMapping(seg)
	if data == nil || pos >= int64(len(data)) {
		return seg.ReadAt(buf, pos)
	}
	err = guardMapped(seg, func() error {
		n = copy(buf, data[pos:])
		return nil
	})
	if err == nil && n < len(buf) {
		err = io.EOF
	}
	return n, err
}

// ViewFrames returns the stored frames from the one that holds the reader's offset, verified as
// AppendFrames verifies them, up to maxBytes of them (the first whole even when it is larger), as a
// read-only view of their segment's mapping instead of a copy: the frames of one segment only, so a
// call may return fewer bytes than AppendFrames would. The view stays valid until release is called,
// which the caller must do once (the segment stays mapped and open until then, even if retention deletes
// it); a file truncated under the view (by another process) can make a system call given it fail with
// EFAULT. The reader moves past the last frame returned.
//
// When the segment holding the offset is not read through a mapping (mmap.go), it returns a nil view
// and a nil error, and the reader does not move: read with AppendFrames instead. At the high watermark it
// returns io.EOF.
func (r *Reader) ViewFrames(maxBytes int) (frames []byte, release func(), err error) {
	from := r.next
	if from >= r.log.HighWatermark() {
		return nil, nil, io.EOF
	}
	seg, _ := r.log.segmentFor(from)
	if seg == nil || !seg.acquire() {
		return nil, nil, nil
	}
	r.viewing = true
	defer func() {
		if r.viewing = false; r.sr != nil && r.mapped && r.useMapping(r.seg) == nil {
			r.sr = r.newSegmentReader(r.seg, r.sr.Pos()) // (back on pread for the reads after)
		}
	}()
	data := r.useMapping(seg)
	if data == nil {
		seg.release()
		return nil, nil, nil
	}
	b, err := r.NextBatch()
	if err != nil {
		seg.release()
		return nil, nil, err
	}
	start, ok := offsetIn(data, b.Frame)
	if !ok || r.seg != seg {
		// (Not from this segment's mapping after all: a retirement raced the read.)
		seg.release()
		return nil, nil, r.SetOffset(from)
	}
	end := start + len(b.Frame)
	err = guardMapped(seg, func() error {
		end = r.viewMore(seg, data, end, start+maxBytes)
		return nil
	})
	if err != nil {
		seg.release()
		return nil, nil, r.SetOffset(from)
	}
	var once sync.Once
	return data[start:end:end], func() { once.Do(func() { seg.release() }) }, nil
}

// viewMore extends a view of seg's mapping that ends at byte end (after a frame NextBatch returned, the
// reader's position) with the verified frames after it, below limit, the high watermark and the segment's
// readable end, and returns the view's new end; the reader moves past them. Reads of data run under
// guardMapped.
func (r *Reader) viewMore(seg *segmentFile, data []byte, end, limit int) int {
	limits, hw := r.log.opts.Limits, r.log.HighWatermark()
	readable := int(min(seg.readableEnd.Load(), int64(len(data))))
	pos := end
	for pos+segment.HeaderSize <= min(readable, limit) {
		h, err := segment.ParseHeaderLimits(data[pos:], limits)
		if err != nil || h.BaseOffset >= hw {
			break
		}
		size := int(h.FrameSize())
		if pos+size > readable || pos+size > limit {
			break
		}
		if _, err := segment.DecodeBatch(data[pos:pos+size], limits); err != nil {
			break // (NextBatch reports it, at the next read)
		}
		if r.checkOffsets(int64(pos), &h) != nil {
			break
		}
		pos += size
		r.next = h.LastOffset() + 1
	}
	if pos > end {
		r.sr = r.newSegmentReader(seg, int64(pos))
		r.batch, r.i = r.batch[:0], 0
	}
	return pos
}

// offsetIn returns the position of part within data, when part is a slice of data's array.
func offsetIn(data, part []byte) (int, bool) {
	if len(data) == 0 || len(part) == 0 {
		return 0, false
	}
	d, p := uintptr(unsafe.Pointer(&data[0])), uintptr(unsafe.Pointer(&part[0]))
	if p < d || p+uintptr(len(part)) > d+uintptr(len(data)) {
		return 0, false
	}
	return int(p - d), true
}
