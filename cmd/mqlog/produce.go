package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/spf13/cobra"
)

// produceReadBuffer is the size of produce's stdin buffer. A group of lines appended together is the first
// line plus what else this buffer holds, so a group stays far below the batch limit (16 MiB).
const produceReadBuffer = 256 << 10

type produceOptions struct {
	topic        string
	partition    int32
	keySep       string
	headers      []string
	compression  string
	noAutoCreate bool
	broker       brokerOptions
}

func (a *app) newProduceCommand() *cobra.Command {
	var o produceOptions
	cmd := &cobra.Command{
		Use:   "produce --topic T",
		Short: "Append messages read from stdin, one per line",
		Long: `Append messages read from stdin, one per line, to a topic. A topic that does not
exist is created with the defaults, and stderr says so ("created topic T with 1
partition"); --no-auto-create makes that an error instead (Kafka's
auto.create.topics.enable=false), so that a mistyped name creates nothing.

Whatever stdin has ready is appended at once, never waiting to fill a batch, and each
message's partition and offset is printed, in input order, once it is durable.
With --key-sep, the part of a line before the first separator is the message's key.
--compression compresses each batch with Kafka's codecs: none, gzip, snappy, lz4, zstd.

When the lines of one group go to several partitions and some of those fail, the
positions of the messages that are durable are printed as usual, each message that was
not appended is named on stderr with its line number, and the exit code is 1: produce
those lines again, and nothing is appended twice.`,
		Example: `  printf 'k1:hello\nk2:world\n' | mqlog produce --topic orders --key-sep :
  mqlog produce --topic orders -o json --header source=cli < messages.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "topic"); err != nil {
				return err
			}
			if err := mqlog.ValidateTopicName(o.topic); err != nil {
				return &usageError{err: err}
			}
			if !cmd.Flags().Changed("partition") {
				o.partition = -1
			} else if o.partition < 0 {
				return usagef("invalid --partition %d", o.partition)
			}
			if cmd.Flags().Changed("key-sep") && o.keySep == "" {
				return usagef("--key-sep must not be empty")
			}
			headers, err := parseHeaders(o.headers)
			if err != nil {
				return err
			}
			codec, err := segment.ParseCompression(o.compression)
			if err != nil {
				return usagef("invalid --compression %q: want none, gzip, snappy, lz4 or zstd", o.compression)
			}
			return a.produce(cmd.Context(), o, codec, headers)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.topic, "topic", "t", "", "topic to append to (required)")
	flags.Int32VarP(&o.partition, "partition", "p", 0, "append every message to this partition (default: by key, round-robin without)")
	flags.StringVarP(&o.keySep, "key-sep", "K", "", "split each line at the first SEP into key and value")
	flags.StringArrayVarP(&o.headers, "header", "H", nil, "add header `k=v` to every message (repeatable)")
	flags.StringVarP(&o.compression, "compression", "z", "none", "batch codec: none, gzip, snappy, lz4 or zstd")
	flags.BoolVar(&o.noAutoCreate, "no-auto-create", false, "fail on a topic that does not exist instead of creating it")
	cmd.RegisterFlagCompletionFunc("compression", cobra.FixedCompletions(
		[]string{"none", "gzip", "snappy", "lz4", "zstd"}, cobra.ShellCompDirectiveNoFileComp))
	addBrokerFlags(cmd, &o.broker)
	a.registerTopicCompletion(cmd)
	return cmd
}

// parseHeaders parses --header k=v flags.
func parseHeaders(flags []string) ([]mqlog.Header, error) {
	var headers []mqlog.Header
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, usagef("invalid --header %q: want key=value", f)
		}
		headers = append(headers, mqlog.Header{Key: k, Value: []byte(v)})
	}
	return headers, nil
}

// produceAck is the JSON form of an appended message's position.
type produceAck struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// lineGroup is the lines stdin had ready, and the error that ended the reading, if any (io.EOF at the end).
type lineGroup struct {
	lines [][]byte
	first int // line number of lines[0], from 1
	err   error
}

func (a *app) produce(ctx context.Context, o produceOptions, codec mqlog.Compression, headers []mqlog.Header) (err error) {
	opts := a.dbOptions()
	opts.Compression = codec
	opts.NoAutoCreateTopics = o.noAutoCreate
	db, broker, err := a.openWriterOrBroker(&o.broker, opts, brokerProducerOpts(codec)...)
	if err != nil {
		return err
	}
	var p appender = directAppender{db}
	if broker != nil {
		p = &brokerAppender{b: broker}
	}
	defer func() { err = errors.Join(err, p.Close()) }()
	if err := a.ensureTopicOf(ctx, p, o); err != nil {
		return err
	}

	// Reading stdin blocks, so it has its own goroutine: a signal ends the command between appends even
	// while stdin is idle. Each group is appended and acknowledged before the next is taken.
	stdin := newLineReader(a.stdin, segment.DefaultMaxMessageBytes+len(o.keySep))
	groups := make(chan lineGroup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			lines, err := stdin.nextGroup()
			select {
			case groups <- lineGroup{lines: lines, first: stdin.line - len(lines) + 1, err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	out := bufio.NewWriter(a.stdout)
	for {
		var g lineGroup
		select {
		case g = <-groups:
		case <-ctx.Done():
			return nil
		}
		if len(g.lines) > 0 {
			msgs := make([]mqlog.Message, len(g.lines))
			for i, line := range g.lines {
				msgs[i] = splitMessage(line, o.keySep, headers)
			}
			var positions []mqlog.Position
			var err error
			positions, err = p.append(ctx, o.topic, o.partition, msgs)
			var partial *mqlog.AppendError
			if errors.As(err, &partial) {
				// Some partitions failed: what the others hold is durable, and said so.
				return errors.Join(a.printAcks(out, partial.Positions), a.reportNotAppended(g, partial), err)
			}
			if err != nil {
				if isCancelled(err) {
					return nil // nothing of this group was queued; it was never acknowledged
				}
				return err
			}
			if err := a.printAcks(out, positions); err != nil {
				return err
			}
		}
		if g.err == io.EOF {
			return nil
		}
		if g.err != nil {
			return g.err
		}
	}
}

// ensureTopicOf creates o.topic with the defaults when it does not exist, saying so on stderr, or, with
// --no-auto-create, fails.
func (a *app) ensureTopicOf(ctx context.Context, p appender, o produceOptions) error {
	exists, err := p.topicExists(ctx, o.topic)
	if err != nil || exists {
		return err
	}
	if o.noAutoCreate {
		return fmt.Errorf("%w: %s (--no-auto-create: create it with mqlog topic create %s)", mqlog.ErrTopicNotFound, o.topic, o.topic)
	}
	partitions, err := p.createTopic(ctx, o.topic)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "created topic %s with %s\n", o.topic, plural(int64(partitions), "partition", "partitions"))
	return nil
}

// reportNotAppended names on stderr each message of g that a partial append did not append.
func (a *app) reportNotAppended(g lineGroup, e *mqlog.AppendError) error {
	for _, i := range e.Failed() {
		p := e.Positions[i].Partition
		if _, err := fmt.Fprintf(a.stderr, "not appended: line %d (partition %d): %v\n", g.first+i, p, e.Errs[p]); err != nil {
			return err
		}
	}
	return nil
}

// printAcks prints the positions of one appended group and flushes them, so that what has been printed is
// always durable. Positions of messages that were not appended (NoOffset) are left out.
func (a *app) printAcks(out *bufio.Writer, positions []mqlog.Position) error {
	for _, p := range positions {
		if p.Offset == mqlog.NoOffset {
			continue
		}
		if a.jsonOutput() {
			if err := writeJSONLine(out, produceAck{Partition: p.Partition, Offset: p.Offset}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(out, "partition %d offset %d\n", p.Partition, p.Offset)
		}
	}
	return out.Flush()
}

// splitMessage makes a message of one input line: with a separator, the part before its first occurrence
// is the key (a line without it has no key).
func splitMessage(line []byte, keySep string, headers []mqlog.Header) mqlog.Message {
	m := mqlog.Message{Value: line, Headers: headers}
	if keySep != "" {
		if k, v, ok := bytes.Cut(line, []byte(keySep)); ok {
			m.Key, m.Value = k, v
		}
	}
	return m
}

// lineReader reads stdin's lines in groups of what is ready.
type lineReader struct {
	r       *bufio.Reader
	maxLine int // longest line accepted, without its newline
	line    int // number of lines read
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, produceReadBuffer), maxLine: maxLine}
}

// nextGroup reads one line, waiting for it, then every further line that is already complete in the
// buffer, without waiting. It returns the lines (each the caller's) and io.EOF once stdin has ended, or the
// error of a line it could not read (the lines before it are returned too).
func (r *lineReader) nextGroup() ([][]byte, error) {
	first, err := r.readLine()
	if err != nil {
		return nil, err
	}
	group := [][]byte{first}
	for r.r.Buffered() > 0 {
		ready, _ := r.r.Peek(r.r.Buffered()) // cannot fail: it asks for no more than is buffered
		if bytes.IndexByte(ready, '\n') < 0 {
			break // an incomplete line: the next group waits for it
		}
		line, err := r.readLine()
		if err != nil {
			return group, err
		}
		group = append(group, line)
	}
	return group, nil
}

// readLine returns the next line without its newline; a last line without one counts. At the end of input
// it returns io.EOF.
func (r *lineReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		content := len(line) + len(chunk)
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			content--
		}
		if content > r.maxLine {
			return nil, fmt.Errorf("line %d of stdin is longer than the message limit of %d bytes", r.line+1, r.maxLine)
		}
		line = append(line, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) == 0:
			return nil, io.EOF
		case err != nil && err != io.EOF:
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		r.line++
		if line == nil {
			line = []byte{}
		}
		return bytes.TrimSuffix(line, []byte{'\n'}), nil
	}
}
