package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrNotRegular is returned for a path that must be a regular file of the data directory and is something
// else: a symbolic link (never followed: it could point outside the data directory and get a file there
// truncated or appended to), a directory, a device or a pipe.
var ErrNotRegular = errors.New("not a regular file")

// ErrExists is returned by CreateNew for a path that already exists.
var ErrExists = errors.New("file already exists")

// onDisk reports whether fs is, under its wrappers, the operating system's filesystem: the only one with
// symbolic links.
func onDisk(fs vfs.FS) bool { return vfs.Root(fs) == vfs.Default }

// Lstat returns the FileInfo of path without following a symbolic link at it. On a filesystem other than the
// operating system's (which has no links) it is fs.Stat.
func Lstat(fs vfs.FS, path string) (os.FileInfo, error) {
	if onDisk(fs) {
		return os.Lstat(path)
	}
	return fs.Stat(path)
}

// CheckRegular returns an error wrapping ErrNotRegular, naming path and what it is, unless path is a
// regular file. A missing path is the os.ErrNotExist of Lstat.
func CheckRegular(fs vfs.FS, path string) (os.FileInfo, error) {
	info, err := Lstat(fs, path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(info.Mode()))
	}
	return info, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "mode " + m.Type().String()
}

// OpenRegular opens path for reading, refusing anything that is not a regular file (O_NOFOLLOW in effect:
// the file opened is checked to be the one Lstat saw, so a link swapped in between is refused too).
func OpenRegular(fs vfs.FS, path string) (vfs.File, error) {
	return openRegular(fs, path, false)
}

// OpenRegularReadWrite is OpenRegular for writing.
func OpenRegularReadWrite(fs vfs.FS, path string) (vfs.File, error) {
	return openRegular(fs, path, true)
}

func openRegular(fs vfs.FS, path string, write bool) (vfs.File, error) {
	before, err := CheckRegular(fs, path)
	if err != nil {
		return nil, err
	}
	var f vfs.File
	if write {
		f, err = fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	} else {
		f, err = fs.Open(path)
	}
	if err != nil {
		return nil, err
	}
	if onDisk(fs) {
		after, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !sameFile(before, after) {
			f.Close()
			return nil, fmt.Errorf("%s: %w (replaced while being opened)", path, ErrNotRegular)
		}
	}
	return f, nil
}

// sameFile reports whether two FileInfos of the operating system's filesystem describe one file (device
// and inode). Without those it assumes they do.
func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return true
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// CreateNew creates the file path, which must not exist in any form (a link named path is not followed:
// it is an error wrapping ErrExists, as is any other file there).
func CreateNew(fs vfs.FS, path string) (vfs.File, error) {
	if info, err := Lstat(fs, path); err == nil {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrExists, describe(info.Mode()))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return fs.Create(path, vfs.WriteCategoryUnspecified)
}

func describe(m fs.FileMode) string {
	if m.IsRegular() {
		return "a regular file"
	}
	return kind(m)
}
