package mqlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// faultInjector arms one fault at the k-th eligible operation on a partition's files (segments and their
// directory) and reports whether it fired.
type faultInjector struct {
	name string
	// wrap returns the filesystem the DB runs on; the fault fires at the k-th eligible operation once armed
	// is set, and wantErr is what the failed Append must wrap.
	wrap    func(mem *vfs.MemFS, k int64, armed *atomic.Bool) vfs.FS
	wantErr error
}

var faultInjectors = []faultInjector{
	{
		// errorfs fails the k-th write-kind operation before it runs: write, fsync, fdatasync, directory
		// fsync, create, preallocate, rename, remove.
		name:    "error",
		wantErr: errorfs.ErrInjected,
		wrap: func(mem *vfs.MemFS, k int64, armed *atomic.Bool) vfs.FS {
			var ops atomic.Int64
			return errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if !armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || !strings.Contains(op.Path, TopicsDirName) {
					return nil
				}
				if ops.Add(1) == k {
					return errorfs.ErrInjected
				}
				return nil
			}))
		},
	},
	{
		// The k-th write to a segment writes half its bytes and returns ENOSPC, and the disk stays full:
		// every later write and preallocation of a segment fails with ENOSPC.
		name:    "short-write-enospc",
		wantErr: syscall.ENOSPC,
		wrap: func(mem *vfs.MemFS, k int64, armed *atomic.Bool) vfs.FS {
			return &shortWriteFS{FS: mem, k: k, armed: armed}
		},
	},
}

// TestFailStop is TESTING.md items 6 and 7: an error injected into the k-th write, fsync or directory fsync
// of a partition's files, or a short write that runs out of space, makes that Append fail and every later
// Append return the same sticky error; after a crash and reopen with free space, every acknowledged message
// is there and the log takes new appends.
func TestFailStop(t *testing.T) {
	for _, inj := range faultInjectors {
		t.Run(inj.name, func(t *testing.T) {
			for k := int64(1); ; k++ {
				if !failStopRound(t, inj, k) {
					t.Logf("injected at %d operations, one at each", k-1)
					return
				}
			}
		})
	}
}

// failStopRound runs one injection at the k-th operation and reports whether it fired.
func failStopRound(t *testing.T, inj faultInjector, k int64) bool {
	const messages = 30
	mem := vfs.NewCrashableMem()
	var armed atomic.Bool
	db, err := Open(crashDir, &Options{FS: inj.wrap(mem, k, &armed)})
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
		if !errors.Is(err, ErrFailStop) || !errors.Is(err, inj.wantErr) {
			t.Fatalf("k=%d: append %d: %v, want ErrFailStop wrapping %v", k, i, err, inj.wantErr)
		}
		if sticky != nil && err.Error() != sticky.Error() {
			t.Fatalf("k=%d: later append returned %v, want the sticky %v", k, err, sticky)
		}
		sticky = err
	}
	db.Close()
	if sticky == nil {
		return false
	}
	// Two crash images: only what was synced, and everything written (the half-written frame included).
	for _, unsynced := range []int{0, 100} {
		img := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(uint64(k), 0))})
		checkAfterFault(t, fmt.Sprintf("k=%d unsynced=%d", k, unsynced), img, acked)
	}
	return true
}

// checkAfterFault reopens a crash image taken after a fault, with no fault and free space: the log holds
// the acknowledged messages plus at most the one in flight, in order, and takes a new append.
func checkAfterFault(t *testing.T, name string, img vfs.FS, acked int) {
	t.Helper()
	db, err := Open(crashDir, &Options{FS: img})
	if err != nil {
		t.Fatalf("%s: reopen: %v", name, err)
	}
	defer db.Close()
	got := 0
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		if rec.Offset != int64(got) || !bytes.Equal(rec.Value, crashValue(got)) {
			t.Fatalf("%s: record %d = offset %d %q", name, got, rec.Offset, rec.Value)
		}
		got++
	}
	if got < acked || got > acked+1 {
		t.Fatalf("%s: %d records after reopen, %d acknowledged", name, got, acked)
	}
	if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(got)}); err != nil {
		t.Fatalf("%s: append after reopen: %v", name, err)
	}
}

// shortWriteFS is a filesystem whose disk fills up at the k-th write to a partition's files: that write
// stores only half of its bytes and returns ENOSPC, as write(2) does when space runs out mid-way, and every
// later write or preallocation of a partition's file fails with ENOSPC.
type shortWriteFS struct {
	vfs.FS
	k      int64
	armed  *atomic.Bool
	writes atomic.Int64
	full   atomic.Bool
}

func (fs *shortWriteFS) wrapFile(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.Contains(name, TopicsDirName) {
		return f, err
	}
	return &shortWriteFile{File: f, fs: fs}, nil
}

func (fs *shortWriteFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrapFile(name, f, err)
}

func (fs *shortWriteFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrapFile(name, f, err)
}

// Unwrap returns the underlying filesystem.
func (fs *shortWriteFS) Unwrap() vfs.FS { return fs.FS }

type shortWriteFile struct {
	vfs.File
	fs *shortWriteFS
}

func (f *shortWriteFile) Write(p []byte) (int, error) {
	return f.write(p, func(b []byte) (int, error) { return f.File.Write(b) })
}

func (f *shortWriteFile) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, func(b []byte) (int, error) { return f.File.WriteAt(b, off) })
}

func (f *shortWriteFile) write(p []byte, write func([]byte) (int, error)) (int, error) {
	if f.fs.full.Load() {
		return 0, syscall.ENOSPC
	}
	if f.fs.armed.Load() && f.fs.writes.Add(1) == f.fs.k {
		f.fs.full.Store(true)
		n, err := write(p[:len(p)/2])
		if err != nil {
			return n, err
		}
		return n, syscall.ENOSPC
	}
	return write(p)
}

func (f *shortWriteFile) Preallocate(off, length int64) error {
	if f.fs.full.Load() {
		return syscall.ENOSPC
	}
	return f.File.Preallocate(off, length)
}
