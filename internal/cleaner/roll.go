package cleaner

import (
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// rollIfOld closes l's active segment when its first batch is older than the topic's segment.ms (Kafka's
// segment.ms), so that the records of a partition that no longer receives enough to fill a segment still
// reach retention and compaction, which only take closed segments. Kafka checks segment.ms when a batch
// is appended; the cleaner checks it on every run, so a partition that receives nothing at all ages out
// too. In a dry run it only says whether it would roll.
func (c *Cleaner) rollIfOld(l *wal.Log, cfg base.TopicConfig, now time.Time, dryRun bool) (bool, error) {
	ts, ok, err := c.activeTimestamp(l)
	if err != nil || !ok {
		return false, err
	}
	if now.Sub(time.UnixMilli(ts)) < cfg.SegmentAge() {
		return false, nil
	}
	if dryRun {
		return true, nil
	}
	rolled, err := l.Roll()
	if rolled {
		c.opts.Logger.Info("mqlog: rolled an active segment older than segment.ms", "dir", l.Dir(),
			"first_batch_timestamp", time.UnixMilli(ts).UTC(), "segment_ms", cfg.SegmentAge().Milliseconds())
	}
	return rolled, err
}

// activeTimestamp returns what ActiveSegmentTimestamp says of l, reading the first batch of a given
// active segment only once.
func (c *Cleaner) activeTimestamp(l *wal.Log) (int64, bool, error) {
	segs := l.Segments()
	if len(segs) == 0 {
		return 0, false, nil
	}
	active := segs[len(segs)-1]
	if active.NextOffset <= active.BaseOffset {
		return 0, false, nil // empty: nothing to age out
	}
	c.mu.Lock()
	seen, ok := c.mu.activeSince[l]
	c.mu.Unlock()
	if ok && seen.base == active.BaseOffset {
		return seen.timestamp, true, nil
	}
	ts, ok, err := l.ActiveSegmentTimestamp()
	if err != nil || !ok {
		return 0, false, err
	}
	c.mu.Lock()
	c.mu.activeSince[l] = activeSegment{base: active.BaseOffset, timestamp: ts}
	c.mu.Unlock()
	return ts, true, nil
}

// activeSegment is the first batch timestamp of one active segment, by its base offset.
type activeSegment struct {
	base, timestamp int64
}
