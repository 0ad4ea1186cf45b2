package segment

import (
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Writer appends frames to a segment file with WriteAt at its position. It neither syncs nor locks: its owner
// (the log's flusher) does both, and must not call Write concurrently. Errors are sticky: after a failed or
// short write the file's contents past Pos are unknown, so every later Write returns the same error.
type Writer struct {
	file vfs.File
	pos  int64
	err  error
}

// NewWriter returns a Writer that appends to f from byte pos.
func NewWriter(f vfs.File, pos int64) *Writer {
	return &Writer{file: f, pos: pos}
}

// Write writes frames (one or more whole frames) at Pos and advances it. It writes everything or returns an
// error; a short write is io.ErrShortWrite. As vfs.File allows, the file may modify frames: the caller must not
// read or reuse those bytes after Write.
func (w *Writer) Write(frames []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.file.WriteAt(frames, w.pos)
	if err == nil && n < len(frames) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return err
	}
	w.pos += int64(n)
	return nil
}

// Pos returns the position after the last byte written.
func (w *Writer) Pos() int64 { return w.pos }

// File returns the file written to.
func (w *Writer) File() vfs.File { return w.file }

// Err returns the sticky error of a failed Write, or nil.
func (w *Writer) Err() error { return w.err }
