package wal

import (
	"fmt"
	"sync"

	"github.com/mqlog/mqlog/segment"
)

// framePool recycles encoding buffers: a batch is encoded outside the log's lock, then copied into the
// queue under it.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Append writes records as one batch and returns the offset of the first. Offsets are assigned here,
// contiguously. Under SyncAlways it returns once the batch is fsynced; under the other policies once it is
// written. Concurrent appends share writes and fsyncs (group commit). Once queued, an append is never
// abandoned: Append waits for its outcome. After a write or fsync error it returns that error (wrapping
// ErrFailStop), as does every later Append until the log is reopened.
func (l *Log) Append(records []segment.Record) (int64, error) {
	if len(records) == 0 {
		return 0, ErrEmptyBatch
	}
	if l.readOnly {
		return 0, ErrReadOnly
	}
	for i := range records {
		if err := l.opts.Limits.CheckMessage(records[i].Key, records[i].Value); err != nil {
			return 0, err
		}
	}
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	frame, err := segment.AppendBatch((*bp)[:0], records, segment.EncodeOptions{Epoch: l.epoch, Compression: l.opts.Compression})
	if err != nil {
		return 0, err
	}
	*bp = frame
	if len(frame) > l.opts.Limits.MaxBatchBytes {
		return 0, fmt.Errorf("%w: batch of %d bytes, limit %d", segment.ErrTooLarge, len(frame), l.opts.Limits.MaxBatchBytes)
	}
	h, err := segment.ParseHeader(frame)
	if err != nil {
		return 0, err
	}

	return l.appendEncoded(frame, &h, nil, nil)
}

// Err returns the sticky error that stopped the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.err
}
