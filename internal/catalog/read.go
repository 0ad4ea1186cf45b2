package catalog

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mqlog/mqlog/internal/fanin"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// FollowPollInterval is how often a reader of a read-only log checks its files at the readable end: a
// writer in another process sends no notification.
const FollowPollInterval = 20 * time.Millisecond

// Reader reads one partition, and can wait at its readable end.
type Reader struct {
	Log *wal.Log
	*wal.Reader
}

// NewReader opens a reader of l at offset from, after picking up what a writer in another process
// appended when l is read-only.
func NewReader(l *wal.Log, from int64, copyRecords bool) (*Reader, error) {
	if err := l.Refresh(); err != nil {
		return nil, err
	}
	r, err := l.NewReader(from, copyRecords)
	if err != nil {
		return nil, err
	}
	return &Reader{Log: l, Reader: r}, nil
}

// NextWait returns the next record, waiting for one until ctx is done.
func (r *Reader) NextWait(ctx context.Context) (*segment.Record, error) {
	for {
		changed := r.Log.Changed() // taken before Next, so that no advance is missed
		rec, err := r.Next()
		if !errors.Is(err, io.EOF) {
			return rec, err
		}
		if err := r.wait(ctx, changed); err != nil {
			return nil, err
		}
	}
}

// wait blocks until the log's high watermark may have moved or ctx is done.
func (r *Reader) wait(ctx context.Context, changed <-chan struct{}) error {
	if !r.Log.ReadOnly() {
		return fanin.Wait(ctx, nil, changed)
	}
	poll, stop := fanin.Timer(time.Now().Add(FollowPollInterval))
	defer stop()
	if err := fanin.Wait(ctx, poll, changed); err != nil {
		return err
	}
	return r.Log.Refresh()
}
