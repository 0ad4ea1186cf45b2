package raftstore

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

func openPartition(t *testing.T, fs vfs.FS, dir string) (*wal.Log, *index.Store) {
	t.Helper()
	idx, err := index.Open(dir+"/index", index.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	l, err := wal.Open(wal.Options{FS: fs, Dir: dir + "/log", Index: base.PartitionIndex{Store: idx, Topic: "t", Partition: 0}})
	if err != nil {
		t.Fatal(err)
	}
	return l, idx
}

func command(i uint64) *raft.Log {
	return &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: EncodeCommand(fmt.Appendf(nil, "v%d", i)), AppendedAt: time.UnixMilli(int64(i))}
}

// Entries replayed after a restart are not applied twice; non-command entries are not applied; a snapshot
// restores into another partition at the same offsets, and applying goes on after it.
func TestPartitionFSM(t *testing.T) {
	fs := vfs.NewMem()
	l, idx := openPartition(t, fs, "/a")
	f, err := NewPartitionFSM(l)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 10; i++ {
		e := command(i)
		if i == 4 {
			e.Type = raft.LogConfiguration
		}
		if res, ok := f.Apply(e).(ApplyResult); i != 4 && (!ok || res.Err != nil) {
			t.Fatalf("apply %d: %+v", i, res)
		}
	}
	l.Close()
	idx.Close()
	l, idx = openPartition(t, fs, "/a")
	defer idx.Close()
	defer l.Close()
	if f, err = NewPartitionFSM(l); err != nil || f.Applied() != 10 {
		t.Fatalf("applied %d after reopen, %v", f.Applied(), err)
	}
	for i := uint64(1); i <= 12; i++ { // raft replays 1..10, then 11 and 12 are new
		f.Apply(command(i))
	}
	if l.HighWatermark() != 11 { // (4 was a configuration entry)
		t.Fatalf("partition ends at %d, want 11", l.HighWatermark())
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*partitionSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	l2, idx2 := openPartition(t, fs, "/b")
	defer idx2.Close()
	defer l2.Close()
	f2, _ := NewPartitionFSM(l2)
	f2.Apply(command(1)) // something to be replaced
	if err := f2.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if f2.Applied() != 12 || l2.HighWatermark() != 11 {
		t.Fatalf("restored: applied %d, end %d", f2.Applied(), l2.HighWatermark())
	}
	f2.Apply(command(13))
	r, _ := l2.NewReader(0, true)
	for off := int64(0); off < 12; off++ {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		i, _ := recordIndex(rec)
		want := uint64(off) + 1
		if off >= 3 {
			want++ // (no record for index 4)
		}
		if rec.Offset != off || i != want || string(rec.Value) != fmt.Sprintf("v%d", want) {
			t.Fatalf("offset %d: index %d %q", rec.Offset, i, rec.Value)
		}
	}
}
