package segment

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// benchRecords returns n records with values of size bytes: half random, half repeated, so that compression
// has something to do without being trivial.
func benchRecords(n, size int) []Record {
	rng := rand.New(rand.NewPCG(1, 2))
	records := make([]Record, n)
	for i := range records {
		value := make([]byte, size)
		for j := 0; j < size/2; j++ {
			value[j] = byte(rng.IntN(256))
		}
		copy(value[size/2:], bytes.Repeat([]byte("mqlog "), size))
		records[i] = Record{Timestamp: 1_700_000_000_000 + int64(i), Key: []byte(fmt.Sprintf("key-%06d", i)), Value: value}
	}
	return records
}

func BenchmarkAppendBatch(b *testing.B) {
	for _, codec := range []Compression{CompressionNone, CompressionLZ4, CompressionZstd} {
		for _, size := range []int{100, 1024} {
			for _, n := range []int{1, 16, 256} {
				b.Run(fmt.Sprintf("%v/value=%d/records=%d", codec, size, n), func(b *testing.B) {
					records := benchRecords(n, size)
					var dst []byte
					b.SetBytes(int64(n * size))
					b.ReportAllocs()
					for b.Loop() {
						var err error
						if dst, err = AppendBatch(dst[:0], records, EncodeOptions{Compression: codec}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkAppendBatchOfAppend encodes what DB.Append hands the log: 256 records without keys or headers,
// one timestamp, values of 100 B or 1 KiB (the batch-256 rows of mqlog bench). The crc32 sub-benchmark is
// the CRC-32C of the same frame alone: what encoding costs besides it is the rest.
func BenchmarkAppendBatchOfAppend(b *testing.B) {
	for _, size := range []int{100, 1024} {
		records := make([]Record, 256)
		for i := range records {
			records[i] = Record{Timestamp: 1_700_000_000_000, Value: benchRecords(1, size)[0].Value}
		}
		b.Run(fmt.Sprintf("value=%d/records=256/encode", size), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(256 * size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = AppendBatch(dst[:0], records, EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("value=%d/records=256/crc32", size), func(b *testing.B) {
			frame, err := AppendBatch(nil, records, EncodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(256 * size))
			for b.Loop() {
				crcSink = crc32.Checksum(frame[offAttributes:], crcTable)
			}
		})
	}
}

var crcSink uint32

func BenchmarkDecode(b *testing.B) {
	for _, codec := range []Compression{CompressionNone, CompressionLZ4, CompressionZstd} {
		for _, size := range []int{100, 1024} {
			n := 256
			b.Run(fmt.Sprintf("%v/value=%d/records=%d", codec, size, n), func(b *testing.B) {
				frame, err := AppendBatch(nil, benchRecords(n, size), EncodeOptions{Compression: codec})
				if err != nil {
					b.Fatal(err)
				}
				records := make([]Record, 0, n)
				b.SetBytes(int64(n * size))
				b.ReportAllocs()
				for b.Loop() {
					batch, err := DecodeBatch(frame, Limits{})
					if err != nil {
						b.Fatal(err)
					}
					if records, err = batch.Records(records[:0], false, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkScan(b *testing.B) {
	data, _ := buildSegment(b, 0, 1000, 16, CompressionNone)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Scan(bytes.NewReader(data), 0, int64(len(data)), ScanOptions{NextOffset: 0, Contiguous: true}, nil)
		if err != nil || res.Stop != nil {
			b.Fatal(res.Stop, err)
		}
	}
}
