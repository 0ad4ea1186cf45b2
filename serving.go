package mqlog

import (
	"errors"
	"io/fs"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/base"
)

// removeStaleServingFile runs in Open once the directory's exclusive lock is taken: a SERVING file (and
// the SERVING.tmp it is written through) found then belongs to a process that held the lock before and is
// gone without removing it (killed, or crashed): a serving process records its listeners only while it
// holds the lock (kafka package, docs/FORMAT.md "The SERVING file"). Left there, it would name a dead
// address, and a later holder of the lock with the killed server's pid (pids are reused) would make
// kafka.FindServing trust it. This process's own server writes it again when it starts listening. A
// failure to remove it is logged, never fatal: FindServing tells a stale file by the lock.
func (db *DB) removeStaleServingFile() {
	for _, name := range []string{base.ServingFileName, base.ServingFileName + ".tmp"} {
		path := db.opts.FS.PathJoin(db.dir, name)
		err := db.opts.FS.Remove(path)
		switch {
		case err == nil:
			db.opts.Logger.Info("mqlog: removed a SERVING file left by a process that no longer holds the directory", "file", path)
		case !errors.Is(err, fs.ErrNotExist):
			db.opts.Logger.Warn("mqlog: remove stale SERVING file", "file", path, "err", err)
		}
	}
}

// servesFiles reports whether the SERVING file can exist where fs writes: the kafka package writes it
// only on the operating system's filesystem.
func servesFiles(fs vfs.FS) bool { return fs == vfs.Default }
