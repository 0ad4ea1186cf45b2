package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RawPreallocStep is how far ahead the preallocated raw baseline grows its file: fallocate(2) mode 0, in
// steps of 64 MiB (mqlog's default segment size).
const RawPreallocStep = 64 << 20

// rawHeaderSize is the length prefix of one raw record: a little-endian uint32.
const rawHeaderSize = 4

// RawLog is the raw baseline: a plain file of length-prefixed records, each batch written with one
// pwrite(2) and made durable with one fdatasync(2). With prealloc, the file is grown ahead with
// fallocate(2) mode 0 in RawPreallocStep steps, and trimmed to its valid end at Close. A RawLog is for one
// goroutine at a time.
type RawLog struct {
	path      string
	fd        int
	prealloc  bool
	end       int64 // offset after the last written record
	allocated int64 // file size reserved by fallocate (prealloc only)
	buf       []byte
}

// CreateRawLog creates (or truncates) the file at path, fsyncs it and its directory, and returns it open
// for appending.
func CreateRawLog(path string, prealloc bool) (*RawLog, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	l := &RawLog{path: path, fd: fd, prealloc: prealloc}
	if err := l.syncCreated(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return l, nil
}

func (l *RawLog) syncCreated() error {
	if l.prealloc {
		if err := l.grow(RawPreallocStep); err != nil {
			return err
		}
	}
	if err := unix.Fsync(l.fd); err != nil {
		return &os.PathError{Op: "fsync", Path: l.path, Err: err}
	}
	return syncDir(filepath.Dir(l.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// grow reserves the file up to at least size bytes, a RawPreallocStep at a time.
func (l *RawLog) grow(size int64) error {
	for l.allocated < size {
		if err := unix.Fallocate(l.fd, 0, l.allocated, RawPreallocStep); err != nil {
			return &os.PathError{Op: "fallocate", Path: l.path, Err: err}
		}
		l.allocated += RawPreallocStep
	}
	return nil
}

// AppendBatch writes payloads as one batch of length-prefixed records with one write, then fdatasyncs.
func (l *RawLog) AppendBatch(payloads [][]byte) error {
	if err := l.WriteBatch(payloads); err != nil {
		return err
	}
	return l.Sync()
}

// WriteBatch writes payloads as one batch with one write, without syncing.
func (l *RawLog) WriteBatch(payloads [][]byte) error {
	if l.fd < 0 {
		return os.ErrClosed
	}
	n := 0
	for _, p := range payloads {
		if uint64(len(p)) > 1<<32-1 {
			return fmt.Errorf("mqlog/bench: raw record of %d bytes is too large", len(p))
		}
		n += rawHeaderSize + len(p)
	}
	b := l.buf[:0]
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	for _, p := range payloads {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	l.buf = b
	if l.prealloc {
		if err := l.grow(l.end + int64(n)); err != nil {
			return err
		}
	}
	// One pwrite for the whole batch. A short write to a regular file means an error such as ENOSPC that
	// the next call reports; the loop is there for correctness, not expected to turn.
	for len(b) > 0 {
		w, err := unix.Pwrite(l.fd, b, l.end)
		if err != nil {
			return &os.PathError{Op: "write", Path: l.path, Err: err}
		}
		b = b[w:]
		l.end += int64(w)
	}
	return nil
}

// Sync makes everything written durable with one fdatasync.
func (l *RawLog) Sync() error {
	if err := unix.Fdatasync(l.fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: l.path, Err: err}
	}
	return nil
}

// Size returns the bytes of records written.
func (l *RawLog) Size() int64 { return l.end }

// Path returns the file's path.
func (l *RawLog) Path() string { return l.path }

// Close trims a preallocated file to its valid end (and syncs that), then closes it.
func (l *RawLog) Close() error {
	if l.fd < 0 {
		return os.ErrClosed
	}
	var errs []error
	if l.prealloc && l.allocated > l.end {
		if err := unix.Ftruncate(l.fd, l.end); err != nil {
			errs = append(errs, &os.PathError{Op: "truncate", Path: l.path, Err: err})
		} else if err := unix.Fsync(l.fd); err != nil {
			errs = append(errs, &os.PathError{Op: "fsync", Path: l.path, Err: err})
		}
	}
	if err := unix.Close(l.fd); err != nil {
		errs = append(errs, &os.PathError{Op: "close", Path: l.path, Err: err})
	}
	l.fd = -1
	return errors.Join(errs...)
}

// RawReadStats is what ReadRawLog read.
type RawReadStats struct {
	Messages int64  // records read
	Bytes    int64  // payload bytes read, length prefixes not counted
	Sum      uint64 // sum of the first byte of every non-empty payload, so that each one is touched
}

// rawReadBufferSize is the raw read baseline's bufio.Reader size.
const rawReadBufferSize = 64 << 10

// ReadRawLog reads a raw log back through a 64 KiB bufio.Reader, parsing every length prefix and copying
// every payload into a reused buffer, the raw read baseline. A file that ends inside a record is
// io.ErrUnexpectedEOF.
func ReadRawLog(path string) (RawReadStats, error) { return ScanRawLog(path, nil) }

// ScanRawLog is ReadRawLog calling fn, when not nil, with every payload (valid only during the call).
func ScanRawLog(path string, fn func(payload []byte)) (RawReadStats, error) {
	var st RawReadStats
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, err
	}
	r := bufio.NewReaderSize(f, rawReadBufferSize)
	var hdr [rawHeaderSize]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, fmt.Errorf("mqlog/bench: %s: record %d: %w", path, st.Messages, err)
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if int64(n) > fi.Size() {
			return st, fmt.Errorf("mqlog/bench: %s: record %d: length %d past the end of the file", path, st.Messages, n)
		}
		if uint64(cap(payload)) < uint64(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return st, fmt.Errorf("mqlog/bench: %s: record %d: %w", path, st.Messages, err)
		}
		if n > 0 {
			st.Sum += uint64(payload[0])
		}
		if fn != nil {
			fn(payload)
		}
		st.Messages++
		st.Bytes += int64(n)
	}
}
