package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

// groupBatchMax bounds how many already-readable records consume --group writes before it flushes stdout
// and commits.
const groupBatchMax = 1024

type consumeOptions struct {
	topic     string
	partition int32 // -1: every partition
	group     string
	from      fromSpec
	fromSet   bool
	count     int64 // 0: no limit
	follow    bool
	reset     string        // --offset-reset
	queue     string        // --queue: a work-queue group
	nak       bool          // --nak: return each message to the queue instead of acking it
	broker    brokerOptions // with --group: the broker flags
}

func (a *app) newConsumeCommand() *cobra.Command {
	var o consumeOptions
	var from, format string
	cmd := &cobra.Command{
		Use:   "consume --topic T",
		Short: "Print a topic's records",
		Long: `Print a topic's records, partition by partition, and exit at the readable end
(with --follow, wait for more until interrupted).

Without --group the directory is opened read-only: no lock is taken and a writer in
another process may append meanwhile. With --group, records are read as a member of
that consumer group, which starts at its committed position and commits after each
record is written to stdout (at least once); this takes the directory's lock.

--from applies to each partition: earliest, latest, N (an offset), -N (N records before
the end), or @TIME (RFC 3339 or milliseconds since the epoch: the first record at or
after it). With --group it overrides the group's position for this run. Where a
partition does not hold offset N, --offset-reset says where it starts instead, as
Kafka's auto.offset.reset: latest (the default: its end), earliest, or error.

With --queue, records are taken from a work-queue group (competing consumers: each
message goes to one of the group's consumers) and each is acked once it is written to
stdout; with --nak each is returned to the queue instead (delivered again, its delivery
count raised), and a message is printed at most once per run. Without --follow it stops
once nothing more is ready.

--format prints each record with %t topic, %p partition, %o offset, %k key, %v value,
%T timestamp (ms), %h headers (k=v,...), %% percent, \n newline, \t tab.
The default is the value, one per line. -o json prints one object per record.`,
		Example: `  mqlog consume --topic orders --from -10
  mqlog consume --topic orders --format '%p:%o %k=%v\n'
  mqlog consume --topic orders --group billing --follow -o json
  mqlog consume --topic jobs --queue workers --count 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "topic"); err != nil {
				return err
			}
			if err := mqlog.ValidateTopicName(o.topic); err != nil {
				return &usageError{err: err}
			}
			flags := cmd.Flags()
			if !flags.Changed("partition") {
				o.partition = -1
			} else if o.partition < 0 {
				return usagef("invalid --partition %d", o.partition)
			}
			if flags.Changed("group") {
				if o.group == "" {
					return usagef("--group must not be empty")
				}
				if o.partition >= 0 {
					return usagef("--partition cannot be combined with --group: a group member reads the partitions assigned to it")
				}
			}
			if flags.Changed("queue") {
				switch {
				case o.queue == "":
					return usagef("--queue must not be empty")
				case o.group != "":
					return usagef("--queue cannot be combined with --group: a group is either a consumer group or a work queue")
				case o.partition >= 0 || flags.Changed("from"):
					return usagef("--queue takes no --partition or --from: the queue delivers what its group has not done")
				}
			}
			if o.nak && o.queue == "" {
				return usagef("--nak needs --queue")
			}
			if err := checkOffsetReset(o.reset); err != nil {
				return err
			}
			if o.fromSet = flags.Changed("from"); o.fromSet {
				spec, err := parseFrom(from)
				if err != nil {
					return err
				}
				o.from = spec
			}
			if o.count < 0 {
				return usagef("invalid --count %d", o.count)
			}
			printer := &recordPrinter{json: a.jsonOutput()}
			if flags.Changed("format") {
				if a.jsonOutput() {
					return usagef("--format cannot be combined with -o json")
				}
			}
			if !printer.json {
				tokens, err := parseRecordFormat(format)
				if err != nil {
					return err
				}
				printer.format = tokens
			}
			if o.group != "" {
				return a.consumeGroup(cmd.Context(), o, printer)
			}
			if o.queue != "" {
				return a.consumeQueue(cmd.Context(), o, printer)
			}
			return a.consume(cmd.Context(), o, printer)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.topic, "topic", "t", "", "topic to read (required)")
	flags.Int32VarP(&o.partition, "partition", "p", 0, "read only this partition (default: all)")
	flags.StringVarP(&o.group, "group", "g", "", "read as a member of this consumer group, committing as it goes")
	addBrokerFlags(cmd, &o.broker)
	flags.StringVar(&from, "from", "earliest", "where each partition starts: earliest, latest, N, -N, @time")
	flags.Int64VarP(&o.count, "count", "c", 0, "stop after N records over all partitions (0: no limit)")
	flags.BoolVarP(&o.follow, "follow", "f", false, "wait for new records instead of exiting at the end")
	flags.StringVar(&format, "format", defaultRecordFormat, "output format of each record (see above)")
	flags.StringVar(&o.reset, "offset-reset", resetLatest, "where --from N starts in a partition that does not hold N: latest, earliest or error")
	flags.StringVarP(&o.queue, "queue", "q", "", "take the records from this work-queue group, acking each once printed")
	flags.BoolVar(&o.nak, "nak", false, "with --queue, return each printed message to the queue instead of acking it")
	cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"earliest", "latest"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("offset-reset", cobra.FixedCompletions(offsetResets, cobra.ShellCompDirectiveNoFileComp))
	a.registerTopicCompletion(cmd)
	a.registerGroupCompletion(cmd)
	return cmd
}

// consume reads without a group, from a read-only DB.
func (a *app) consume(ctx context.Context, o consumeOptions, printer *recordPrinter) (err error) {
	db, err := a.openReader()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	partitions, err := db.Partitions(o.topic)
	if err != nil {
		return err
	}
	if o.partition >= 0 {
		if int(o.partition) >= len(partitions) {
			return fmt.Errorf("%w: topic %s has %d partitions, no partition %d", mqlog.ErrInvalidPartition, o.topic, len(partitions), o.partition)
		}
		partitions = partitions[o.partition : o.partition+1]
	}
	starts := make([]int64, len(partitions))
	for i, p := range partitions {
		if starts[i], err = a.startOf(db, o, p); err != nil {
			return err
		}
	}
	printer.w = bufio.NewWriter(a.stdout)
	if o.follow {
		err = a.follow(ctx, db, o, partitions, starts, printer)
	} else {
		err = a.readToEnd(ctx, db, o, partitions, starts, printer)
		if err == nil && ctx.Err() == nil {
			if err = printer.w.Flush(); err == nil {
				a.warnUnreadableTails(partitions)
			}
		}
	}
	return errors.Join(err, printer.w.Flush())
}

// startOf returns where partition p starts under --from and --offset-reset, noting on stderr a start
// that --offset-reset moved.
func (a *app) startOf(db offsetTimer, o consumeOptions, p mqlog.PartitionInfo) (int64, error) {
	off, note, err := o.from.resolveWithReset(db, o.topic, p, o.reset)
	if note != "" {
		fmt.Fprintln(a.stderr, note)
	}
	return off, err
}

// warnUnreadableTails warns on stderr about a partition whose last segment holds bytes after its readable
// end that are not zeros. A read-only open cannot tell a write in progress from damage there, so consume
// stops before them; when no writer holds the directory, they are not a write in progress, and stopping
// there silently would hide damage.
func (a *app) warnUnreadableTails(partitions []mqlog.PartitionInfo) {
	var suspect []string
	for _, p := range partitions {
		if len(p.Segments) == 0 {
			continue
		}
		last := p.Segments[len(p.Segments)-1]
		if hasBytesAfter(last.Path, last.Size) {
			suspect = append(suspect, fmt.Sprintf("%s: bytes after byte %d are not a valid batch", last.Path, last.Size))
		}
	}
	if len(suspect) == 0 {
		return
	}
	if _, err := a.readIndex(); errors.Is(err, mqlog.ErrLocked) {
		return // a writer runs: a batch being written
	}
	for _, s := range suspect {
		fmt.Fprintf(a.stderr, "warning: %s (damage or a torn write; run mqlog verify)\n", s)
	}
}

// hasBytesAfter reports whether the file at path has a byte that is not zero in the 4 KiB after end.
func hasBytesAfter(path string, end int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, end)
	for _, b := range buf[:n] {
		if b != 0 {
			return true
		}
	}
	return false
}

// readToEnd prints each partition in turn from its start to its readable end.
func (a *app) readToEnd(ctx context.Context, db *mqlog.DB, o consumeOptions, partitions []mqlog.PartitionInfo, starts []int64, printer *recordPrinter) error {
	var printed int64
	for i, p := range partitions {
		for rec, err := range db.ReadNoCopy(o.topic, p.Partition, starts[i]) { // printed before the next
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil // interrupted: what was printed is flushed by the caller
			}
			if err := printer.print(&rec); err != nil {
				return err
			}
			if printed++; printed == o.count {
				return nil
			}
		}
	}
	return nil
}

// followed is one record (or the error that ended a partition) on its way from a partition's goroutine.
type followed struct {
	rec mqlog.Record
	err error
}

// follow prints records as they become readable, each partition followed by its own goroutine, until ctx
// is done (a signal: exit 0) or --count records are printed.
func (a *app) follow(ctx context.Context, db *mqlog.DB, o consumeOptions, partitions []mqlog.PartitionInfo, starts []int64, printer *recordPrinter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	records := make(chan followed, 256)
	var wg sync.WaitGroup
	for i, p := range partitions {
		wg.Go(func() {
			for rec, err := range db.Follow(ctx, o.topic, p.Partition, starts[i]) {
				select {
				case records <- followed{rec: rec, err: err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(records)
	}()
	defer func() {
		cancel()
		for range records { // let every goroutine end before the DB closes
		}
	}()

	var printed int64
	for f := range records {
		if f.err != nil {
			if isCancelled(f.err) {
				return nil // interrupted
			}
			return f.err
		}
		if err := printer.print(&f.rec); err != nil {
			return err
		}
		if printed++; printed == o.count {
			return nil
		}
		if len(records) == 0 {
			if err := printer.w.Flush(); err != nil { // nothing more is ready: show what there is
				return err
			}
		}
	}
	return nil
}

// consumeGroup reads as a member of a consumer group, committing each partition's position once the
// records before it are written to stdout.
func (a *app) consumeGroup(ctx context.Context, o consumeOptions, printer *recordPrinter) (err error) {
	if o.broker.addr == "" {
		if err := a.checkDirExists(); err != nil {
			return err
		}
	}
	assignment := &brokerAssignment{override: o.fromSet, ready: make(chan struct{})}
	db, b, err := a.openWriterOrBroker(&o.broker, a.dbOptions(), brokerGroupOpts(o, assignment)...)
	if err != nil {
		return err
	}
	if b != nil {
		defer func() { err = errors.Join(err, b.Close()) }()
		return a.consumeGroupThrough(ctx, b.cl, assignment, b, o, printer)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	c, err := db.Consumer(o.topic, o.group)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	partitions, err := db.Partitions(o.topic)
	if err != nil {
		return err
	}
	committed, err := groupPositions(db, o.group, o.topic)
	if err != nil {
		return err
	}

	// Where each assigned partition stands, and (without --follow) where it ends. Nothing else appends while
	// this process holds the lock, so the high watermarks read now are the readable ends.
	position := make(map[int32]int64)
	end := make(map[int32]int64)
	for _, id := range c.Assigned() {
		p := partitions[id]
		if o.fromSet {
			off, err := a.startOf(db, o, p)
			if err != nil {
				return err
			}
			if err := c.Seek(id, off); err != nil {
				return err
			}
			position[id] = off
		} else if off, ok := committed[id]; ok {
			position[id] = min(max(off, p.StartOffset), p.HighWatermark) // as the consumer clamps it
		} else {
			position[id] = p.StartOffset
		}
		end[id] = p.HighWatermark
	}
	atEnd := func() bool {
		for id, pos := range position {
			if pos < end[id] {
				return false
			}
		}
		return true
	}

	// A context that is already done: Next with it returns a record only if one is readable now.
	ready, cancelReady := context.WithCancel(context.Background())
	cancelReady()

	printer.w = bufio.NewWriter(a.stdout)
	var printed int64
	for o.count == 0 || printed < o.count {
		if !o.follow && atEnd() {
			return nil
		}
		rec, err := c.Next(ctx)
		if err != nil {
			if isCancelled(err) && ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		// Take what else is readable now, then write it all, flush and commit once.
		batch := []mqlog.Record{rec}
		var nextErr error
		for len(batch) < groupBatchMax && (o.count == 0 || printed+int64(len(batch)) < o.count) {
			rec, err := c.Next(ready)
			if err != nil {
				if !isCancelled(err) {
					nextErr = err
				}
				break
			}
			batch = append(batch, rec)
		}
		last := make(map[int32]int64)
		for i := range batch {
			if err := printer.print(&batch[i]); err != nil {
				return err
			}
			last[batch[i].Partition] = batch[i].Offset
		}
		if err := printer.w.Flush(); err != nil {
			return err // not committed: these records are delivered again
		}
		for id, off := range last {
			if err := c.CommitOffset(id, off+1); err != nil {
				return err
			}
			position[id] = off + 1
		}
		printed += int64(len(batch))
		if nextErr != nil {
			return nextErr
		}
	}
	return nil
}

// groupPositions returns a group's committed positions in the partitions of topic.
func groupPositions(db *mqlog.DB, group, topic string) (map[int32]int64, error) {
	offsets, err := db.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	for _, g := range offsets {
		if g.Topic == topic {
			out[g.Partition] = g.Offset
		}
	}
	return out, nil
}
