package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// killedLog appends n batches of valueSize-byte values to a log on a crashable filesystem and leaves it as a
// killed process does (no Close): it returns a copy of the files as the page cache holds them, the index as
// it was (Pebble's unsynced writes survive a kill too), and the byte positions of the batches in the
// active segment.
func killedLog(t *testing.T, n, valueSize int) (*vfs.MemFS, *memIndex, []int64) {
	t.Helper()
	mem, idx := vfs.NewCrashableMem(), &memIndex{}
	l, err := Open(Options{FS: mem, Dir: "/p", Index: idx, SegmentBytes: 1 << 20, IndexIntervalBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append([]segment.Record{{Value: sizedValue(i, valueSize)}}); err != nil {
			t.Fatal(err)
		}
	}
	l.stopFlusherForTest()
	img := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
	idx.mu.Lock()
	copyIdx := &memIndex{state: slices.Clone(idx.state), entries: slices.Clone(idx.entries)}
	idx.mu.Unlock()
	l.Close()
	var positions []int64
	data := readAllFile(t, img, "/p/"+segment.FileName(0))
	segment.Scan(bytes.NewReader(data), 0, int64(len(data)), segment.ScanOptions{NextOffset: -1},
		func(pos int64, h segment.BatchHeader) error { positions = append(positions, pos); return nil })
	if len(positions) != n {
		t.Fatalf("%d frames in the segment, want %d", len(positions), n)
	}
	return img, copyIdx, positions
}

// stopFlusherForTest waits until the flusher has stored what it had (as a process does before it is
// killed at a quiet moment), without closing the log.
func (l *Log) stopFlusherForTest() {
	for {
		l.mu.Lock()
		busy := l.mu.flushing || len(l.mu.frames) > 0
		l.mu.Unlock()
		if !busy {
			return
		}
		runtime.Gosched()
	}
}

func sizedValue(i, size int) []byte {
	v := fmt.Appendf(nil, "value-%05d-", i)
	for len(v) < size {
		v = append(v, byte('a'+i%26))
	}
	return v
}

func readAllFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeAllFile creates path with a copy of data (vfs.File.Write may modify the buffer it is given, and does
// in race builds) and syncs it.
func writeAllFile(t *testing.T, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(slices.Clone(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestRecoverDamageIsNotATornTail is issue 11 item 2: after a crash the whole active segment lies past the
// durable point recorded at open, and recovery used to take the first bad frame there for a torn tail and
// cut everything after it, acknowledged batches included. A bad frame before the durable point that the
// sparse index carries forward, or followed by valid frames of the log's epoch, is damage: Open reports it
// with file and byte and cuts nothing. A torn write, and the trace of lost unsynced blocks, are still cut.
func TestRecoverDamageIsNotATornTail(t *testing.T) {
	const n = 60
	path := "/p/" + segment.FileName(0)
	for _, tc := range []struct {
		name        string
		dropEntries bool // the index lost its unsynced entries (a power cut rather than a kill)
		inFlight    bool // the last batch was in flight: not acknowledged, so no index entry names it
		zeros       bool // zeros are left after the valid end (preallocated space: not cut)
		damage      func(d []byte, pos []int64) (out []byte, at int64)
		wantDamage  bool
		wantRecords int
	}{
		{name: "acknowledged last batch cut", damage: func(d []byte, pos []int64) ([]byte, int64) {
			return d[:pos[n-1]+40], pos[n-1]
		}, wantDamage: true},
		{name: "bit flip before the last index entry", damage: func(d []byte, pos []int64) ([]byte, int64) {
			d[pos[n/2]+segment.HeaderSize+5] ^= 0x20
			return d, pos[n/2]
		}, wantDamage: true},
		{name: "bit flip with valid batches after it", dropEntries: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			d[pos[n/2]+segment.HeaderSize+5] ^= 0x20
			return d, pos[n/2]
		}, wantDamage: true},
		{name: "bit flip in the next to last batch", dropEntries: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			d[pos[n-2]+30] ^= 0x01
			return d, pos[n-2]
		}, wantDamage: true},
		{name: "length field damaged", dropEntries: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			d[pos[n/3]+8] = 0x7f
			return d, pos[n/3]
		}, wantDamage: true},
		{name: "torn last batch", inFlight: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			return d[:pos[n-1]+40], pos[n-1]
		}, wantRecords: n - 1},
		{name: "last batch lost, zeros after", inFlight: true, zeros: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			clear(d[pos[n-1]:])
			return d, pos[n-1]
		}, wantRecords: n - 1},
		{name: "lost sector in the last write, its last batch kept", dropEntries: true, damage: func(d []byte, pos []int64) ([]byte, int64) {
			// A crash kept a later block of the write in flight and lost an earlier one: zeros where the
			// sector was, a valid frame after. Nothing after the hole was acknowledged.
			s := (pos[n-3]/segment.LostWriteSector + 1) * segment.LostWriteSector
			clear(d[s : s+segment.LostWriteSector])
			return d, pos[n-3]
		}, wantRecords: n - 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, idx, pos := killedLog(t, n, 700)
			if tc.dropEntries {
				idx.entries = nil
			}
			if tc.inFlight {
				idx.entries = slices.DeleteFunc(idx.entries, func(e IndexEntry) bool { return e.Offset >= n-1 })
			}
			data, at := tc.damage(readAllFile(t, img, path), pos)
			writeAllFile(t, img, path, data)
			l, err := Open(Options{FS: img, Dir: "/p", Index: idx, NoPreallocate: true})
			if tc.wantDamage {
				var ce *segment.CorruptionError
				if !errors.As(err, &ce) || ce.Path != path || ce.Offset != at {
					t.Fatalf("Open = %v; want a *CorruptionError for %s at byte %d", err, path, at)
				}
				if got := readAllFile(t, img, path); !bytes.Equal(got, data) {
					t.Fatalf("the segment changed: %d bytes, had %d", len(got), len(data))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if hw := l.HighWatermark(); hw != int64(tc.wantRecords) {
				t.Fatalf("high watermark %d, want %d", hw, tc.wantRecords)
			}
			if size := int64(len(readAllFile(t, img, path))); !tc.zeros && size != pos[tc.wantRecords] {
				t.Fatalf("segment is %d bytes after recovery, want %d (cut at the bad frame at %d)", size, pos[tc.wantRecords], at)
			}
		})
	}
}

// TestRecoverDamagedEpochKeepsData: a frame past the durable point whose epoch field (not covered by the
// CRC) is damaged, followed by frames of the log's epoch, is data with a damaged header field, not a stale
// frame: recovery keeps it and everything after it (it used to cut them all).
func TestRecoverDamagedEpochKeepsData(t *testing.T) {
	const n = 30
	path := "/p/" + segment.FileName(0)
	for _, epoch := range []int32{0, 0x5a5a5a5a} {
		img, idx, pos := killedLog(t, n, 100)
		idx.entries = nil
		data := readAllFile(t, img, path)
		segment.SetEpoch(data[pos[n/2]:], epoch)
		writeAllFile(t, img, path, data)
		l, err := Open(Options{FS: img, Dir: "/p", Index: idx, NoPreallocate: true})
		if err != nil {
			t.Fatalf("epoch %#x: %v", epoch, err)
		}
		if hw := l.HighWatermark(); hw != n {
			t.Errorf("epoch %#x: high watermark %d, want %d", epoch, hw, n)
		}
		l.Close()
	}
}

// TestRecoverNoStateNeverCuts: a segment that holds data in a partition directory without a saved state
// (garbage named like a segment, or a directory the index does not know) is reported, never cut to zero
// bytes or adopted; a blank one (a log created by a crash before its first state save) is fine.
func TestRecoverNoStateNeverCuts(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/p", 0o755)
	path := "/p/" + segment.FileName(0)
	garbage := []byte(strings.Repeat("garbage!", 64))
	writeAllFile(t, fs, path, garbage)
	_, err := Open(Options{FS: fs, Dir: "/p", Index: &memIndex{}})
	var ce *segment.CorruptionError
	if !errors.Is(err, ErrNoState) || !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("Open = %v; want ErrNoState naming %s", err, path)
	}
	if got := readAllFile(t, fs, path); !bytes.Equal(got, garbage) {
		t.Fatalf("the file changed: %q", got)
	}

	writeAllFile(t, fs, path, make([]byte, 4096))
	l, err := Open(Options{FS: fs, Dir: "/p", Index: &memIndex{}})
	if err != nil {
		t.Fatalf("blank segment without state: %v", err)
	}
	l.Close()
}

