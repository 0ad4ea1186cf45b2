package index

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A full disk must give a clear error, never a hang. Pebble's Open flushes the write-ahead log it replays
// and waits for that flush; a flush that fails is retried at once, forever (Pebble has no backoff for it),
// so on a full disk pebble.Open never returns and spins a core. Two guards:
//
//  1. Before opening for writing, the free space is checked against what the open writes (the replayed
//     log's flush, a new manifest and options file): too little is ENOSPC at once.
//  2. If a background error ENOSPC arrives during the open anyway (the disk filled in between), Open
//     returns it; the abandoned pebble.Open goes on in its goroutine, now backed off (each new file waits
//     a moment once the disk was found full), and is closed if it ever finishes.

// openSpaceMargin is the space an open needs beside twice the replayed log: a manifest, an options file
// and a new log, and a filesystem block for each.
const openSpaceMargin = 64 << 10

// diskFullBackoff is how long creating a file waits once Pebble met ENOSPC, so that its endless flush
// retries do not spin.
const diskFullBackoff = 100 * time.Millisecond

// checkSpace returns an error wrapping syscall.ENOSPC when dir's filesystem has less free space than
// opening the store in it writes. A filesystem that does not report its usage is not checked.
func checkSpace(fs vfs.FS, dir string) error {
	usage, err := fs.GetDiskUsage(dir)
	if err != nil || usage.TotalBytes == 0 {
		return nil
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil
	}
	var need uint64 = openSpaceMargin
	for _, n := range names {
		if info, err := fs.Stat(fs.PathJoin(dir, n)); err == nil {
			switch {
			case strings.HasSuffix(n, ".log"):
				need += 2 * uint64(info.Size())
			case strings.HasPrefix(n, "MANIFEST-"):
				need += uint64(info.Size())
			}
		}
	}
	if usage.AvailBytes < need {
		return fmt.Errorf("%w: %d bytes free on the filesystem of %s, opening the index needs about %d", syscall.ENOSPC, usage.AvailBytes, dir, need)
	}
	return nil
}

// diskFullWatch notices ENOSPC in Pebble's background work.
type diskFullWatch struct {
	full   atomic.Bool // set by an ENOSPC, cleared by a flush that succeeds
	once   sync.Once
	failed chan error // the first ENOSPC, for an Open in progress
}

func newDiskFullWatch() *diskFullWatch { return &diskFullWatch{failed: make(chan error, 1)} }

// listen makes l report to w; background errors are logged to logger too, as Pebble's default does.
func (w *diskFullWatch) listen(l *pebble.EventListener, logger pebble.Logger) {
	l.BackgroundError = func(err error) {
		logger.Errorf("background error: %s", err)
		if errors.Is(err, syscall.ENOSPC) {
			w.full.Store(true)
			w.once.Do(func() { w.failed <- err })
		}
	}
	l.FlushEnd = func(info pebble.FlushInfo) {
		if info.Err == nil {
			w.full.Store(false)
		}
	}
}

// openWithWatch runs pebble.Open, returning early with the ENOSPC that w reports during it.
func openWithWatch(dir string, opts *pebble.Options, w *diskFullWatch) (*pebble.DB, error) {
	type result struct {
		db  *pebble.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := pebble.Open(dir, opts)
		done <- result{db, err}
	}()
	select {
	case r := <-done:
		return r.db, r.err
	case err := <-w.failed:
		go func() { // the abandoned open: close it if it ever finishes
			if r := <-done; r.db != nil {
				r.db.Close()
			}
		}()
		return nil, fmt.Errorf("%w (the disk is full)", err)
	}
}
