package mqlog_test

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"testing"

	"github.com/mqlog/mqlog"
)

// Every ReadMmap policy reads the same records of a log of several segments, with Read and ReadNoCopy,
// after a reopen and while appends go on.
func TestReadMmapPolicies(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("m", mqlog.TopicConfig{Partitions: 1, SegmentBytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	value := func(i int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'x'}, 300), "%d", i) }
	appendN := func(db *mqlog.DB, from, n int) {
		for i := from; i < from+n; i++ {
			if _, err := db.Append(context.Background(), "m", mqlog.Message{Value: value(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(db, 0, 600)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	total := 600
	for _, policy := range []mqlog.MmapPolicy{mqlog.MmapAll, mqlog.MmapViews, mqlog.MmapOff} {
		db, err := mqlog.Open(dir, &mqlog.Options{ReadMmap: policy})
		if err != nil {
			t.Fatal(err)
		}
		appendN(db, total, 50)
		total += 50
		for _, read := range []func(string, int32, int64) iter.Seq2[mqlog.Record, error]{db.Read, db.ReadNoCopy} {
			n := 0
			for rec, err := range read("m", 0, 0) {
				if err != nil {
					t.Fatalf("%v: %v", policy, err)
				}
				if rec.Offset != int64(n) || !bytes.Equal(rec.Value, value(n)) {
					t.Fatalf("%v: record %d at offset %d: %.20q", policy, n, rec.Offset, rec.Value)
				}
				n++
			}
			if n != total {
				t.Fatalf("%v: read %d records, want %d", policy, n, total)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
