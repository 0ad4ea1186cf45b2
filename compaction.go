package mqlog

import (
	"context"

	"github.com/mqlog/mqlog/internal/cleaner"
)

// CompactOptions say what DB.Compact works on and how: Topic limits the run to one topic (empty: every
// topic); DryRun computes what would be reclaimed and changes nothing; Progress, if not nil, is called
// with the bytes read so far and the total bytes of the closed segments the run looks at.
type CompactOptions = cleaner.Request

// CompactReport says what retention and compaction did (or, in a dry run, would do) to one partition:
// segments, records and bytes before and after (the whole log, active segment included), the log start
// after the run, the segments retention deleted, and the compaction's figures for a compacted topic.
type CompactReport = cleaner.Report

// Compact applies each topic's retention limits (size, age and, with RetentionInterest, consumption) and
// compacts the closed segments of compacted topics: what `mqlog compact` runs offline and the background
// cleaner runs every RetentionCheckInterval. Producers and consumers go on meanwhile (docs/RETENTION.md).
// In a dry run the compaction figures assume the retention deletes have not happened (both are computed on
// the log as it is). A work-queue group behind a deleted segment moves on from the new log start.
func (db *DB) Compact(ctx context.Context, opts CompactOptions) ([]CompactReport, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if opts.Topic != "" {
		if _, err := db.catalog.Get(opts.Topic); err != nil {
			return nil, err
		}
	}
	reps, err := db.cleaner.Run(ctx, opts)
	return reps, facade(err)
}
