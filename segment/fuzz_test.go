package segment

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fuzzLimits are the limits of the fuzz targets: small, so that a decompression bomb stops early.
var fuzzLimits = Limits{MaxBatchBytes: 1 << 20, MaxMessageBytes: 1 << 18}

// maxFuzzAlloc bounds what one fuzz input may allocate: a small multiple of its size plus the decompression
// limit and the codecs' fixed buffers (lz4 takes blocks of up to 4 MiB from its pool).
func maxFuzzAlloc(input []byte) uint64 {
	return 16*uint64(len(input)) + 4*uint64(fuzzLimits.MaxBatchBytes) + 8<<20
}

// addSeeds adds every file of testdata/segment and each of its frames as seeds.
func addSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.log"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in %s: %v", goldenDir, err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		_, positions := framePositions(data)
		for _, p := range positions {
			f.Add(data[p:])
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Add(rawFrame(0, 0, 1, rec(0, 0, 2147483647, []byte("k"))))
	// Warm up the shared codec state (the zstd decoder, pools) so that it is not counted against an input.
	for _, codec := range allCodecs[1:] {
		_, _ = decompress(mustCompressF(f, codec, []byte("warm up")), codec, fuzzLimits.MaxBatchBytes)
	}
}

func mustCompressF(f *testing.F, c Compression, b []byte) []byte {
	out, err := compress(nil, b, c, 0)
	if err != nil {
		f.Fatal(err)
	}
	return out
}

func FuzzDecodeBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var records []Record
		var b Batch
		var err error
		allocated := bytesAllocated(func() {
			b, err = DecodeBatch(data, fuzzLimits)
			if err == nil {
				records, err = b.Records(nil, false, fuzzLimits)
			}
		})
		if allocated > maxFuzzAlloc(data) {
			t.Fatalf("%d bytes of input allocated %d bytes", len(data), allocated)
		}
		if err != nil {
			return
		}
		if len(records) != int(b.Header.NumRecords) {
			t.Fatalf("%d records, header says %d", len(records), b.Header.NumRecords)
		}
		for i, r := range records {
			if r.Offset < b.Header.BaseOffset || r.Offset > b.Header.LastOffset() || (i > 0 && r.Offset <= records[i-1].Offset) {
				t.Fatalf("record %d offset %d out of [%d, %d]", i, r.Offset, b.Header.BaseOffset, b.Header.LastOffset())
			}
		}
		if len(records) == 0 {
			return
		}
		// What decodes re-encodes to the same records.
		frame, err := AppendBatch(nil, records, EncodeOptions{BaseOffset: b.Header.BaseOffset, KeepOffsets: true})
		if err != nil {
			return // e.g. timestamps too far apart to re-encode
		}
		again, err := DecodeBatch(frame, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := again.Records(nil, false, Limits{MaxMessageBytes: fuzzLimits.MaxMessageBytes})
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, records)
	})
}

func FuzzScan(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var res ScanResult
		var err error
		opts := ScanOptions{Limits: fuzzLimits, NextOffset: -1}
		allocated := bytesAllocated(func() {
			res, err = Scan(bytes.NewReader(data), 0, int64(len(data)), opts, nil)
		})
		if err != nil {
			t.Fatalf("Scan of a bytes.Reader returned an error: %v", err)
		}
		if allocated > maxFuzzAlloc(data) {
			t.Fatalf("%d bytes of input allocated %d bytes", len(data), allocated)
		}
		if res.ValidEnd < 0 || res.ValidEnd > int64(len(data)) || (res.Stop == nil) != (res.ValidEnd == int64(len(data))) {
			t.Fatalf("result %+v for %d bytes", res, len(data))
		}
		// The valid prefix scans clean, to the same result.
		again, err := Scan(bytes.NewReader(data[:res.ValidEnd]), 0, res.ValidEnd, opts, nil)
		if err != nil || again.Stop != nil || again.Batches != res.Batches || again.LastOffset != res.LastOffset {
			t.Fatalf("rescan of the valid prefix: %+v, %v; first scan %+v", again, err, res)
		}
	})
}

// FuzzFindFrame searches arbitrary bytes for the next valid frame, as recovery and repair do after a bad
// one: no panic, memory bounded by the input and one maximal frame, and a frame found is valid where it
// was found; the check for the trace of lost writes never fails on any range.
func FuzzFindFrame(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := bytes.NewReader(data)
		for from := int64(0); from < int64(len(data)); from += max(1, int64(len(data))/7) {
			pos, h, found, err := FindFrame(r, from, int64(len(data)), FindOptions{Limits: fuzzLimits})
			if err != nil && err != ErrSearchBudget {
				t.Fatalf("from %d: %v", from, err)
			}
			if found {
				b, err := DecodeBatch(data[pos:], fuzzLimits)
				if err != nil || b.Header != h || pos < from {
					t.Fatalf("from %d: found a frame at %d that does not decode there: %v", from, pos, err)
				}
			}
			if _, err := LooksLikeLostWrite(r, from, int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 8*maxFuzzAlloc(data) {
			t.Fatalf("%d bytes allocated for %d of input", n, len(data))
		}
	})
}
