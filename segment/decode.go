package segment

import (
	"bytes"
	"hash/crc32"
	"slices"
)

// minRecordSize is the smallest encoded record: a length varint and six one-byte fields (attributes,
// timestampDelta, offsetDelta, keyLength, valueLength, headers count).
const minRecordSize = 7

// minHeaderSize is the smallest encoded record header: key length and value length varints.
const minHeaderSize = 2

// Batch is one verified frame: its header parsed and its CRC checked. Frame aliases the caller's buffer.
type Batch struct {
	// Header is the frame's parsed header.
	Header BatchHeader
	// Frame is exactly the frame's bytes, header included.
	Frame []byte
}

// DecodeBatch parses the header at frame[0:], checks the length against len(frame) (ErrTruncated) and limits
// (ErrBadLength), verifies the CRC (ErrBadCRC) and the header fields it covers, and returns the Batch, whose
// Frame is exactly the frame's bytes (bytes after it in frame are not looked at). Errors wrap a sentinel.
func DecodeBatch(frame []byte, limits Limits) (Batch, error) {
	h, err := ParseHeaderLimits(frame, limits)
	if err != nil {
		return Batch{}, err
	}
	size := h.FrameSize()
	if size > int64(len(frame)) {
		return Batch{}, errorf(ErrTruncated, "frame of %d bytes, %d there", size, len(frame))
	}
	frame = frame[:size:size]
	if crc := crc32.Checksum(frame[offAttributes:], crcTable); crc != h.CRC {
		return Batch{}, errorf(ErrBadCRC, "stored %#08x, computed %#08x", h.CRC, crc)
	}
	if err := checkHeaderFields(&h); err != nil {
		return Batch{}, err
	}
	return Batch{Header: h, Frame: frame}, nil
}

// Records decodes the batch's records and appends them to dst. For an uncompressed batch, Key, Value and
// header values alias b.Frame (no copy) unless copy is true, in which case they alias one new buffer; for a
// compressed batch they alias a freshly decompressed buffer of at most limits.MaxBatchBytes (else
// ErrTooLarge). Every length and count is checked against the remaining bytes before anything is allocated;
// the number of records must be the header's NumRecords, each record must consume exactly its length, and
// record offsets must lie in [BaseOffset, LastOffset] and strictly increase (ErrBadOffset). A record whose
// key plus value exceeds limits.MaxMessageBytes is ErrTooLarge. On error dst is returned at its original
// length.
func (b *Batch) Records(dst []Record, copy bool, limits Limits) ([]Record, error) {
	h := &b.Header
	if len(b.Frame) < HeaderSize || int64(len(b.Frame)) != h.FrameSize() {
		return dst, errorf(ErrTruncated, "frame of %d bytes, header says %d", len(b.Frame), h.FrameSize())
	}
	data := b.Frame[HeaderSize:]
	switch c := h.Compression(); {
	case !c.valid():
		return dst, errorf(ErrCompression, "codec id %d", int8(c))
	case c != CompressionNone:
		var err error
		if data, err = decompress(data, c, limits.maxBatch()); err != nil {
			return dst, err
		}
	case copy:
		data = bytes.Clone(data)
	}
	n := int(h.NumRecords)
	if n < 0 || n > len(data)/minRecordSize {
		return dst, errorf(ErrBadRecord, "%d records in %d bytes", h.NumRecords, len(data))
	}
	orig := len(dst)
	dst = slices.Grow(dst, n)
	d := recordDecoder{header: h, maxMessage: limits.maxMessage(), prevDelta: -1}
	for i := 0; i < n; i++ {
		length, k := readVarint32(data)
		if k <= 0 || length < 0 || int(length) > len(data)-k {
			return dst[:orig], errorf(ErrBadRecord, "record %d: bad length", i)
		}
		var r Record
		if err := d.decode(data[k:k+int(length)], &r); err != nil {
			return dst[:orig], errorf(err, "record %d", i)
		}
		dst = append(dst, r)
		data = data[k+int(length):]
	}
	if len(data) != 0 {
		return dst[:orig], errorf(ErrBadRecord, "%d bytes after the last record", len(data))
	}
	return dst, nil
}

// recordDecoder decodes the records of one batch in order.
type recordDecoder struct {
	header     *BatchHeader
	maxMessage int
	prevDelta  int64 // offset delta of the previous record, -1 before the first
}

// decode decodes the body of one record (after its length varint), which it must consume exactly. It returns
// a sentinel (not wrapped) on error.
func (d *recordDecoder) decode(body []byte, r *Record) error {
	if len(body) < 1 {
		return ErrBadRecord
	}
	pos := 1 // attributes: unused
	timestampDelta, k := readVarint64(body[pos:])
	if k <= 0 {
		return ErrBadRecord
	}
	pos += k
	delta, k := readVarint32(body[pos:])
	if k <= 0 {
		return ErrBadRecord
	}
	pos += k
	if int64(delta) <= d.prevDelta || delta > d.header.LastOffsetDelta {
		return ErrBadOffset
	}
	d.prevDelta = int64(delta)
	r.Offset = d.header.BaseOffset + int64(delta)
	if d.header.Attributes&attrTimestampType != 0 {
		r.Timestamp = d.header.MaxTimestamp // LogAppendTime
	} else {
		r.Timestamp = d.header.BaseTimestamp + timestampDelta
	}
	var ok bool
	if r.Key, pos, ok = readBytes(body, pos); !ok {
		return ErrBadRecord
	}
	if r.Value, pos, ok = readBytes(body, pos); !ok {
		return ErrBadRecord
	}
	if len(r.Key)+len(r.Value) > d.maxMessage {
		return ErrTooLarge
	}
	count, k := readVarint32(body[pos:])
	if k <= 0 || count < 0 || int(count) > (len(body)-pos-k)/minHeaderSize {
		return ErrBadRecord
	}
	pos += k
	if count > 0 {
		r.Headers = make([]RecordHeader, count)
		for i := range r.Headers {
			var key []byte
			if key, pos, ok = readBytes(body, pos); !ok || key == nil {
				return ErrBadRecord // a header key is never null
			}
			r.Headers[i].Key = string(key)
			if r.Headers[i].Value, pos, ok = readBytes(body, pos); !ok {
				return ErrBadRecord
			}
		}
	}
	if pos != len(body) {
		return ErrBadRecord
	}
	return nil
}

// readBytes reads a nullable byte string at body[pos:]: a varint length (-1 = nil) and the bytes, which alias
// body with their capacity cut to their length. It returns the position after it.
func readBytes(body []byte, pos int) ([]byte, int, bool) {
	n, k := readVarint32(body[pos:])
	if k <= 0 || n < -1 {
		return nil, pos, false
	}
	pos += k
	if n == -1 {
		return nil, pos, true
	}
	if int(n) > len(body)-pos {
		return nil, pos, false
	}
	end := pos + int(n)
	return body[pos:end:end], end, true
}
