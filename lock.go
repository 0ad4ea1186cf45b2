package mqlog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// LockFileName is the file in the data directory that the writer holds an exclusive flock(2) on.
const LockFileName = "LOCK"

// lockDir takes the writer's lock on dir (DESIGN.md decision 8). On the operating system's filesystem it
// is flock(2) on <dir>/LOCK, held by the open descriptor, so it works across processes and is released
// when the process dies; a second Open in the same process opens another descriptor and fails the same
// way. On any other filesystem (the in-memory one of the tests) it is an in-process lock keyed by the
// filesystem and the path.
func lockDir(fs vfs.FS, dir string) (io.Closer, error) {
	if fs != vfs.Default {
		return lockInProcess(fs, dir)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mqlog: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("mqlog: lock %s: %w", path, err)
	}
	return f, nil
}

var inProcessLocks struct {
	sync.Mutex
	held map[string]bool
}

type inProcessLock struct{ key string }

func lockInProcess(fs vfs.FS, dir string) (io.Closer, error) {
	key := fmt.Sprintf("%p:%s", fs, dir)
	inProcessLocks.Lock()
	defer inProcessLocks.Unlock()
	if inProcessLocks.held == nil {
		inProcessLocks.held = make(map[string]bool)
	}
	if inProcessLocks.held[key] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
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
