package wal

// Reads of segments through a read-only mapping.
//
// The segments of a log opened for writing can be read through a read-only shared mapping of their file
// (mmap(2), PROT_READ, MAP_SHARED) instead of pread, as Options.Mmap says: ViewFrames hands a Kafka fetch
// the stored frames in place (written with writev from there: no copy into a fetch buffer), always but
// under MmapOff; under MmapAll the CRC check and the decoding of every read also read the page cache's
// pages where they are, and a Reader's records (ReadNoCopy) and frames (NextBatch) alias the mapping.
// Every segment of a read-only log (OpenReadOnly: it takes no lock, so a writer in another process may
// cut a file under it) and every file without a descriptor (the in-memory filesystem) stays on pread.
//
// Why not MmapAll by default: measured on the development machine (docs/BENCH.md "Reads: mmap"), a
// whole-log consume after Open costs about a quarter more CPU through a mapping than through pread. With
// pread, the kernel's copy streams the page cache into a 64 KiB buffer that stays in the CPU's cache and
// the CRC then runs from there; through a mapping the CRC itself streams from memory, at a lower rate than
// the copy (few loads in flight), and the first touch of every 64 KiB faults. A fetch is different: its
// buffer is megabytes, so the copy it saves lands in memory, not in cache.
//
// The active segment is mapped too, at the most it can grow to (SegmentBytes plus one batch), past its
// file's end: a reader touches only the bytes below the segment's readable end, which were written
// (write(2) into the page cache, which the mapping shares) before the readable end was published and never
// change afterwards; the appends land past it. (Mapping sealed segments only would leave every log smaller
// than one segment, the common case and the one the read benchmarks measure, on pread.) A segment whose
// readable end outgrows its mapping (SegmentBytes raised by AlterTopic) is read with pread past it.
//
// The rules that keep it safe:
//
//   - The CRC is still checked on every read, from the mapping: damage is reported, never returned as data.
//     (Checking a sealed segment once and remembering it would return a bit that flipped on disk after the
//     check, once its page is read from disk again.)
//   - Mapped lazily, one segment at a time, on its first read, and unmapped with the segment's read
//     handle, when its last reference goes (refs.go): the mapped total is bounded by the segments that
//     readers have touched and that the log still holds (plus those that readers and views still pin).
//     It is address space: the pages are the page cache's, which the kernel reclaims as it does for pread.
//     Each mapped segment is one memory map of the process (vm.max_map_count, 65,530 by default, bounds
//     them): an mmap that fails, for that or any reason, leaves that segment on pread for good.
//   - A Reader whose last batch aliases a mapping pins that segment (one reference) until it reads a batch
//     elsewhere, or Close, or is garbage collected: retention and compaction retire the segment but the
//     mapping lives until then, so records already returned stay readable.
//   - A file cut or truncated under a mapping makes a touch of the pages past its new end raise SIGBUS.
//     Every read of a mapping in this package runs with runtime/debug.SetPanicOnFault on and recovers the
//     fault as a *segment.CorruptionError wrapping ErrFileChanged, naming the file and byte offset. A
//     system call given a view (writev) fails with EFAULT instead. Within mqlog, only TruncateFrom and
//     Reset cut a segment in place; before they trim the file they replace the mapped pages past the cut
//     with zero pages (cutMapping), so that records a caller still holds read as zeros instead of
//     faulting. Retention and compaction unlink and rename, which leaves the mapped inode whole. What a
//     caller touches after Next returns is the caller's: a record of ReadNoCopy held while another
//     process truncates the file (against the lock's rule) would fault in the caller's code, which is why
//     read-only logs, which run beside such a process, do not map.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
	"golang.org/x/sys/unix"
)

// ErrFileChanged is wrapped by the *segment.CorruptionError of a read that touched a mapped segment's
// pages past the end of its file: the file was truncated or cut under the reader, by something that does
// not follow the log's rules (another process, a hand-made change).
var ErrFileChanged = errors.New("mqlog/wal: segment file changed under its mapping (truncated)")

// segMapping is a read-only mapping of a sealed segment's file, from byte 0.
type segMapping struct{ data []byte }

