package fsutil

import (
	"fmt"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// NotWorldWritable wraps fs so that no file or directory it creates is writable by others, whatever the
// process's umask: Pebble's filesystem creates files with mode 0666 and leaves the rest to the umask, so a
// process running with umask 0 would otherwise leave a data directory that any local user could rewrite.
// Modes the umask makes stricter are kept as they are.
func NotWorldWritable(fs vfs.FS) vfs.FS { return notWorldWritableFS{fs} }

type notWorldWritableFS struct{ vfs.FS }

// Create creates the file, then clears its write bit for others.
func (fs notWorldWritableFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	if err := clearWorldWrite(f, name); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MkdirAll creates dir and its parents without the write bit for others.
func (fs notWorldWritableFS) MkdirAll(dir string, perm os.FileMode) error {
	return fs.FS.MkdirAll(dir, perm&^0o002)
}

// Unwrap returns the wrapped filesystem.
func (fs notWorldWritableFS) Unwrap() vfs.FS { return fs.FS }

func clearWorldWrite(f vfs.File, name string) error {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if mode := info.Mode().Perm(); mode&0o002 != 0 {
		if err := unix.Fchmod(int(fd), uint32(mode&^0o002)); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	return nil
}

// Lock takes the lock on name (creating the file), then clears its write bit for others.
func (fs notWorldWritableFS) Lock(name string) (io.Closer, error) {
	c, err := fs.FS.Lock(name)
	if err != nil {
		return nil, err
	}
	if info, err := os.Stat(name); err == nil && info.Mode().Perm()&0o002 != 0 {
		if err := os.Chmod(name, info.Mode().Perm()&^0o002); err != nil {
			c.Close()
			return nil, fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	return c, nil
}
