package bench

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"golang.org/x/sys/unix"
)

// ErrDiskBudget is what the partitions run's filesystem returns once creating one more file would take the
// filesystem's free space below the run's floor: it stops a creation that would otherwise fill the disk.
var ErrDiskBudget = fmt.Errorf("mqlog/bench: disk budget reached")

// budgetFS is the operating system's filesystem, as mqlog.Open would use it (fsutil.NotWorldWritable over
// vfs.Default), with a guard: before a file is created or opened for writing, the free space of the
// directory's filesystem is read (statfs), and below floor the call fails with ErrDiskBudget. It also
// remembers the lowest free space seen. A file of mqlog's is preallocated right after it is opened, so the
// guard lets at most one preallocation pass the floor.
type budgetFS struct {
	vfs.FS
	dir   string // any directory of the filesystem watched
	floor int64  // bytes of free space below which files are refused; <= 0: no guard

	mu struct {
		sync.Mutex
		start, lowest int64
	}
}

func newBudgetFS(dir string, floor int64) *budgetFS {
	fs := &budgetFS{FS: fsutil.NotWorldWritable(vfs.Default), dir: dir, floor: floor}
	if free, err := freeSpace(dir); err == nil {
		fs.mu.start, fs.mu.lowest = free, free
	}
	return fs
}

// check fails with ErrDiskBudget when the free space is below the floor.
func (fs *budgetFS) check(name string) error {
	free, err := freeSpace(fs.dir)
	if err != nil {
		return nil // not knowing is not a reason to fail the run; the kernel still reports ENOSPC
	}
	fs.mu.Lock()
	fs.mu.lowest = min(fs.mu.lowest, free)
	fs.mu.Unlock()
	if fs.floor > 0 && free < fs.floor {
		return fmt.Errorf("%w: %s: %.1f GiB free, floor %.1f GiB", ErrDiskBudget, name, float64(free)/(1<<30), float64(fs.floor)/(1<<30))
	}
	return nil
}

// peakDrop returns the start's free space minus the lowest seen since, in bytes.
func (fs *budgetFS) peakDrop() int64 {
	fs.check(fs.dir)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.mu.start - fs.mu.lowest
}

// Create checks the budget, then creates the file.
func (fs *budgetFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.check(name); err != nil {
		return nil, err
	}
	return fs.FS.Create(name, category)
}

// OpenReadWrite checks the budget, then opens the file.
func (fs *budgetFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := fs.check(name); err != nil {
		return nil, err
	}
	return fs.FS.OpenReadWrite(name, category, opts...)
}

// freeSpace is freeBytes; a test replaces it, since the free space of a shared disk moves with what
// everybody else writes.
var freeSpace = freeBytes

// freeBytes returns the bytes available to an unprivileged user on dir's filesystem.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