// mapping returns the bytes of s's file through its read-only mapping, mapping it on first use, or nil when
// s is not mapped (the caller reads it with pread): a file without a descriptor, one with no readable
// bytes yet, or a failed mmap (tried once). The mapping spans at least span bytes (the most the active
// segment can grow to), past the file's end if need be: only the readable bytes below the file's end are
// ever touched. The caller holds a reference on s.
func (s *segmentFile) mapping(span int64) []byte {
	if m := s.mm.Load(); m != nil {
		return m.data
	}
	if s.noMap.Load() || s.readableEnd.Load() <= 0 {
		return nil
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if m := s.mm.Load(); m != nil {
		return m.data
	}
	if s.noMap.Load() || s.refs.Load() <= 0 {
		return nil
	}
	data, err := s.mapLocked(span)
	if err != nil || data == nil {
		s.noMap.Store(true)
		return nil
	}
	s.mm.Store(&segMapping{data: data})
	return data
}

// mapLocked maps s's file whole, and at least span bytes, under s.fmu. It returns nil, nil for a file
// that cannot be mapped (no descriptor, empty, shorter than its readable end).
func (s *segmentFile) mapLocked(span int64) ([]byte, error) {
	h := s.fh.Load()
	if h == nil {
		f, err := fsutil.OpenRegular(s.fs, s.path)
		if err != nil {
			return nil, fmt.Errorf("mqlog/wal: open segment: %w", err)
		}
		h = &fileHandle{f}
		s.fh.Store(h)
	}
	fd := h.Fd()
	if fd == vfs.InvalidFd {
		return nil, nil
	}
	info, err := h.Stat()
	if err != nil {
		return nil, err
	}
	size := info.Size()
	if size <= 0 || size < s.readableEnd.Load() {
		return nil, nil
	}
	if !s.closed.Load() {
		size = max(size, span)
	}
	return unix.Mmap(int(fd), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

// unmapLocked removes s's mapping, under s.fmu, when no reference is left (closeHandle).
func (s *segmentFile) unmapLocked() error {
	if m := s.mm.Swap(nil); m != nil {
		return unix.Munmap(m.data)
	}
	return nil
}

// cutMapping replaces the mapped pages of s that lie wholly at or past byte pos with anonymous zero pages,
// before the file is cut to pos (TruncateFrom): records that a reader still holds from them read as zeros
// instead of faulting. (The page holding pos stays mapped: past the end of a file within its last page,
// the kernel gives zeros.)
func (s *segmentFile) cutMapping(pos int64) error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	m := s.mm.Load()
	if m == nil {
		return nil
	}
	page := int64(os.Getpagesize())
	from := (pos + page - 1) / page * page
	if from >= int64(len(m.data)) {
		return nil
	}
	addr := unsafe.Pointer(&m.data[from])
	_, err := unix.MmapPtr(-1, 0, addr, uintptr(int64(len(m.data))-from), unix.PROT_READ,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("mqlog/wal: segment %s: replace mapping past byte %d: %w", s.path, pos, err)
	}
	return nil
}

// mapFault converts a fault that a read of seg's mapping raised (SetPanicOnFault) into the error it
// reports; ok is false for anything else (the caller panics again).
func mapFault(p any, seg *segmentFile) (err error, ok bool) {
	fault, isFault := p.(interface{ Addr() uintptr })
	if !isFault || seg == nil {
		return nil, false
	}
	m := seg.mm.Load()
	if m == nil || len(m.data) == 0 {
		return nil, false
	}
	base := uintptr(unsafe.Pointer(&m.data[0]))
	addr := fault.Addr()
	if addr < base || addr >= base+uintptr(len(m.data)) {
		return nil, false
	}
	off := int64(addr - base)
	return &segment.CorruptionError{Path: seg.path, Offset: off,
		Err: fmt.Errorf("%w: fault reading byte %d", ErrFileChanged, off)}, true
}

// guardMapped runs read with faults turned into panics (runtime/debug.SetPanicOnFault) and returns the
// fault, if read touched a page of seg's mapping that its file no longer holds, as the error.
func guardMapped(seg *segmentFile, read func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			fe, ok := mapFault(p, seg)
			if !ok {
				panic(p)
			}
			err = fe
		}
	}()
	return read()
}

// readerPin is the segment whose mapping a Reader's last batch aliases, held by one reference. It lives
// apart from the Reader so that a cleanup can drop it when the Reader is garbage collected.
type readerPin struct{ seg *segmentFile }

func (p *readerPin) drop() {
	if p.seg != nil {
		p.seg.release()
		p.seg = nil
	}
}

// hold makes seg (nil: none) the segment r pins, taking a reference on it and dropping the one on the
// segment pinned before. The caller holds a reference on seg, so the acquire cannot fail.
func (r *Reader) hold(seg *segmentFile) {
	if r.pin == nil {
		if seg == nil {
			return
		}
		r.pin = &readerPin{}
		runtime.AddCleanup(r, (*readerPin).drop, r.pin)
	}
	if r.pin.seg == seg {
		return
	}
	if seg != nil && !seg.acquire() {
		seg = nil
	}
	old := r.pin.seg
	r.pin.seg = seg
	if old != nil {
		old.release()
	}
}

// Close releases the segment the reader's last batch aliases, if it was read from a mapping. It is
// optional (a Reader dropped without it releases the segment when it is garbage collected), and the
// records and frames returned before it must not be used after it. Close does not end the reader: a
// later Next reads on.
func (r *Reader) Close() error {
	if r.pin != nil {
		r.pin.drop()
	}
	return nil
}

// mayMap reports whether r may read through a mapping (then its reads run under guardMapped).
func (r *Reader) mayMap() bool {
	return !r.log.readOnly && (r.log.opts.Mmap == MmapAll || (r.viewing && r.log.opts.Mmap == MmapViews))
}

// useMapping reports whether r reads seg through its mapping and returns the mapped bytes (nil: pread).
func (r *Reader) useMapping(seg *segmentFile) []byte {
	if !r.mayMap() {
		return nil
	}
	return seg.mapping(r.log.segmentBytes.Load() + int64(r.log.opts.Limits.MaxBatchBytes))
}
