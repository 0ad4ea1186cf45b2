package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

const compactLong = `Reclaim space: apply each topic's retention limits (--retention-bytes, --retention-ms,
and with retention policy "interest", what every consumer group has consumed), deleting
whole closed segments, and compact the closed segments of compacted topics, keeping the
latest record of each key (offsets are kept; the log gets gaps).

It is a dry run unless given --execute: it reports what it would reclaim, per partition,
and changes nothing. With --execute it does it and reports what it did: segments, records
and bytes before and after. It takes the data directory's lock, so it runs while no other
process writes (an open DB does the same in the background every 5 minutes).

A dry run of a compaction that needs more key-map passes than one counts only the first
pass ("estimate" in the table, "exact": false in JSON).`

func (a *app) newCompactCommand() *cobra.Command {
	var topicName string
	var dryRun, execute bool
	cmd := &cobra.Command{
		Use:     "compact",
		Short:   "Apply retention and compaction (dry run unless --execute)",
		Long:    compactLong,
		Example: "  mqlog compact\n  mqlog compact --topic users --execute",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dryRun && execute {
				return usagef("--dry-run and --execute exclude each other")
			}
			if topicName != "" {
				if err := mqlog.ValidateTopicName(topicName); err != nil {
					return &usageError{err: err}
				}
			}
			return a.compact(cmd, topicName, !execute)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&topicName, "topic", "", "only this topic (default: every topic)")
	flags.BoolVar(&dryRun, "dry-run", false, "report what would be reclaimed, change nothing (the default)")
	flags.BoolVar(&execute, "execute", false, "delete and compact segments")
	return cmd
}

// compactJSON is compact's JSON document.
type compactJSON struct {
	Version    int                   `json:"version"`
	DryRun     bool                  `json:"dry_run"`
	Partitions []mqlog.CompactReport `json:"partitions"`
}

func (a *app) compact(cmd *cobra.Command, topicName string, dryRun bool) (err error) {
	if err := a.checkDirExists(); err != nil {
		return err
	}
	opts := a.dbOptions()
	opts.RetentionCheckInterval = -1
	db, err := a.openWriterWith(opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	run := mqlog.CompactOptions{Topic: topicName, DryRun: dryRun}
	bar := newCompactProgress(cmd.ErrOrStderr(), dryRun)
	if bar != nil {
		run.Progress = bar.update
	}
	reports, err := db.Compact(cmd.Context(), run)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	if a.jsonOutput() {
		if reports == nil {
			reports = []mqlog.CompactReport{}
		}
		return writeJSONDocument(a.stdout, compactJSON{Version: jsonVersion, DryRun: dryRun, Partitions: reports})
	}
	return writeCompactTable(a.stdout, reports, dryRun)
}

func writeCompactTable(w io.Writer, reports []mqlog.CompactReport, dryRun bool) error {
	if len(reports) == 0 {
		_, err := fmt.Fprintln(w, "no topics")
		return err
	}
	t := newTable(w, "TOPIC", "PARTITION", "POLICY", "SEGMENTS", "RECORDS", "BYTES", "START", "NOTE")
	var before, after int64
	for _, r := range reports {
		var notes []string
		if r.Rolled {
			notes = append(notes, "active segment older than segment.ms rolled")
			if dryRun {
				notes[len(notes)-1] = "active segment older than segment.ms would roll"
			}
		}
		if !r.Exact {
			notes = append(notes, "estimate")
		}
		if c := r.Compaction; c != nil && c.Tombstones > 0 {
			notes = append(notes, fmt.Sprintf("%d tombstones removed", c.Tombstones))
		}
		note := strings.Join(notes, "; ")
		t.row(r.Topic, r.Partition, r.CleanupPolicy,
			fmt.Sprintf("%d -> %d", r.SegmentsBefore, r.SegmentsAfter),
			fmt.Sprintf("%s -> %s", count(r.RecordsBefore), count(r.RecordsAfter)),
			fmt.Sprintf("%d -> %d", r.BytesBefore, r.BytesAfter),
			r.StartOffset, note)
		before += r.BytesBefore
		after += r.BytesAfter
	}
	if err := t.flush(); err != nil {
		return err
	}
	verb := "reclaimed"
	if dryRun {
		verb = "would reclaim (dry run; --execute to apply)"
	}
	_, err := fmt.Fprintf(w, "%s %d bytes of %d\n", verb, before-after, before)
	return err
}

// count prints a record count, "?" for one not counted.
func count(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// compactProgress is a progress bar on stderr, shown only when stderr is a terminal.
type compactProgress struct {
	bar *progressbar.ProgressBar
}

func newCompactProgress(stderr io.Writer, dryRun bool) *compactProgress {
	f, ok := stderr.(*os.File)
	if !ok || !bench.IsTerminal(f) {
		return nil
	}
	what := "compacting"
	if dryRun {
		what = "scanning (dry run)"
	}
	return &compactProgress{bar: progressbar.NewOptions64(-1, progressbar.OptionSetWriter(f), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(what), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))}
}

func (p *compactProgress) update(read, total int64) {
	if p.bar.GetMax64() != total && total > 0 {
		p.bar.ChangeMax64(max(total, read))
	}
	if read > p.bar.GetMax64() {
		p.bar.ChangeMax64(read)
	}
	p.bar.Set64(read)
}

func (p *compactProgress) finish() { p.bar.Finish() }
