package index

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
)

// markerOrderFS makes Pebble's manifest rotation crash-safe on filesystems that may persist directory
// entries out of order.
//
// Pebble rotates its manifest (at every open, and when it grows) by creating MANIFEST-n, syncing the file,
// creating a marker file that names it, removing the old marker, and only then syncing the directory. POSIX
// does not order the two creations: a crash before that directory sync may keep the new marker's entry and
// lose the manifest's, and Pebble then refuses to open ("could not open manifest file"). Journaling
// filesystems commit one directory's entries in order, but the crash-simulating filesystem of our tests (and
// a few real ones) do not. So before a marker file is created, the directory is synced: every file created
// earlier in it, the new manifest included, is durable before any marker can point at it. This costs one
// directory fsync per manifest rotation, never one per write.
//
// It also backs off Pebble's retries on a full disk (diskfull.go): once watch saw ENOSPC, every file it
// creates waits diskFullBackoff first.
type markerOrderFS struct {
	vfs.FS
	watch *diskFullWatch
}

// Create syncs the directory before creating a marker file, then creates name.
func (fs markerOrderFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.watch != nil && fs.watch.full.Load() {
		time.Sleep(diskFullBackoff)
	}
	if strings.HasPrefix(fs.PathBase(name), "marker.") {
		if err := fsutil.SyncDir(fs.FS, fs.PathDir(name)); err != nil {
			return nil, err
		}
	}
	return fs.FS.Create(name, category)
}

// Unwrap returns the wrapped filesystem.
func (fs markerOrderFS) Unwrap() vfs.FS { return fs.FS }

// readOnlyLockFS is the filesystem of a store opened read-only: Pebble's own lock file cannot be created
// on a read-only filesystem (a mounted backup, a snapshot), and a read-only store writes nothing, so when
// taking the lock fails with EROFS the open goes on without it. (Callers exclude writers with the data
// directory's own lock: mqlog.Verify and mqlog.ReadIndex hold it shared.)
type readOnlyLockFS struct{ vfs.FS }

// Lock takes the lock, or none on a read-only filesystem.
func (fs readOnlyLockFS) Lock(name string) (io.Closer, error) {
	c, err := fs.FS.Lock(name)
	if errors.Is(err, syscall.EROFS) {
		return io.NopCloser(nil), nil
	}
	return c, err
}

// Unwrap returns the wrapped filesystem.
func (fs readOnlyLockFS) Unwrap() vfs.FS { return fs.FS }
