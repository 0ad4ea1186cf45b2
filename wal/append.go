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
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	frame, h, err := l.encode(bp, records)
	if err != nil {
		return 0, err
	}
	return l.appendEncoded(frame, &h, nil, nil, true)
}

// encode checks records against the limits and encodes them as one batch into *bp (kept there, grown, for
// the pool), returning the frame and its header. Append and AppendAsync share it.
func (l *Log) encode(bp *[]byte, records []segment.Record) ([]byte, segment.BatchHeader, error) {
	if l.readOnly {
		return nil, segment.BatchHeader{}, ErrReadOnly
	}
	frame, h, err := l.encodeAppend((*bp)[:0], records)
	*bp = frame
	return frame, h, err
}

// encodeAppend checks records against the limits and appends them to dst, encoded as one batch, returning
// dst and the new batch's header. encode and AppendBatches share it.
func (l *Log) encodeAppend(dst []byte, records []segment.Record) ([]byte, segment.BatchHeader, error) {
	if len(records) == 0 {
		return dst, segment.BatchHeader{}, ErrEmptyBatch
	}
	for i := range records {
		if err := l.opts.Limits.CheckMessage(records[i].Key, records[i].Value); err != nil {
			return dst, segment.BatchHeader{}, err
		}
	}
	start := len(dst)
	out, err := segment.AppendBatch(dst, records, segment.EncodeOptions{Epoch: l.epoch, Compression: l.opts.Compression})
	if err != nil {
		return dst, segment.BatchHeader{}, err
	}
	if n := len(out) - start; n > l.opts.Limits.MaxBatchBytes {
		return out, segment.BatchHeader{}, fmt.Errorf("%w: batch of %d bytes, limit %d", segment.ErrTooLarge, n, l.opts.Limits.MaxBatchBytes)
	}
	h, err := segment.ParseHeader(out[start:])
	return out, h, err
}

// Err returns the sticky error that stopped the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.err
}

// AppendBatches writes each element of batches as a batch of its own, all queued under one hold of the
// append lock, so that they go to disk in one group commit: one write and, under SyncAlways, one fsync
// (more only where a segment rolls between them). It returns the offset of the first record; the batches
// get consecutive offsets. A log whose batches hold one record each can be cut at any offset
// (TruncateFrom): package raftstore stores one raft entry per batch this way. Either every batch is
// appended or, on error, none is acknowledged.
func (l *Log) AppendBatches(batches [][]segment.Record) (int64, error) {
	if len(batches) == 0 {
		return 0, ErrEmptyBatch
	}
	if l.readOnly {
		return 0, ErrReadOnly
	}
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf := (*bp)[:0]
	headers := make([]segment.BatchHeader, 0, len(batches))
	for _, records := range batches {
		var h segment.BatchHeader
		var err error
		buf, h, err = l.encodeAppend(buf, records)
		*bp = buf
		if err != nil {
			return 0, err
		}
		headers = append(headers, h)
	}

	l.mu.Lock()
	if l.mu.closing {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if err := l.mu.err; err != nil {
		l.mu.Unlock()
		return 0, err
	}
	first := l.mu.nextOffset
	direct := l.commitsAloneLocked() // (asked before the frames are noted: it looks for an empty queue)
	off := 0
	for i := range headers {
		frame := buf[off : off+int(headers[i].FrameSize())]
		off += len(frame)
		l.noteFrameLocked(frame, &headers[i])
	}
	gen := l.mu.gen
	l.metrics.appends.Add(1)
	l.commitNotedLocked(buf, direct)
	<-gen.done
	if gen.err != nil {
		return 0, gen.err
	}
	return first, nil
}
