package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mqlog/mqlog/segment"
)

// Defaults of CompactOptions' zero fields.
const (
	// DefaultCompactionMapBytes bounds the key map of one compaction (Kafka's log.cleaner.dedupe.buffer.size
	// is 128 MiB shared by its cleaner threads; one log is compacted at a time here).
	DefaultCompactionMapBytes = 16 << 20
)

// CompactOptions tune Compact.
type CompactOptions struct {
	// MapBytes bounds the memory of the key map (hash of key -> offset of its latest record). When the
	// closed segments hold more keys than fit, compaction runs several passes, as Kafka's cleaner does.
	MapBytes int64
	// BytesPerSecond limits the I/O of compaction, bytes read plus bytes written; 0 is unlimited.
	BytesPerSecond int64
	// DeleteRetention is how long a tombstone (a record with a null value) is kept after its timestamp,
	// so that consumers see the delete; an older tombstone that is its key's latest record is removed.
	DeleteRetention time.Duration
	// Now is the reference time of DeleteRetention; zero means time.Now().
	Now time.Time
	// DryRun computes what the first pass would do and writes nothing.
	DryRun bool
	// Progress, if not nil, is called from time to time with the bytes read so far.
	Progress func(bytesRead int64)
}

// CompactResult says what Compact did (or, with DryRun, would do) to the log's closed segments.
type CompactResult struct {
	Passes         int   `json:"passes"`          // passes run (with DryRun: passes a real run needs)
	Exact          bool  `json:"exact"`           // false for a dry run that needs more than one pass: "after" counts only the first
	SegmentsBefore int   `json:"segments_before"` // closed segments compacted
	SegmentsAfter  int   `json:"segments_after"`  // segments that replace them
	RecordsBefore  int64 `json:"records_before"`  // records in them
	RecordsAfter   int64 `json:"records_after"`
	BytesBefore    int64 `json:"bytes_before"`
	BytesAfter     int64 `json:"bytes_after"`
	Tombstones     int64 `json:"tombstones"` // tombstones removed (past DeleteRetention)
	BytesRead      int64 `json:"bytes_read"` // I/O done, for throughput figures
	BytesWritten   int64 `json:"bytes_written"`
}

