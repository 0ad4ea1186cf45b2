package segment

import (
	"bytes"
	"io"
)

// readAhead is how much Reader reads at a time when frames are smaller.
const readAhead = 64 << 10

// Reader iterates the verified batches of one segment file, from a byte position up to a readable end. Reads
// are buffered: one ReadAt fetches readAhead bytes, or as many as the last frame read held when that is
// more (so that a log of large batches reads each with one ReadAt, from its header on, and moves no
// bytes within the buffer), or a whole frame, if larger; not one per batch, and the buffer never exceeds
// max(readAhead, MaxBatchBytes). A Reader is not safe for concurrent use.
type Reader struct {
	file   io.ReaderAt
	path   string
	end    int64
	limits Limits

	pos      int64  // position of the next frame
	buf      []byte // file bytes from bufStart; Frame of the last batch aliases it
	bufStart int64
	// lastFrame is the size of the last frame Next returned (at most MaxBatchBytes): fill reads at least
	// that much, since the next frame is likely about as large.
	lastFrame int
	// whole says buf is the whole file (NewBytesReader, e.g. a read-only mapping): never read into or
	// used as scratch.
	whole bool
}

// NewReader returns a Reader of r from byte pos up to byte end. end is the readable end: for a file being
// written, the durable or written end known to the writer (the bytes past it may be half written or
// preallocated zeros); otherwise the file size. path only names the file in errors.
func NewReader(r io.ReaderAt, path string, pos, end int64, limits Limits) *Reader {
	return &Reader{file: r, path: path, end: end, limits: limits, pos: pos, bufStart: pos}
}

// NewBytesReader returns a Reader of data, which holds a whole file's bytes (a read-only mapping of a
// segment, say), from byte pos up to byte end (at most len(data)). It reads nothing and copies nothing:
// Batch.Frame aliases data, and data is never written to.
func NewBytesReader(data []byte, path string, pos, end int64, limits Limits) *Reader {
	data = data[:min(end, int64(len(data)))]
	return &Reader{file: bytes.NewReader(data), path: path, end: int64(len(data)), limits: limits,
		pos: pos, buf: data, whole: true}
}

// Next returns the next batch, verified (see DecodeBatch), and its byte position.
//
// At exactly end it returns io.EOF. A frame that reaches end before it is complete returns
// io.ErrUnexpectedEOF: a tail still being written, which a follower retries after SetEnd. Any invalid frame
// returns a *CorruptionError whose Offset is the frame's position and whose Err wraps a sentinel. A frame
// that starts with 12 zero bytes (baseOffset and length 0) is ErrZeroTail when everything from it up to end is
// zero bytes (preallocated space; checking that reads the rest of the range in chunks), else ErrBadLength.
// Fewer than 12 zero bytes before end are an incomplete frame (a baseOffset starts with zero bytes). No error is sticky and none moves the position: calling Next again retries.
//
// The returned Batch.Frame aliases the Reader's buffer and is valid until the next call to Next.
func (r *Reader) Next() (pos int64, b Batch, err error) {
	pos = r.pos
	if pos >= r.end {
		return pos, Batch{}, io.EOF
	}
	remaining := r.end - pos
	data, err := r.fill(int(min(HeaderSize, remaining)))
	if err != nil {
		return pos, Batch{}, err
	}
	if len(data) == 0 {
		return pos, Batch{}, io.ErrUnexpectedEOF // the file is shorter than end
	}
	prefix := data[:min(len(data), HeaderSize)]
	if len(prefix) >= lengthFieldEnd && isZero(prefix[:lengthFieldEnd]) {
		return pos, Batch{}, r.zeroTailError(pos)
	}
	if err := checkPrefix(prefix, r.limits); err != nil {
		return pos, Batch{}, r.corrupt(pos, err)
	}
	if len(prefix) < HeaderSize {
		return pos, Batch{}, io.ErrUnexpectedEOF
	}
	h, err := ParseHeaderLimits(prefix, r.limits)
	if err != nil {
		return pos, Batch{}, r.corrupt(pos, err)
	}
	size := h.FrameSize()
	if size > remaining {
		return pos, Batch{}, io.ErrUnexpectedEOF
	}
	if data, err = r.fill(int(size)); err != nil {
		return pos, Batch{}, err
	}
	if int64(len(data)) < size {
		return pos, Batch{}, io.ErrUnexpectedEOF // the file is shorter than end
	}
	b, err = DecodeBatch(data[:size], r.limits)
	if err != nil {
		return pos, Batch{}, r.corrupt(pos, err)
	}
	r.pos += size
	r.lastFrame = int(size)
	return pos, b, nil
}

