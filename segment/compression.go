package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression is a batch's codec, with Kafka's ids (attributes bits 0-2). The values are frozen wire format.
type Compression int8

// The codecs.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2 // xerial framing, as Kafka writes it
	CompressionLZ4    Compression = 3 // LZ4 frame format
	CompressionZstd   Compression = 4
)

var compressionNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

// String returns "none", "gzip", "snappy", "lz4" or "zstd" (or "compression(N)" for an unknown id).
func (c Compression) String() string {
	if c >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// valid reports whether c is one of the five codecs.
func (c Compression) valid() bool { return c >= 0 && int(c) < len(compressionNames) }

// ParseCompression returns the codec named s, as String writes it.
func ParseCompression(s string) (Compression, error) {
	for i, name := range compressionNames {
		if s == name {
			return Compression(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown codec %q", ErrCompression, s)
}

// compress appends src compressed with c at level (0 = the codec's default) to dst.
func compress(dst, src []byte, c Compression, level int) ([]byte, error) {
	switch c {
	case CompressionGzip:
		return compressGzip(dst, src, level)
	case CompressionSnappy:
		// xerial.Encode writes its stream header only into an empty dst, so encode into a scratch buffer.
		scratch := getScratch()
		out := xerial.Encode((*scratch)[:0], src)
		dst = append(dst, out...)
		*scratch = out
		putScratch(scratch)
		return dst, nil
	case CompressionLZ4:
		return compressLZ4(dst, src, level)
	case CompressionZstd:
		enc, err := zstdEncoder(level)
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: cannot compress with %v", ErrCompression, c)
}

// decompress returns src decompressed with c into a new buffer of at most limit bytes (else ErrTooLarge).
func decompress(src []byte, c Compression, limit int) ([]byte, error) {
	switch c {
	case CompressionGzip:
		return decompressGzip(src, limit)
	case CompressionSnappy:
		return decompressSnappy(src, limit)
	case CompressionLZ4:
		return decompressLZ4(src, limit)
	case CompressionZstd:
		return decompressZstd(src, limit)
	}
	return nil, fmt.Errorf("%w: codec id %d", ErrCompression, int8(c))
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// scratchPool holds buffers for encoding records before they are compressed.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

// putScratch returns a buffer to the pool unless it grew too big to keep.
func putScratch(b *[]byte) {
	if cap(*b) <= 4<<20 {
		*b = (*b)[:0]
		scratchPool.Put(b)
	}
}

// readAllLimited reads r to its end into a new buffer; more than limit bytes is ErrTooLarge. The buffer starts
// from a size guessed from the compressed size and grows by doubling, so a small hostile input cannot make it
// allocate much before it has produced the bytes.
func readAllLimited(r io.Reader, compressedSize, limit int) ([]byte, error) {
	buf := make([]byte, 0, min(max(4*compressedSize, 512), limit+1))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, errorf(ErrTooLarge, "decompressed batch over %d bytes", limit)
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, errorf(ErrTooLarge, "decompressed batch over %d bytes", limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, err)
		}
	}
}

// --- gzip ---

// gzipWriter is a pooled gzip writer with the output it appends to.
type gzipWriter struct {
	w   *gzip.Writer
	out appendWriter
}

// gzipWriterPools holds gzipWriters by level (index level+2 for levels -2..9).
var gzipWriterPools [12]sync.Pool

func compressGzip(dst, src []byte, level int) ([]byte, error) {
	if level == 0 {
		level = gzip.DefaultCompression
	}
	if level < gzip.HuffmanOnly || level > gzip.BestCompression {
		return dst, fmt.Errorf("%w: gzip level %d", ErrCompression, level)
	}
	pool := &gzipWriterPools[level+2]
	gw, _ := pool.Get().(*gzipWriter)
	if gw == nil {
		gw = &gzipWriter{}
		var err error
		if gw.w, err = gzip.NewWriterLevel(&gw.out, level); err != nil {
			return dst, fmt.Errorf("%w: %v", ErrCompression, err)
		}
	}
	gw.out.b = dst
	gw.w.Reset(&gw.out)
	_, err := gw.w.Write(src)
	if err == nil {
		err = gw.w.Close()
	}
	dst, gw.out.b = gw.out.b, nil
	pool.Put(gw)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCompression, err)
	}
	return dst, nil
}

var gzipReaderPool sync.Pool

func decompressGzip(src []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(src)
	r, _ := gzipReaderPool.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(br)
	} else {
		err = r.Reset(br)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrCompression, err)
	}
	defer gzipReaderPool.Put(r)
	return readAllLimited(r, len(src), limit)
}

// --- snappy (xerial framing, or a raw block as Kafka also accepts) ---

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderSize is the magic plus two int32 versions.
const xerialHeaderSize = 16

