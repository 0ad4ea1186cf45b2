package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/mqlog/mqlog"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// exitCorrupt is verify's exit code for corruption found; exitVerifyError its code for a usage or I/O error.
const (
	exitCorrupt     = 1
	exitVerifyError = 2
)

// verifyError makes verify exit 2 for anything that kept it from checking (usage, I/O, missing directory).
type verifyError struct{ err error }

func (e *verifyError) Error() string { return e.err.Error() }
func (e *verifyError) Unwrap() error { return e.err }

// corruptionFound is verify's error when it found a problem: exit 1, the report already printed.
type corruptionFound struct{ err error }

func (e *corruptionFound) Error() string { return e.err.Error() }
func (e *corruptionFound) Unwrap() error { return e.err }

func (a *app) newVerifyCommand() *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every CRC, offset and index entry (read-only)",
		Long: `Check a data directory: every batch's length, magic and CRC-32C, offsets that strictly
increase and, unless the topic is compacted, have no gaps (within and across segments),
each segment's name against its first batch, and when no writer holds the directory,
the segments against the durable state in the index (closed segments and their sizes,
the active segment's durable position) and the sparse index entries.

It takes no lock, writes nothing and creates nothing. While a writer holds the
directory, the segments are checked against each other only.

A summary line says how much was checked and how far each damaged partition is intact;
each problem names the file and byte offset. A progress bar goes to stderr on a terminal.

Exit codes:
  0  clean
  1  corruption found (mqlog repair plans the fix)
  2  usage or I/O error (nothing could be checked)`,
		Example: `  mqlog verify
  mqlog verify --topic orders -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("topic") {
				if err := mqlog.ValidateTopicName(topic); err != nil {
					return &usageError{err: err}
				}
			}
			return a.verify(cmd, topic)
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "only this topic")
	a.registerTopicCompletion(cmd)
	return cmd
}

// verifyJSON is verify's JSON document.
type verifyJSON struct {
	Version      int                   `json:"version"`
	Dir          string                `json:"dir"`
	OK           bool                  `json:"ok"`
	StateChecked bool                  `json:"state_checked"`
	Segments     int64                 `json:"segments"`
	Batches      int64                 `json:"batches"`
	Records      int64                 `json:"records"`
	Bytes        int64                 `json:"bytes"`
	Partitions   []verifyPartitionJSON `json:"partitions"`
	Problems     []verifyProblemJSON   `json:"problems"`
	Notes        []string              `json:"notes"`
}

type verifyPartitionJSON struct {
	Topic      string  `json:"topic"`
	Partition  int32   `json:"partition"`
	Segments   int     `json:"segments"`
	Batches    int64   `json:"batches"`
	Records    int64   `json:"records"`
	NextOffset int64   `json:"ok_up_to_offset"` // the log is intact below it
	Damage     *string `json:"damage"`          // null when intact
}

type verifyProblemJSON struct {
	Kind      string `json:"kind"`
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Path      string `json:"path,omitempty"`
	Offset    *int64 `json:"byte_offset,omitempty"`
	Error     string `json:"error"`
}

func (a *app) verify(cmd *cobra.Command, topic string) error {
	if err := a.checkDirExists(); err != nil {
		return &verifyError{err: err}
	}
	opts := &mqlog.VerifyOptions{Topic: topic}
	bar := a.progressBar(cmd, "verify")
	if bar != nil {
		opts.Progress = func(done, total int64) {
			bar.ChangeMax64(total)
			bar.Set64(done)
		}
	}
	rep, err := whileOpening(a.ctx, a.dir, func() (*mqlog.VerifyReport, error) { return mqlog.Verify(a.dir, opts) })
	if bar != nil {
		bar.Finish()
		bar.Clear()
	}
	if err != nil {
		return &verifyError{err: err}
	}
	doc := verifyDocument(rep)
	if a.jsonOutput() {
		err = writeJSONDocument(a.stdout, doc)
	} else {
		err = a.printVerify(&doc)
	}
	if err != nil {
		return &verifyError{err: err}
	}
	if rep.Corrupt() {
		return &corruptionFound{err: fmt.Errorf("%s found; first: %w", plural(int64(len(rep.Problems)), "problem", "problems"), rep.Err())}
	}
	return nil
}

func verifyDocument(rep *mqlog.VerifyReport) verifyJSON {
	doc := verifyJSON{Version: jsonVersion, Dir: rep.Dir, OK: !rep.Corrupt(), StateChecked: rep.StateChecked,
		Segments: rep.Segments, Batches: rep.Batches, Records: rep.Records, Bytes: rep.Bytes,
		Partitions: []verifyPartitionJSON{}, Problems: []verifyProblemJSON{}, Notes: rep.Notes}
	if doc.Notes == nil {
		doc.Notes = []string{}
	}
	for _, p := range rep.Partitions {
		pj := verifyPartitionJSON{Topic: p.Topic, Partition: p.Partition, Batches: p.Batches, Records: p.Records, NextOffset: p.NextOffset}
		for _, s := range p.Segments {
			if s.Checked {
				pj.Segments++
			}
		}
		if p.Damage != nil {
			s := p.Damage.Error()
			pj.Damage = &s
		}
		doc.Partitions = append(doc.Partitions, pj)
	}
	for _, pr := range rep.Problems {
		pj := verifyProblemJSON{Kind: pr.Kind, Topic: pr.Topic, Partition: pr.Partition, Error: pr.Err.Error()}
		var corrupt *mqlog.CorruptionError
		if errors.As(pr.Err, &corrupt) {
			pj.Path = corrupt.Path
			off := corrupt.Offset
			pj.Offset = &off
		}
		doc.Problems = append(doc.Problems, pj)
	}
	return doc
}

// printVerify prints the problems, the notes (on stderr) and the summary line.
func (a *app) printVerify(doc *verifyJSON) error {
	w := a.stdout
	for _, p := range doc.Problems {
		fmt.Fprintf(w, "%s: %s\n", p.Kind, p.Error)
	}
	for _, n := range doc.Notes {
		fmt.Fprintf(a.stderr, "note: %s\n", n)
	}
	fmt.Fprintf(w, "checked %s (%s, %s) in %s of %s", plural(doc.Batches, "batch", "batches"), plural(doc.Records, "record", "records"),
		plural(doc.Bytes, "byte", "bytes"), plural(doc.Segments, "segment", "segments"), plural(int64(len(doc.Partitions)), "partition", "partitions"))
	var damaged []verifyPartitionJSON
	for _, p := range doc.Partitions {
		if p.Damage != nil {
			damaged = append(damaged, p)
		}
	}
	switch {
	case len(damaged) == 0 && doc.OK:
		fmt.Fprint(w, ", ok up to the end of every partition")
	case len(damaged) == 0:
		fmt.Fprint(w, ", segments ok up to the end of every partition")
	default:
		for i, p := range damaged {
			sep := ", "
			if i == 0 {
				sep = ", damaged: "
			}
			fmt.Fprintf(w, "%s%s-%d ok up to offset %d", sep, p.Topic, p.Partition, p.NextOffset)
		}
	}
	if !doc.StateChecked {
		fmt.Fprint(w, " (durable state not checked)")
	}
	_, err := fmt.Fprintln(w)
	return err
}

// progressBar returns a byte progress bar on stderr when stderr is a terminal, else nil.
func (a *app) progressBar(cmd *cobra.Command, what string) *progressbar.ProgressBar {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100e6),
		progressbar.OptionClearOnFinish(),
	)
}