// TestRecoverRefusesLinks is issue 11 item 5: a segment that is a symbolic link is never followed (a link to
// a file outside the data directory used to get that file truncated and written to), nor is a directory
// named like a segment taken as one; Open and OpenReadOnly refuse them with ErrNotRegular, and a link
// planted where the next segment will be created stops the log instead of being written through.
func TestRecoverRefusesLinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "precious")
	orig := []byte("not a segment, and not the log's to touch\n")
	if err := os.WriteFile(outside, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		t.Helper()
		if got, err := os.ReadFile(outside); err != nil || !bytes.Equal(got, orig) {
			t.Fatalf("the file outside was changed: %q, %v", got, err)
		}
	}
	build := func(t *testing.T, segments int) (string, *memIndex) {
		dir, idx := filepath.Join(t.TempDir(), "p"), &memIndex{}
		l, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx, SegmentBytes: 1024, NoPreallocate: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i == 0 || len(l.Segments()) < segments; i++ {
			if _, err := l.Append([]segment.Record{{Value: sizedValue(i, 100)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, idx
	}
	segmentNames := func(t *testing.T, dir string) []string {
		names, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		slices.Sort(names)
		return names
	}
	for _, which := range []string{"closed", "active"} {
		t.Run(which+" segment is a link", func(t *testing.T) {
			dir, idx := build(t, 3)
			segs := segmentNames(t, dir)
			victim := segs[0]
			if which == "active" {
				victim = segs[len(segs)-1]
			}
			os.Remove(victim)
			if err := os.Symlink(outside, victim); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx}); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), victim) {
				t.Fatalf("Open = %v; want ErrNotRegular naming %s", err, victim)
			}
			if _, err := OpenReadOnly(Options{FS: vfs.Default, Dir: dir}); !errors.Is(err, ErrNotRegular) {
				t.Fatalf("OpenReadOnly = %v; want ErrNotRegular", err)
			}
			check(t)
		})
	}
	t.Run("directory named like a segment", func(t *testing.T) {
		dir, idx := build(t, 2)
		if err := os.Mkdir(filepath.Join(dir, segment.FileName(1<<40)), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx}); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open = %v; want ErrNotRegular", err)
		}
	})
	t.Run("link where the next segment goes", func(t *testing.T) {
		dir, idx := build(t, 1)
		l, err := Open(Options{FS: vfs.Default, Dir: dir, Index: idx, SegmentBytes: 1024, NoPreallocate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// Before each append, a link where a roll would create the next segment.
		for i := 0; ; i++ {
			next := filepath.Join(dir, segment.FileName(l.HighWatermark()))
			if err := os.Symlink(outside, next); err != nil {
				t.Fatal(err)
			}
			_, err := l.Append([]segment.Record{{Value: sizedValue(i, 100)}})
			if err == nil {
				if len(l.Segments()) > 1 {
					t.Fatal("the log rolled onto the link")
				}
				os.Remove(next)
				continue
			}
			if !errors.Is(err, ErrFailStop) || !strings.Contains(err.Error(), next) {
				t.Fatalf("append at the roll: %v; want ErrFailStop naming %s", err, next)
			}
			break
		}
		check(t)
	})
}

// syncCheckingIndex is a memIndex that checks, at every SaveState, that the bytes the state trusts in the
// active segment are synced (what a CrashClone keeps).
type syncCheckingIndex struct {
	*memIndex
	t   *testing.T
	fs  *vfs.MemFS
	dir string
}

func (s syncCheckingIndex) SaveState(b []byte) error {
	st, err := decodeState(b)
	if err != nil {
		s.t.Fatal(err)
	}
	img := s.fs.CrashClone(vfs.CrashCloneCfg{})
	path := s.fs.PathJoin(s.dir, segment.FileName(st.activeBase))
	if info, err := img.Stat(path); err != nil || info.Size() < st.position {
		s.t.Errorf("state saved with %s durable up to byte %d; synced: %v, %v", path, st.position, info, err)
	}
	return s.memIndex.SaveState(b)
}

// TestRecoverSyncsWhatItAdopts is issue 11 item 1 on one log: bytes found past the durable point after a
// kill (written, never fsynced) are fsynced before the state that trusts them is saved.
func TestRecoverSyncsWhatItAdopts(t *testing.T) {
	mem := vfs.NewCrashableMem()
	idx := &memIndex{}
	l, err := Open(Options{FS: mem, Dir: "/p", Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// What a killed writer leaves: frames written after the saved state and never fsynced.
	seg, err := mem.OpenReadWrite("/p/"+segment.FileName(0), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	var frames []byte
	for i := range 10 {
		start := len(frames)
		frames, _ = segment.AppendBatch(frames, []segment.Record{{Value: value(i)}}, segment.EncodeOptions{Epoch: 1})
		segment.SetBaseOffset(frames[start:], int64(i))
	}
	if _, err := seg.WriteAt(frames, 0); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	st, _ := decodeState(idx.state)
	st.clean, st.epoch = false, 1
	idx.state = st.encode()
	l, err = Open(Options{FS: mem, Dir: "/p", Index: syncCheckingIndex{memIndex: idx, t: t, fs: mem, dir: "/p"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if hw := l.HighWatermark(); hw != 10 {
		t.Fatalf("high watermark %d, want 10", hw)
	}
}
