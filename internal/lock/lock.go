// Package lock is the writer's lock on a data directory (one writer per directory, readers need none).
//
// On the operating system's filesystem it is flock(2) on <dir>/LOCK, held by an open descriptor: it works
// across processes, is released when the process dies, and a second Open in the same process opens another
// descriptor and fails the same way. vfs.FS.Lock is not used: its fcntl lock is released when any
// descriptor of the file closes. The holder writes its pid and start time into the file, so that a second
// writer's error says who holds it. On any other filesystem (the in-memory one of the tests) the lock is
// in-process, keyed by the filesystem and the path.
package lock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/base"
	"golang.org/x/sys/unix"
)

// Exclusive takes the writer's lock on dir. A directory held by another writer gives an error wrapping
// base.ErrLocked that names the holder when it is known.
func Exclusive(fs vfs.FS, dir string) (io.Closer, error) {
	if fs != vfs.Default {
		return lockInProcess(fs, dir)
	}
	path := filepath.Join(dir, base.LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mqlog: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s%s", base.ErrLocked, path, holder(path))
		}
		return nil, fmt.Errorf("mqlog: lock %s: %w", path, err)
	}
	return f, nil
}

// RecordHolder writes this process's pid and the time into the lock file held by l, for the error of the
// next writer. Only a writer that keeps the directory does it (not a repair dry run, which changes
// nothing). Best effort: the lock is the flock, not the text.
func RecordHolder(l io.Closer) {
	if f, ok := l.(*os.File); ok {
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt(fmt.Appendf(nil, "pid %d started %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339)), 0)
		}
	}
}

// holder returns ", held by pid N (started T)" from the lock file, or "" when it says nothing readable.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 || len(b) > 200 {
		return ""
	}
	var pid int
	var started string
	if n, _ := fmt.Sscanf(string(b), "pid %d started %s", &pid, &started); n != 2 {
		return ""
	}
	return fmt.Sprintf(" (held by pid %d, started %s)", pid, strings.TrimSpace(started))
}

// Shared takes a shared flock on <dir>/LOCK when the file exists on the operating system's filesystem,
// without creating it, for readers of Pebble's files (verify). held reports that a writer has the
// exclusive lock; release drops the shared one. On another filesystem it only checks the in-process lock.
func Shared(fs vfs.FS, dir string) (held bool, release func(), err error) {
	release = func() {}
	if fs != vfs.Default {
		inProcessLocks.Lock()
		defer inProcessLocks.Unlock()
		return inProcessLocks.held[inProcessKey(fs, dir)], release, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, base.LockFileName), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, release, nil
	} else if err != nil {
		return false, release, fmt.Errorf("mqlog: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return true, release, nil
		}
		return false, release, fmt.Errorf("mqlog: lock %s: %w", f.Name(), err)
	}
	return false, func() { f.Close() }, nil
}

var inProcessLocks struct {
	sync.Mutex
	held map[string]bool
}

type inProcessLock struct{ key string }

func inProcessKey(fs vfs.FS, dir string) string { return fmt.Sprintf("%p:%s", fs, dir) }

func lockInProcess(fs vfs.FS, dir string) (io.Closer, error) {
	key := inProcessKey(fs, dir)
	inProcessLocks.Lock()
	defer inProcessLocks.Unlock()
	if inProcessLocks.held == nil {
		inProcessLocks.held = make(map[string]bool)
	}
	if inProcessLocks.held[key] {
		return nil, fmt.Errorf("%w: %s", base.ErrLocked, dir)
	}
	inProcessLocks.held[key] = true
	return &inProcessLock{key: key}, nil
}

func (l *inProcessLock) Close() error {
	inProcessLocks.Lock()
	defer inProcessLocks.Unlock()
	delete(inProcessLocks.held, l.key)
	return nil
}

// HolderPID returns the pid that the lock file of dir (on the operating system's filesystem) names as its
// holder, and false when it names none readable. It says who wrote the file last, not whether the flock
// is held: pair it with Shared.
func HolderPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, base.LockFileName))
	if err != nil || len(b) == 0 || len(b) > 200 {
		return 0, false
	}
	var pid int
	if n, _ := fmt.Sscanf(string(b), "pid %d started", &pid); n != 1 || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// ProcessAlive reports whether a process with this pid exists (kill(pid, 0) does not say ESRCH).
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
