package wal

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// A reader of a log closed under it gets ErrClosed, not ErrOutOfRange ("offset 0 is before the log's first
// segment", which it got before: Close drops the segment list, and the reader took that for an offset
// below the first segment).
func TestReaderOfClosedLog(t *testing.T) {
	l := openTestLog(t, vfs.NewMem(), &memIndex{}, 1<<20)
	if _, err := l.Append([]segment.Record{{Value: []byte("a")}, {Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrClosed) || errors.Is(err, ErrOutOfRange) {
		t.Fatalf("Next on a closed log: %v, want ErrClosed", err)
	}
}
