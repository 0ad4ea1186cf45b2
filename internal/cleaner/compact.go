package cleaner

import (
	"context"
	"fmt"
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// Request says what Run works on and how.
type Request struct {
	// Topic limits the run to one topic; empty means every topic.
	Topic string
	// DryRun computes what would be reclaimed and changes nothing.
	DryRun bool
	// Progress, if not nil, is called with the bytes read so far and the total bytes of the closed segments
	// the run looks at (an upper bound: several compaction passes read some segments more than once).
	Progress func(read, total int64)

	background bool // the cleaner: compact only partitions with enough new closed bytes
}

// Report says what retention and compaction did (or, in a dry run, would do) to one partition. Before
// and after cover the whole partition log, active segment included.
type Report struct {
	Topic          string             `json:"topic"`
	Partition      int32              `json:"partition"`
	CleanupPolicy  base.CleanupPolicy `json:"cleanup_policy"`
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
	// Rolled says that the active segment was closed first, being older than the topic's segment.ms
	// (in a dry run: would be; the figures then leave the roll out).
	Rolled bool `json:"rolled,omitempty"`
}

// Run applies each topic's retention limits (size, age and, with RetentionInterest, consumption) and
// compacts the closed segments of compacted topics. Producers and consumers go on meanwhile. In a dry run
// the compaction figures assume the retention deletes have not happened (both are computed on the log as
// it is).
func (c *Cleaner) Run(ctx context.Context, req Request) ([]Report, error) {
	names := c.topics.TopicNames()
	if req.Topic != "" {
		names = []string{req.Topic}
	}
	var total int64
	var targets []base.Topic
	for _, name := range names {
		t, err := c.topics.Topic(name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		for _, l := range t.Logs() {
			total += closedBytes(l)
		}
	}
	var reports []Report
	var readBefore int64
	if !req.DryRun {
		m := &c.counters
		m.runs.Add(1)
		m.running.Add(1)
		defer m.running.Add(-1)
		m.runRead.Store(0)
		m.runTotal.Store(total)
	}
	for _, t := range targets {
		cfg := t.Config()
		var floors map[int32]int64
		if cfg.RetentionPolicy == base.RetentionInterest {
			f, ok, err := c.consumedFloors(t)
			if err != nil {
				return reports, err
			}
			if ok {
				floors = f
			}
		}
		for p, l := range t.Logs() {
			if err := ctx.Err(); err != nil {
				return reports, err
			}
			rep, read, err := c.partition(ctx, t, cfg, int32(p), l, floors, req, readBefore, total)
			readBefore += read
			if !req.DryRun {
				m := &c.counters
				m.bytesRead.Add(read)
				m.runRead.Store(readBefore)
				if err == nil {
					m.bytesReclaimed.Add(max(0, rep.BytesBefore-rep.BytesAfter))
					m.segmentsDeleted.Add(int64(rep.Deleted.Segments))
				}
				if rep.Rolled {
					m.rolls.Add(1)
				}
			}
			if err != nil {
				return reports, fmt.Errorf("mqlog: compact %s partition %d: %w", t.Name(), p, err)
			}
			reports = append(reports, rep)
		}
	}
	return reports, nil
}

// retentionOf returns the wal retention limits of partition p under cfg.
func retentionOf(cfg base.TopicConfig, p int32, floors map[int32]int64, now time.Time) wal.Retention {
	ret := wal.Retention{MaxBytes: cfg.RetentionBytes, MaxAge: time.Duration(cfg.RetentionMs) * time.Millisecond, Now: now}
	if cfg.RetentionPolicy == base.RetentionInterest && floors != nil {
		ret.ConsumedBefore = floors[p]
	}
	return ret
}

func (c *Cleaner) partition(ctx context.Context, t base.Topic, cfg base.TopicConfig, p int32, l *wal.Log, floors map[int32]int64,
	req Request, readBefore, total int64) (Report, int64, error) {
	rep := Report{Topic: t.Name(), Partition: p, CleanupPolicy: cfg.CleanupPolicy, Exact: true}
	now := time.Now()
	rolled, err := c.rollIfOld(l, cfg, now, req.DryRun)
	if err != nil {
		return rep, 0, err
	}
	rep.Rolled = rolled
	segs := l.Segments()
	rep.SegmentsBefore = len(segs)
	for _, s := range segs {
		rep.BytesBefore += s.Size
	}
	activeBase, hw := segs[len(segs)-1].BaseOffset, l.HighWatermark()
	compacted := cfg.Compacted()
	if !compacted {
		rep.RecordsBefore = hw - l.StartOffset()
	}

	ret := retentionOf(cfg, p, floors, now)
	if req.DryRun {
		rep.Deleted = l.PlanRetention(ret)
	} else {
		var err error
		if rep.Deleted, err = l.DeleteSegments(ret); err != nil {
			return rep, 0, err
		}
		if rep.Deleted.Segments > 0 {
			for _, o := range c.observers {
				o.LogStartMoved(t, p, l.StartOffset())
			}
		}
	}

	var read int64
	if compacted && (!req.background || c.dirtyEnough(l)) {
		co := wal.CompactOptions{
			MapBytes: c.opts.MapBytes, BytesPerSecond: c.opts.BytesPerSecond,
			DeleteRetention: cfg.DeleteRetention(), DryRun: req.DryRun,
		}
		co.Progress = func(n int64) {
			read = n
			if !req.DryRun {
				c.counters.runRead.Store(readBefore + n)
			}
			if req.Progress != nil {
				req.Progress(readBefore+n, total)
			}
		}
		res, err := l.Compact(ctx, co)
		if err != nil {
			return rep, read, err
		}
		rep.Compaction = &res
		rep.Exact = res.Exact
		if !req.DryRun {
			c.noteCompacted(l)
		}
	}

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
	if req.DryRun {
		rep.SegmentsAfter = rep.SegmentsBefore - rep.Deleted.Segments
		rep.BytesAfter = rep.BytesBefore - rep.Deleted.Bytes
		if co := rep.Compaction; co != nil {
			rep.SegmentsAfter += co.SegmentsAfter - co.SegmentsBefore
			rep.BytesAfter += co.BytesAfter - co.BytesBefore
		}
		rep.StartOffset = rep.Deleted.StartOffset
	} else {
		after := l.Segments()
		rep.SegmentsAfter = len(after)
		for _, s := range after {
			rep.BytesAfter += s.Size
		}
		rep.StartOffset = l.StartOffset()
	}
	return rep, read, nil
}

// closedBytes sums the sizes of l's closed segments.
func closedBytes(l *wal.Log) int64 {
	var n int64
	for _, s := range l.Segments() {
		if !s.Active {
			n += s.Size
		}
	}
	return n
}

// dirtyEnough reports whether l has closed at least as many bytes since its last compaction as that
// compaction left (Kafka's min.cleanable.dirty.ratio of 0.5); a log not compacted since open is.
func (c *Cleaner) dirtyEnough(l *wal.Log) bool {
	closed := closedBytes(l)
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok := c.mu.compactedBytes[l]
	return closed > 0 && (!ok || closed-last >= last)
}

func (c *Cleaner) noteCompacted(l *wal.Log) {
	closed := closedBytes(l)
	c.mu.Lock()
	c.mu.compactedBytes[l] = closed
	c.mu.Unlock()
}
