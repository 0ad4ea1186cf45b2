package segment

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestWriter(t *testing.T) {
	for _, fs := range []vfs.FS{vfs.Default, vfs.NewMem()} {
		dir := t.TempDir()
		path := filepath.Join(dir, FileName(0))
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWriter(f, 0)
		var want int64
		for i := 0; i < 10; i++ {
			frame := mustAppend(t, nil, sampleRecords(3), EncodeOptions{BaseOffset: int64(3 * i), Compression: allCodecs[i%5]})
			want += int64(len(frame))
			if err := w.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		if w.Pos() != want || w.File() != f {
			t.Fatalf("pos %d, want %d", w.Pos(), want)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(f, 0, want, ScanOptions{Path: path, NextOffset: 0, Contiguous: true}, nil)
		if err != nil || res.Stop != nil || res.Batches != 10 || res.LastOffset != 29 {
			t.Fatalf("res %+v err %v", res, err)
		}
		f.Close()
	}
}

// shortFile writes half of each buffer and no error, or fails.
type shortFile struct {
	vfs.File
	err error
}

func (f *shortFile) WriteAt(p []byte, off int64) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	return f.File.WriteAt(p[:len(p)/2], off)
}

func TestWriterErrorsAreSticky(t *testing.T) {
	fs := vfs.NewMem()
	f, err := fs.Create("seg", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	frame := mustAppend(t, nil, sampleRecords(3), EncodeOptions{})
	short := &shortFile{File: f}
	w := NewWriter(short, 0)
	if err := w.Write(frame); err != io.ErrShortWrite {
		t.Fatalf("err = %v, want io.ErrShortWrite", err)
	}
	if err := w.Write(frame); err != io.ErrShortWrite || w.Pos() != 0 || w.Err() != io.ErrShortWrite {
		t.Fatalf("second write: %v, pos %d", err, w.Pos())
	}
	injected := errors.New("injected")
	w = NewWriter(&shortFile{File: f, err: injected}, 7)
	if err := w.Write(frame); err != injected || w.Pos() != 7 {
		t.Fatalf("err = %v, pos %d", err, w.Pos())
	}
}
