package mqlog

import (
	"context"
	"fmt"
	"time"

	"github.com/mqlog/mqlog/wal"
)

// CompactOptions say what DB.Compact works on and how.
type CompactOptions struct {
	// Topic limits the run to one topic; empty means every topic.
	Topic string
	// DryRun computes what would be reclaimed and changes nothing.
	DryRun bool
	// Progress, if not nil, is called with the bytes read so far and the total bytes of the closed segments
	// the run looks at (an upper bound: several compaction passes read some segments more than once).
	Progress func(read, total int64)

	background bool // the cleaner: compact only partitions with enough new closed bytes
}

// CompactReport says what retention and compaction did (or, in a dry run, would do) to one partition.
// Before and after cover the whole partition log, active segment included.
type CompactReport struct {
	Topic          string             `json:"topic"`
	Partition      int32              `json:"partition"`
	CleanupPolicy  CleanupPolicy      `json:"cleanup_policy"`
	SegmentsBefore int                `json:"segments_before"`
	SegmentsAfter  int                `json:"segments_after"`
	RecordsBefore  int64              `json:"records_before"`
	RecordsAfter   int64              `json:"records_after"`
	BytesBefore    int64              `json:"bytes_before"`
	BytesAfter     int64              `json:"bytes_after"`
	StartOffset    int64              `json:"start_offset"`         // the log start after the run
	Deleted        wal.DeleteResult   `json:"deleted"`              // whole segments removed by retention
	Compaction     *wal.CompactResult `json:"compaction,omitempty"` // nil for a topic that is not compacted
	Exact          bool               `json:"exact"`                // false when a dry run could only estimate
}

// Compact applies each topic's retention limits (size, age and, with RetentionInterest, consumption) and
// compacts the closed segments of compacted topics: what `mqlog compact` runs offline and the background
// cleaner runs every RetentionCheckInterval. Producers and consumers go on meanwhile (docs/RETENTION.md).
// In a dry run the compaction figures assume the retention deletes have not happened (both are computed on
// the log as it is).
func (db *DB) Compact(ctx context.Context, opts CompactOptions) ([]CompactReport, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	names := db.Topics()
	if opts.Topic != "" {
		if _, err := db.topic(opts.Topic); err != nil {
			return nil, err
		}
		names = []string{opts.Topic}
	}
	var total int64
	var targets []*topic
	for _, name := range names {
		t, err := db.topic(name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		for _, l := range t.partitions {
			for _, s := range l.Segments() {
				if !s.Active {
					total += s.Size
				}
			}
		}
	}
	var reports []CompactReport
	var readBefore int64
	for _, t := range targets {
		cfg := db.configOf(t)
		var floors map[int32]int64
		if cfg.RetentionPolicy == RetentionInterest {
			f, ok, err := db.consumedFloors(t)
			if err != nil {
				return reports, err
			}
			if ok {
				floors = f
			}
		}
		for p, l := range t.partitions {
			if err := ctx.Err(); err != nil {
				return reports, err
			}
			rep, read, err := db.compactPartition(ctx, t, cfg, int32(p), l, floors, opts, readBefore, total)
			readBefore += read
			if err != nil {
				return reports, fmt.Errorf("mqlog: compact %s partition %d: %w", t.name, p, err)
			}
			reports = append(reports, rep)
		}
	}
	return reports, nil
}

func (db *DB) compactPartition(ctx context.Context, t *topic, cfg TopicConfig, p int32, l *wal.Log, floors map[int32]int64,
	opts CompactOptions, readBefore, total int64) (CompactReport, int64, error) {
	rep := CompactReport{Topic: t.name, Partition: p, CleanupPolicy: cfg.CleanupPolicy, Exact: true}
	segs := l.Segments()
	rep.SegmentsBefore = len(segs)
	for _, s := range segs {
		rep.BytesBefore += s.Size
	}
	activeBase, hw := segs[len(segs)-1].BaseOffset, l.HighWatermark()
	compacted := cfg.CleanupPolicy == CleanupCompact
	if !compacted {
		rep.RecordsBefore = hw - l.StartOffset()
	}

	ret := db.retentionOf(t, cfg, p, floors, time.Now())
	var err error
	if opts.DryRun {
		rep.Deleted = l.PlanRetention(ret)
	} else if rep.Deleted, err = l.DeleteSegments(ret); err != nil {
		return rep, 0, err
	}

	var read int64
	if compacted && (!opts.background || db.dirtyEnough(l)) {
		deleteRetention := time.Duration(cfg.DeleteRetentionMs) * time.Millisecond
		if deleteRetention == 0 {
			deleteRetention = DefaultDeleteRetention
		}
		co := wal.CompactOptions{
			MapBytes: db.opts.CompactionMapBytes, BytesPerSecond: db.opts.CompactionBytesPerSecond,
			DeleteRetention: deleteRetention, DryRun: opts.DryRun,
		}
		if opts.Progress != nil {
			co.Progress = func(n int64) { opts.Progress(readBefore+n, total); read = n }
		}
		res, err := l.Compact(ctx, co)
		if err != nil {
			return rep, read, err
		}
		rep.Compaction = &res
		rep.Exact = res.Exact
		if !opts.DryRun {
			db.noteCompacted(l)
		}
	}

	after := l.Segments()
	active := hw - activeBase // the active segment is never compacted: no gaps
	switch {
	case compacted && rep.Compaction != nil:
		rep.RecordsBefore = rep.Compaction.RecordsBefore + active
		rep.RecordsAfter = rep.Compaction.RecordsAfter + active
	case compacted:
		rep.RecordsBefore, rep.RecordsAfter = -1, -1 // not counted: the background run skipped this log
	default:
		rep.RecordsAfter = rep.RecordsBefore - rep.Deleted.Offsets
	}
	if opts.DryRun {
		rep.SegmentsAfter = rep.SegmentsBefore - rep.Deleted.Segments
		rep.BytesAfter = rep.BytesBefore - rep.Deleted.Bytes
		if c := rep.Compaction; c != nil {
			rep.SegmentsAfter += c.SegmentsAfter - c.SegmentsBefore
			rep.BytesAfter += c.BytesAfter - c.BytesBefore
		}
		rep.StartOffset = rep.Deleted.StartOffset
	} else {
		rep.SegmentsAfter = len(after)
		for _, s := range after {
			rep.BytesAfter += s.Size
		}
		rep.StartOffset = l.StartOffset()
	}
	return rep, read, nil
}

// dirtyEnough reports whether l has closed at least as many bytes since its last compaction as that
// compaction left (Kafka's min.cleanable.dirty.ratio of 0.5); a log not compacted since open is.
func (db *DB) dirtyEnough(l *wal.Log) bool {
	var closed int64
	for _, s := range l.Segments() {
		if !s.Active {
			closed += s.Size
		}
	}
	db.cleaner.mu.Lock()
	defer db.cleaner.mu.Unlock()
	last, ok := db.cleaner.mu.compactedBytes[l]
	return closed > 0 && (!ok || closed-last >= last)
}

func (db *DB) noteCompacted(l *wal.Log) {
	var closed int64
	for _, s := range l.Segments() {
		if !s.Active {
			closed += s.Size
		}
	}
	db.cleaner.mu.Lock()
	db.cleaner.mu.compactedBytes[l] = closed
	db.cleaner.mu.Unlock()
}
