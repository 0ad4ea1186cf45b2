package segment_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/mqlog/mqlog/segment"
)

func Example() {
	// Encode two batches, as a writer appends them to a segment file.
	var file []byte
	records := []segment.Record{
		{Timestamp: 1_700_000_000_000, Key: []byte("user-1"), Value: []byte("hello")},
		{Timestamp: 1_700_000_000_001, Value: []byte("world")},
	}
	file, _ = segment.AppendBatch(file, records, segment.EncodeOptions{BaseOffset: 0, Epoch: 1})
	file, _ = segment.AppendBatch(file, records, segment.EncodeOptions{BaseOffset: 2, Epoch: 1, Compression: segment.CompressionZstd})

	// Validate it, as recovery does.
	res, _ := segment.Scan(bytes.NewReader(file), 0, int64(len(file)), segment.ScanOptions{NextOffset: 0, Contiguous: true}, nil)
	fmt.Printf("%d batches, offsets %d..%d, clean: %v\n", res.Batches, res.FirstOffset, res.LastOffset, res.Stop == nil)

	// Read it back, batch by batch and record by record.
	r := segment.NewReader(bytes.NewReader(file), segment.FileName(0), 0, int64(len(file)), segment.Limits{})
	for {
		_, b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		recs, err := b.Records(nil, false, segment.Limits{})
		if err != nil {
			panic(err)
		}
		for _, rec := range recs {
			fmt.Printf("%s %d key=%q value=%q\n", b.Header.Compression(), rec.Offset, rec.Key, rec.Value)
		}
	}
	// Output:
	// 2 batches, offsets 0..3, clean: true
	// none 0 key="user-1" value="hello"
	// none 1 key="" value="world"
	// zstd 2 key="user-1" value="hello"
	// zstd 3 key="" value="world"
}
