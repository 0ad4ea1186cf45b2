package segment

import (
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
)

// snappyBlock compresses b as one raw snappy block (no xerial framing).
func snappyBlock(b []byte) []byte { return s2.EncodeSnappy(nil, b) }

func TestCompressionNames(t *testing.T) {
	for i, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		c, err := ParseCompression(name)
		if err != nil || c != Compression(i) || c.String() != name {
			t.Fatalf("%q: %v %v %q", name, c, err, c.String())
		}
	}
	if _, err := ParseCompression("brotli"); !errors.Is(err, ErrCompression) {
		t.Fatalf("err = %v", err)
	}
	if s := Compression(7).String(); s != "compression(7)" {
		t.Fatal(s)
	}
}

func TestDecompressEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		codec Compression
		data  []byte
		limit int
		want  error
	}{
		{"snappy xerial header only", CompressionSnappy, xerialMagic, 100, ErrCompression},
		{"snappy xerial chunk past end", CompressionSnappy, append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1), 100, ErrCompression},
		{"snappy block over limit", CompressionSnappy, snappyBlock(make([]byte, 1000)), 999, ErrTooLarge},
		{"snappy xerial over limit", CompressionSnappy, mustCompress(t, CompressionSnappy, make([]byte, 100_000)), 99_999, ErrTooLarge},
		{"gzip over limit", CompressionGzip, mustCompress(t, CompressionGzip, make([]byte, 1000)), 999, ErrTooLarge},
		{"lz4 over limit", CompressionLZ4, mustCompress(t, CompressionLZ4, make([]byte, 1000)), 999, ErrTooLarge},
		{"zstd over limit", CompressionZstd, mustCompress(t, CompressionZstd, make([]byte, 1000)), 999, ErrTooLarge},
		{"zstd tiny limit", CompressionZstd, mustCompress(t, CompressionZstd, make([]byte, 10)), 10, nil},
		{"gzip exact limit", CompressionGzip, mustCompress(t, CompressionGzip, make([]byte, 1000)), 1000, nil},
		{"lz4 exact limit", CompressionLZ4, mustCompress(t, CompressionLZ4, make([]byte, 1000)), 1000, nil},
		{"truncated gzip", CompressionGzip, mustCompress(t, CompressionGzip, make([]byte, 1000))[:10], 1000, ErrCompression},
		{"truncated zstd", CompressionZstd, mustCompress(t, CompressionZstd, []byte("hello hello hello"))[:8], 1000, ErrCompression},
		{"unknown codec", Compression(6), nil, 1000, ErrCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decompress(tt.data, tt.codec, tt.limit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustCompress(t *testing.T, c Compression, b []byte) []byte {
	t.Helper()
	out, err := compress(nil, b, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCodecsConcurrent(t *testing.T) {
	// The pooled and shared encoders and decoders are safe to use from many goroutines (run with -race).
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				codec := allCodecs[(g+i)%len(allCodecs)]
				records := sampleRecords(10 + i)
				var frame []byte
				if frame, err = AppendBatch(nil, records, EncodeOptions{Compression: codec}); err != nil {
					break
				}
				var b Batch
				if b, err = DecodeBatch(frame, Limits{}); err != nil {
					break
				}
				var got []Record
				if got, err = b.Records(nil, false, Limits{}); err == nil && len(got) != len(records) {
					err = errors.New("wrong record count")
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