// snappyDecodedLen returns the decoded size of a snappy payload, walking the xerial chunks the way
// xerial.DecodeCapped does, without decoding anything. It stops early, with ErrTooLarge, past limit.
func snappyDecodedLen(src []byte, limit int) (int, error) {
	if len(src) < len(xerialMagic) || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return s2.DecodedLen(src)
	}
	if len(src) < xerialHeaderSize {
		return 0, xerial.ErrMalformed
	}
	total := 0
	for pos := xerialHeaderSize; pos+4 <= len(src); {
		size := int(binary.BigEndian.Uint32(src[pos:]))
		pos += 4
		if size > len(src)-pos {
			return 0, xerial.ErrMalformed
		}
		n, err := s2.DecodedLen(src[pos : pos+size])
		if err != nil {
			return 0, err
		}
		total += n
		if total > limit {
			return total, errorf(ErrTooLarge, "decompressed batch over %d bytes", limit)
		}
		pos += size
	}
	return total, nil
}

func decompressSnappy(src []byte, limit int) ([]byte, error) {
	n, err := snappyDecodedLen(src, limit)
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCompression, err)
	}
	if n > limit {
		return nil, errorf(ErrTooLarge, "decompressed batch of %d bytes over %d", n, limit)
	}
	out, err := xerial.DecodeCapped(make([]byte, 0, n), src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCompression, err)
	}
	return out, nil
}

// --- lz4 (frame format) ---

// lz4Writer is a pooled lz4 writer with the output it appends to.
type lz4Writer struct {
	w   *lz4.Writer
	out appendWriter
}

// lz4WriterPools holds lz4Writers by level (0 = Fast, 1..9 = Level1..Level9).
var lz4WriterPools [10]sync.Pool

func compressLZ4(dst, src []byte, level int) ([]byte, error) {
	if level < 0 || level > 9 {
		return dst, fmt.Errorf("%w: lz4 level %d", ErrCompression, level)
	}
	pool := &lz4WriterPools[level]
	lw, _ := pool.Get().(*lz4Writer)
	if lw == nil {
		lw = &lz4Writer{}
		lw.w = lz4.NewWriter(&lw.out)
		lzLevel := lz4.Fast
		if level > 0 {
			lzLevel = lz4.CompressionLevel(1 << (8 + level)) // Level1 = 1<<9 ... Level9 = 1<<17
		}
		// 64 KiB blocks, as Kafka's own writer uses: small buffers for small batches.
		err := lw.w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lzLevel))
		if err != nil {
			return dst, fmt.Errorf("%w: %v", ErrCompression, err)
		}
	}
	lw.out.b = dst
	lw.w.Reset(&lw.out)
	_, err := lw.w.Write(src)
	if err == nil {
		err = lw.w.Close()
	}
	dst, lw.out.b = lw.out.b, nil
	pool.Put(lw)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCompression, err)
	}
	return dst, nil
}

var lz4ReaderPool sync.Pool

func decompressLZ4(src []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(src)
	r, _ := lz4ReaderPool.Get().(*lz4.Reader)
	if r == nil {
		r = lz4.NewReader(br)
	} else {
		r.Reset(br)
	}
	out, err := readAllLimited(r, len(src), limit)
	r.Reset(nil)
	lz4ReaderPool.Put(r)
	return out, err
}

// --- zstd ---

var zstdEncoders struct {
	sync.Mutex
	byLevel map[zstd.EncoderLevel]*zstd.Encoder
}

// zstdEncoder returns the shared encoder of a level; EncodeAll is safe for concurrent use.
func zstdEncoder(level int) (*zstd.Encoder, error) {
	encLevel := zstd.SpeedDefault
	if level != 0 {
		encLevel = zstd.EncoderLevelFromZstd(level)
	}
	zstdEncoders.Lock()
	defer zstdEncoders.Unlock()
	if enc := zstdEncoders.byLevel[encLevel]; enc != nil {
		return enc, nil
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(encLevel), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompression, err)
	}
	if zstdEncoders.byLevel == nil {
		zstdEncoders.byLevel = make(map[zstd.EncoderLevel]*zstd.Encoder)
	}
	zstdEncoders.byLevel[encLevel] = enc
	return enc, nil
}

// zstdDecoders holds shared decoders by memory limit, rounded up to a power of two (and to at least 64 KiB:
// zstd clamps the window to the memory limit, and frames declare windows of 1 KiB and more) so that there are
// few of them; the exact limit is checked on the output. DecodeAll is safe for concurrent use.
var zstdDecoders [64]struct {
	once sync.Once
	dec  *zstd.Decoder
	err  error
}

func zstdDecoder(limit int) (*zstd.Decoder, error) {
	shift := bits.Len64(uint64(limit - 1))
	slot := &zstdDecoders[shift]
	slot.once.Do(func() {
		memory := max(uint64(1)<<shift, 64<<10)
		slot.dec, slot.err = zstd.NewReader(nil,
			zstd.WithDecoderMaxMemory(memory),
			zstd.WithDecoderMaxWindow(max(memory, zstd.MinWindowSize)),
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderLowmem(true))
	})
	return slot.dec, slot.err
}

func decompressZstd(src []byte, limit int) ([]byte, error) {
	dec, err := zstdDecoder(limit)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrCompression, err)
	}
	out, err := dec.DecodeAll(src, nil)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, errorf(ErrTooLarge, "zstd: %v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrCompression, err)
	}
	if len(out) > limit {
		return nil, errorf(ErrTooLarge, "decompressed batch of %d bytes over %d", len(out), limit)
	}
	return out, nil
}
