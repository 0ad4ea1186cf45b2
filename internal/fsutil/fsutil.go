// Package fsutil holds the crash-safe file lifecycle steps of DESIGN.md decision 7 — directory fsyncs after
// every create, rename and delete, preallocation, trimming, and atomic replacement — over Pebble's vfs.FS.
//
// Every function works on any vfs.FS. Where a file has an OS descriptor (vfs.Default), preallocation and
// trimming use fallocate(2) and ftruncate(2) on it; where it has none (the in-memory filesystem used by the
// crash tests), preallocation is skipped and trimming copies the kept prefix to a temporary file, syncs it and
// renames it over the original.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// TempSuffix ends the name of a file being written before it is renamed into place. A file with this suffix
// found at open is the leftover of a crash and may be removed.
const TempSuffix = ".tmp"

// SyncDir fsyncs the directory dir, making the entries created, renamed or removed in it durable.
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}

// MkdirAllSynced creates dir and any missing parents, fsyncing each created directory's parent so that the
// whole path survives a crash (a directory made by MkdirAll exists after a crash only if each parent was
// synced in turn). When dir exists already, its parent is fsynced all the same: the entry may be only in the
// page cache of a process that created it and was killed before its fsync.
func MkdirAllSynced(fs vfs.FS, dir string, perm os.FileMode) error {
	var missing []string
	for d := dir; ; {
		if _, err := fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		parent := fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		if parent := fs.PathDir(dir); parent != dir {
			return SyncDir(fs, parent)
		}
		return nil
	}
	if err := fs.MkdirAll(dir, perm); err != nil {
		return err
	}
	// Sync from the deepest new directory up to the first parent that already existed.
	for _, d := range missing {
		if err := SyncDir(fs, d); err != nil {
			return err
		}
		if err := SyncDir(fs, fs.PathDir(d)); err != nil {
			return err
		}
	}
	return nil
}

// HasFd reports whether f is backed by an OS file descriptor.
func HasFd(f vfs.File) bool { return f.Fd() != vfs.InvalidFd }

// Preallocate grows f to size bytes with fallocate mode 0 (the file's size changes, like Kafka's
// preallocate=true), so that later fdatasyncs of writes inside that size commit no size change. It does
// nothing for a file without a descriptor or one already at least that large.
func Preallocate(f vfs.File, size int64) error {
	if !HasFd(f) {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() >= size {
		return nil
	}
	for {
		err = unix.Fallocate(int(f.Fd()), 0, 0, size)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil // the filesystem cannot preallocate; appends simply grow the file
	}
	return err
}

// Truncate cuts the file at path, open as f (with a descriptor), to size bytes and fsyncs it. It reports
// handled=false, touching nothing, when f has no descriptor; use ReplacePrefix then.
func Truncate(f vfs.File, size int64) (handled bool, err error) {
	if !HasFd(f) {
		return false, nil
	}
	if err := unix.Ftruncate(int(f.Fd()), size); err != nil {
		return true, err
	}
	return true, f.Sync()
}

// ReplacePrefix replaces the file at path with its first size bytes: copy to path+TempSuffix, fsync, rename,
// fsync the directory. It is how a file without a descriptor is trimmed, and it is crash safe: after a crash
// the file is either the old one or the trimmed one.
func ReplacePrefix(fs vfs.FS, path string, size int64) error {
	src, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + TempSuffix
	dst, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, io.NewSectionReader(src, 0, size)); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(fs, fs.PathDir(path))
}

// TrimFile cuts the file at path to size bytes durably: ftruncate and fsync where it has a descriptor,
// ReplacePrefix where it has none. A file already that size is fsynced all the same: its bytes may have
// been written by a process that stopped before its fsync, and whoever trims it is about to trust them.
// path must be a regular file (ErrNotRegular otherwise: a link is never followed).
func TrimFile(fs vfs.FS, path string, size int64) error {
	f, err := OpenRegularReadWrite(fs, path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if st.Size() == size {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	handled, err := Truncate(f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || handled {
		return err
	}
	return ReplacePrefix(fs, path, size)
}

// RemoveSynced removes the file at path and fsyncs its directory.
func RemoveSynced(fs vfs.FS, path string) error {
	if err := fs.Remove(path); err != nil {
		return err
	}
	return SyncDir(fs, fs.PathDir(path))
}
