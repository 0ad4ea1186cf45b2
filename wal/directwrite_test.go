package wal

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// scribbleFS is a filesystem whose files' writes overwrite the buffer they were given once they have
// written it, as vfs.File's contract allows ("Write may modify its buffer"): a caller's bytes passed to a
// write unchanged would be destroyed.
type scribbleFS struct{ vfs.FS }

func (fs scribbleFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return scribbleFile{f}, err
}

func (fs scribbleFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return scribbleFile{f}, err
}

type scribbleFile struct{ vfs.File }

func (f scribbleFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	clear(p)
	return n, err
}

func (f scribbleFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	clear(p)
	return n, err
}

// A lone appender's commit writes the log's own encoding buffer without copying it into the queue
// (directwrite.go); AppendFrame's frame is its caller's, and must still be copied: on a filesystem whose
// writes modify their buffer, the caller's frame keeps its bytes (but for the base offset and epoch the log
// stamps), and what was written reads back whole.
func TestDirectWriteNeverWritesCallersFrame(t *testing.T) {
	fs, idx := scribbleFS{vfs.NewMem()}, &memIndex{}
	l := openTestLog(t, fs, idx, 4096)
	defer l.Close()
	for i := range 30 {
		if _, err := l.Append([]segment.Record{{Value: value(2 * i)}}); err != nil {
			t.Fatal(err)
		}
		frame := clientFrame(t, 1, 2*i+1)
		base, err := l.AppendFrame(frame, FrameHooks{})
		if err != nil {
			t.Fatal(err)
		}
		want := clientFrame(t, 1, 2*i+1)
		segment.SetBaseOffset(want, base)
		segment.SetEpoch(want, l.epoch)
		if !bytes.Equal(frame, want) {
			t.Fatalf("append %d: the caller's frame changed under AppendFrame", i)
		}
	}
	readAllValues(t, l, 60)
}

// Appenders of every kind at once: commits led by a lone appender from its own buffer, commits from the
// queue, and appends queued while a direct commit runs all land once, in offset order, across rolls.
func TestDirectWriteMixedAppenders(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 4096)
	defer l.Close()
	const workers, rounds = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				id := (w*rounds + r) * 3 // three values per round
				var err error
				switch r % 3 {
				case 0:
					_, err = l.Append([]segment.Record{{Value: value(id)}, {Value: value(id + 1)}, {Value: value(id + 2)}})
				case 1:
					_, err = l.AppendBatches([][]segment.Record{{{Value: value(id)}}, {{Value: value(id + 1)}, {Value: value(id + 2)}}})
				default:
					_, err = l.AppendFrame(clientFrame(t, 3, id), FrameHooks{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	readAllValues(t, l, workers*rounds*3)
}

// readAllValues reads the whole log and checks that it holds the values value(0) to value(n-1), each
// once, at contiguous offsets.
func readAllValues(t *testing.T, l *Log, n int) {
	t.Helper()
	r, err := l.NewReader(0, false)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, n)
	for want := int64(0); ; want++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if want != int64(n) {
				t.Fatalf("read %d records, want %d", want, n)
			}
			break
		}
		if err != nil {
			t.Fatalf("offset %d: %v", want, err)
		}
		if rec.Offset != want {
			t.Fatalf("offset %d, want %d", rec.Offset, want)
		}
		if seen[string(rec.Value)] {
			t.Fatalf("offset %d: %q twice", want, rec.Value)
		}
		seen[string(rec.Value)] = true
	}
	for i := range n {
		if !seen[string(value(i))] {
			t.Fatalf("%q missing", value(i))
		}
	}
}

// AppendBatches by a lone appender commits from its own encoding buffer too: after the first call on a
// new log (nothing queued, no commit running) neither the queue nor its spare holds a buffer, and the
// batches read back.
func TestDirectWriteAppendBatches(t *testing.T) {
	l := openTestLog(t, vfs.NewMem(), &memIndex{}, 1<<20)
	if _, err := l.AppendBatches([][]segment.Record{{{Value: value(0)}}, {{Value: value(1)}}}); err != nil {
		t.Fatal(err)
	}
	readAllValues(t, l, 2)
	if err := l.Close(); err != nil { // (the flusher stops: its fields are read below)
		t.Fatal(err)
	}
	if queued := cap(l.mu.pending) + cap(l.flusher.spare); queued != 0 {
		t.Fatalf("the queue holds buffers of %d bytes: AppendBatches copied its batches into it", queued)
	}
}