// Pos returns the position after the last batch returned by Next (the start position before the first).
func (r *Reader) Pos() int64 { return r.pos }

// End returns the readable end.
func (r *Reader) End() int64 { return r.end }

// SetEnd moves the readable end, for a follower of a file that grows.
func (r *Reader) SetEnd(end int64) { r.end = end }

func (r *Reader) corrupt(pos int64, err error) error {
	return &CorruptionError{Path: r.path, Offset: pos, Err: err}
}

// fill makes the buffer hold the file's bytes from r.pos, at least need of them (need <= end-pos) unless the
// file ends first, and returns them. It reads ahead up to max(readAhead, the last frame's size) bytes, never
// past end.
func (r *Reader) fill(need int) ([]byte, error) {
	off := int(r.pos - r.bufStart)
	if r.whole {
		return r.buf[min(off, len(r.buf)):], nil // (shorter than need only past the data's end)
	}
	if off < 0 || off > len(r.buf) {
		r.buf, r.bufStart, off = r.buf[:0], r.pos, 0
	}
	if len(r.buf)-off >= need {
		return r.buf[off:], nil
	}
	want := int(min(int64(max(need, readAhead, r.lastFrame)), r.end-r.pos))
	have := len(r.buf) - off // keep what is buffered already, moved to the front
	if off > 0 {
		copy(r.buf, r.buf[off:])
	}
	if cap(r.buf) < want {
		grown := make([]byte, want)
		copy(grown, r.buf[:have])
		r.buf = grown
	}
	r.buf, r.bufStart = r.buf[:want], r.pos
	n, err := r.file.ReadAt(r.buf[have:want], r.pos+int64(have))
	r.buf = r.buf[:have+n]
	if err != nil && err != io.EOF && have+n < need {
		return nil, err
	}
	return r.buf, nil
}

// zeroTailError reports the frame at pos, which starts with zero bytes: ErrZeroTail if [pos, end) is all
// zero, else ErrBadLength (a zero length field).
func (r *Reader) zeroTailError(pos int64) error {
	if r.whole {
		if isZero(r.buf[pos:r.end]) {
			return r.corrupt(pos, ErrZeroTail)
		}
		return r.corrupt(pos, errorf(ErrBadLength, "zero length"))
	}
	zero, err := isZeroRange(r.file, pos, r.end, r.buf[:cap(r.buf)])
	r.buf, r.bufStart = r.buf[:0], r.pos // the buffer was used as scratch
	if err != nil {
		return err
	}
	if zero {
		return r.corrupt(pos, ErrZeroTail)
	}
	return r.corrupt(pos, errorf(ErrBadLength, "zero length"))
}

// isZero reports whether b is all zero bytes.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// isZeroRange reports whether the bytes of f in [from, to) are all zero, reading in chunks into scratch (or a
// new buffer of at most readAhead bytes if scratch is smaller). Bytes past the end of the file count as zero.
func isZeroRange(f io.ReaderAt, from, to int64, scratch []byte) (bool, error) {
	if int64(len(scratch)) < min(readAhead, to-from) {
		scratch = make([]byte, min(readAhead, to-from))
	}
	for from < to {
		chunk := scratch[:min(int64(len(scratch)), to-from)]
		n, err := f.ReadAt(chunk, from)
		if !isZero(chunk[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		from += int64(n)
	}
	return true, nil
}
