package kafka

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch responses are written without copying their batches into the encoded response. kmsg encodes the
// response with a placeholder in place of each large partition's RecordBatches; the placeholders are then
// cut out of the encoded bytes, and the frame goes out as net.Buffers (one writev on a TCP connection):
// the encoded bytes up to a placeholder, the RecordBatches length prefix (kbin's encoding, as kmsg writes
// it), the stored batches themselves, the encoded bytes after it, and so on. Everything but the batches
// is kmsg's output, and the batches are the bytes kmsg would have copied: TestSplicedFetchMatchesKmsg
// checks the pieces against kmsg's own encoding for every Fetch version.

// spliceMinBytes is the smallest RecordBatches that is written from its own buffer; smaller ones are
// copied into the encoded response (an iovec per few bytes would cost more than the copy).
var spliceMinBytes = 16 << 10

// placeholder is what kmsg encodes in place of a spliced RecordBatches: random bytes, unknown outside the
// process, so that nothing a client names (a topic, say) can be taken for it.
var placeholder = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// recordsField appends the encoding kmsg gives a RecordBatches field of n bytes, without the bytes: the
// length prefix (compact and nullable in flexible versions).
func recordsField(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return kbin.AppendUvarint(dst, uint32(n)+1)
	}
	return kbin.AppendInt32(dst, int32(n))
}

// spliced is a fetch response frame in pieces.
type spliced struct {
	bufs     net.Buffers
	prefixes []byte // the length prefixes the pieces point into
}

// spliceFetch encodes p's fetch response frame into dst (as encode does) with every RecordBatches of at
// least spliceMinBytes left out, and returns the frame as pieces over dst and the batches. ok is false
// when there is nothing to splice or the placeholder was not found where expected (then nothing is
// spliced: the caller encodes as usual).
func (c *conn) spliceFetch(dst []byte, p *pending, resp *kmsg.FetchResponse) (out spliced, enc []byte, ok bool) {
	var parts []*[]byte
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			if rb := &t.Partitions[j].RecordBatches; len(*rb) >= spliceMinBytes {
				parts = append(parts, rb)
			}
		}
	}
	if len(parts) == 0 {
		return spliced{}, dst, false
	}
	batches := make([][]byte, len(parts))
	for i, rb := range parts {
		batches[i], *rb = *rb, placeholder
	}
	start := len(dst)
	dst = c.encode(dst, p)
	for i, rb := range parts {
		*rb = batches[i]
	}
	flexible := resp.IsFlexible()
	field := recordsField(nil, len(placeholder), flexible)
	field = append(field, placeholder...)

	out.prefixes = make([]byte, 0, 5*len(parts))
	out.bufs = make(net.Buffers, 0, 3*len(parts)+1)
	size := len(dst) - start - 4
	at := start
	for _, b := range batches {
		i := bytes.Index(dst[at:], field)
		if i < 0 {
			return spliced{}, dst, false
		}
		from := len(out.prefixes)
		out.prefixes = recordsField(out.prefixes, len(b), flexible)
		prefix := out.prefixes[from:len(out.prefixes):len(out.prefixes)]
		out.bufs = append(out.bufs, dst[at:at+i], prefix, b)
		size += len(prefix) + len(b) - len(field)
		at += i + len(field)
	}
	out.bufs = append(out.bufs, dst[at:])
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return out, dst, true
}
