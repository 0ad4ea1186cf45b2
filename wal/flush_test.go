package wal

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// TestLoneAppendStoresItsEntries checks that an appender leading its own commit stores the sparse index
// entries of that commit before its Append returns, as the flusher goroutine does for the commits it leads:
// the index's last entry, the durable point recovery trusts, never lags behind an acknowledged batch, and
// a lone producer's commits do not wake the flusher goroutine to store them (which took a core from the
// producer at every append: docs/BENCH.md, "Round 5").
func TestLoneAppendStoresItsEntries(t *testing.T) {
	idx := &memIndex{}
	l := openTestLog(t, vfs.NewMem(), idx, 1<<20)
	defer l.Close()
	big := bytes.Repeat([]byte("v"), 300) // each batch passes IndexIntervalBytes (256): an entry per batch
	missing := 0
	for i := range 200 {
		base, err := l.Append([]segment.Record{{Value: big, Timestamp: int64(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if e, ok, err := idx.FloorEntry(base); err != nil || !ok || e.Offset != base {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of 200 appends returned before their commit's index entry was stored", missing)
	}
}
