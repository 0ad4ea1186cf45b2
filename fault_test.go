package mqlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestFailStop is TESTING.md item 6: an error injected into the k-th write, fsync or directory fsync of a
// partition's files makes that Append fail and every later Append return the same sticky error; after a
// crash and reopen, every acknowledged message is there.
func TestFailStop(t *testing.T) {
	const messages = 30
	for k := int64(1); ; k++ {
		mem := vfs.NewCrashableMem()
		var ops atomic.Int64
		armed := atomic.Bool{}
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || !bytes.Contains([]byte(op.Path), []byte(TopicsDirName)) {
				return nil
			}
			if ops.Add(1) == k {
				return errorfs.ErrInjected
			}
			return nil
		}))
		db, err := Open(crashDir, &Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
			t.Fatal(err)
		}
		armed.Store(true)
		acked := 0
		var sticky error
		for i := range messages {
			_, err := db.Append(context.Background(), "t", Message{Value: crashValue(i)})
			if err == nil {
				if sticky != nil {
					t.Fatalf("k=%d: append %d succeeded after the sticky error %v", k, i, sticky)
				}
				acked++
				continue
			}
			if !errors.Is(err, ErrFailStop) || !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("k=%d: append %d: %v, want ErrFailStop wrapping the injected error", k, i, err)
			}
			if sticky != nil && err.Error() != sticky.Error() {
				t.Fatalf("k=%d: later append returned %v, want the sticky %v", k, err, sticky)
			}
			sticky = err
		}
		db.Close()
		if sticky == nil {
			t.Logf("injected at %d write operations, one at each", k-1)
			return
		}
		img := mem.CrashClone(vfs.CrashCloneCfg{})
		db, err = Open(crashDir, &Options{FS: img})
		if err != nil {
			t.Fatalf("k=%d: reopen: %v", k, err)
		}
		got := 0
		for rec, err := range db.Read("t", 0, 0) {
			if err != nil {
				t.Fatalf("k=%d: read: %v", k, err)
			}
			if !bytes.Equal(rec.Value, crashValue(got)) {
				t.Fatalf("k=%d: record %d = %q", k, got, rec.Value)
			}
			got++
		}
		if got < acked || got > acked+1 {
			t.Fatalf("k=%d: %d records after reopen, %d acknowledged", k, got, acked)
		}
		if _, err := db.Append(context.Background(), "t", Message{Value: []byte(fmt.Sprint("after", k))}); err != nil {
			t.Fatalf("k=%d: append after reopen: %v", k, err)
		}
		db.Close()
	}
}