// Compact rewrites the log's closed segments keeping only the latest record of each key (Kafka's log
// cleaner), and merges the small segments this produces. Offsets are preserved: the compacted log has
// gaps, and readers skip them. Records keep their timestamps and headers; a batch whose records all stay
// is copied byte for byte, others are re-encoded with their surviving records, codec and epoch. A record
// without a key is always kept. A tombstone is removed once older than DeleteRetention.
//
// Compaction works on closed segments only, outside the log's mutex: appends go on, and only the swap of
// each pass (swapSegments) takes the state lock, which a roll also takes. Its memory is bounded by
// MapBytes: a pass builds the key map from where the previous one stopped until the map is full, then
// rewrites every closed segment up to that point against it. It stops early, leaving the log as the last
// finished pass left it, when ctx is done or the log is closing.
func (l *Log) Compact(ctx context.Context, opts CompactOptions) (CompactResult, error) {
	var res CompactResult
	if l.readOnly {
		return res, ErrReadOnly
	}
	if !l.compacted.Load() {
		return res, ErrNotCompacted
	}
	if opts.MapBytes <= 0 {
		opts.MapBytes = DefaultCompactionMapBytes
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	l.maintenance.Lock()
	defer l.maintenance.Unlock()
	if l.isClosing() {
		return res, ErrClosed
	}
	if err := l.Err(); err != nil {
		return res, err
	}
	c := &compactor{log: l, opts: opts, keys: newKeyMap(opts.MapBytes), throttle: newThrottle(opts.BytesPerSecond), ctx: ctx}
	closed := c.closedSegments(-1)
	if len(closed) == 0 {
		res.Exact = true
		return res, nil
	}
	limit := closed[len(closed)-1].nextOffset // segments rolled from now on wait for the next run
	res.SegmentsBefore = len(closed)
	for _, s := range closed {
		res.BytesBefore += s.size
	}
	mapStart := closed[0].base
	for {
		res.Passes++
		closed = c.closedSegments(limit)
		c.keys.reset()
		mapEnd, records, err := c.buildKeyMap(closed, mapStart, limit)
		if err != nil {
			return res, err
		}
		res.RecordsBefore += records
		last := 0
		for i, s := range closed {
			if s.base < mapEnd {
				last = i
			}
		}
		inputs := closed[:last+1]
		out, err := c.rewrite(inputs, mapEnd)
		if err != nil {
			c.removeOutputs(out)
			return res, err
		}
		res.Tombstones += c.tombstones
		if opts.DryRun {
			beyond := closed[last+1:]
			rest, err := c.countRecords(beyond)
			if err != nil {
				return res, err
			}
			res.RecordsBefore = c.seen + rest
			res.RecordsAfter, res.BytesAfter, res.SegmentsAfter = c.kept+rest, c.written, len(out.files)+len(beyond)
			for _, s := range beyond {
				res.BytesAfter += s.size
			}
			for mapEnd < limit { // count the passes a real run would need
				res.Passes++
				c.keys.reset()
				if mapEnd, _, err = c.buildKeyMap(closed, mapEnd, limit); err != nil {
					return res, err
				}
			}
			res.Exact = res.Passes == 1
			break
		}
		if c.changed(inputs, out) {
			if err := c.syncOutputs(out); err != nil {
				c.removeOutputs(out)
				return res, err
			}
			if err := l.swapSegments(inputs, out.segments()); err != nil {
				if l.Err() == nil {
					c.removeOutputs(out)
				}
				return res, err
			}
			if len(c.entries) > 0 {
				if err := l.opts.Index.AddEntries(c.entries); err != nil {
					return res, fmt.Errorf("mqlog/wal: index entries of compacted segments: %w", err)
				}
			}
		} else {
			c.removeOutputs(out)
		}
		mapStart = mapEnd
		if mapEnd >= limit {
			final := c.closedSegments(limit)
			res.SegmentsAfter = len(final)
			res.RecordsAfter = c.kept
			for _, s := range final {
				res.BytesAfter += s.size
			}
			res.Exact = true
			break
		}
	}
	res.BytesRead, res.BytesWritten = c.read, c.writtenTotal
	return res, nil
}

// compactor is the working state of one Compact call.
type compactor struct {
	log      *Log
	opts     CompactOptions
	keys     *keyMap
	throttle *throttle
	ctx      context.Context

	read, writtenTotal int64 // I/O of the whole run
	// per pass
	seen, kept, written, tombstones int64
	entries                         []IndexEntry
	entryMaxTs                      int64
	batch                           []segment.Record
	keep                            []segment.Record
	frame                           []byte
	checks                          int
}

// closedSegments returns the closed segments that start below limit (all of them for limit < 0).
func (c *compactor) closedSegments(limit int64) []closedSegment {
	l := c.log
	l.state.Lock()
	defer l.state.Unlock()
	closed := slices.Clone(l.state.saved.closed)
	if limit >= 0 {
		closed = slices.DeleteFunc(closed, func(s closedSegment) bool { return s.base >= limit })
	}
	return closed
}

// stopped reports why compaction must stop early, checked every few batches.
func (c *compactor) stopped() error {
	c.checks++
	if c.checks%32 != 0 {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.log.isClosing() {
		return ErrClosed
	}
	return nil
}

// eachBatch reads the batches of a closed segment in order, throttled, and calls fn with each batch's
// decoded records (valid until fn returns).
func (c *compactor) eachBatch(s closedSegment, fn func(h *segment.BatchHeader, frame []byte, records []segment.Record) error) error {
	l := c.log
	path := l.segmentPath(s.base)
	f, err := l.opts.FS.Open(path)
	if err != nil {
		return fmt.Errorf("mqlog/wal: compact: %w", err)
	}
	defer f.Close()
	r := segment.NewReader(f, path, 0, s.size, l.opts.Limits)
	for {
		pos, b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.stopped(); err != nil {
			return err
		}
		n := len(b.Frame)
		if err := c.throttle.wait(c.ctx, n); err != nil {
			return err
		}
		c.read += int64(n)
		if c.opts.Progress != nil {
			c.opts.Progress(c.read)
		}
		c.batch, err = b.Records(c.batch[:0], false, l.opts.Limits)
		if err != nil {
			return &segment.CorruptionError{Path: path, Offset: pos, Err: err}
		}
		if err := fn(&b.Header, b.Frame, c.batch); err != nil {
			return err
		}
	}
}

// buildKeyMap fills the key map with the latest offset of each key, reading the records at offsets from
// mapStart on, until the map is full or limit is reached. It returns the offset where the map stops (its
// records are all below it) and the number of records read at or after mapStart.
func (c *compactor) buildKeyMap(closed []closedSegment, mapStart, limit int64) (mapEnd int64, records int64, err error) {
	errFull := errors.New("full")
	mapEnd = limit
	for _, s := range closed {
		if s.nextOffset <= mapStart {
			continue
		}
		err := c.eachBatch(s, func(_ *segment.BatchHeader, _ []byte, recs []segment.Record) error {
			for i := range recs {
				r := &recs[i]
				if r.Offset < mapStart {
					continue
				}
				if r.Key != nil && !c.keys.put(r.Key, r.Offset) {
					mapEnd = r.Offset
					return errFull
				}
				records++
			}
			return nil
		})
		if errors.Is(err, errFull) {
			return mapEnd, records, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return mapEnd, records, nil
}

// countRecords counts the records of segs.
func (c *compactor) countRecords(segs []closedSegment) (int64, error) {
	var n int64
	for _, s := range segs {
		err := c.eachBatch(s, func(_ *segment.BatchHeader, _ []byte, recs []segment.Record) error {
			n += int64(len(recs))
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// keeps reports whether compaction against a map that covers offsets below mapEnd keeps r, and counts a
// removed tombstone.
func (c *compactor) keeps(r *segment.Record, mapEnd int64) bool {
	if r.Key == nil || r.Offset >= mapEnd {
		return true
	}
	if latest, ok := c.keys.latest(r.Key); ok && latest > r.Offset {
		return false // a later record of the same key exists
	}
	if r.Value == nil && r.Timestamp < c.opts.Now.Add(-c.opts.DeleteRetention).UnixMilli() {
		c.tombstones++
		return false // an expired tombstone, the latest record of its key: every older one is gone too
	}
	return true
}
