package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/spf13/cobra"
)

// Value formats of dump --value-format.
const (
	valueRaw    = "raw"
	valueHex    = "hex"
	valueBase64 = "base64"
	valueSize   = "size"
	valueNone   = "none"
)

type dumpOptions struct {
	topic       string
	partition   int32 // -1: every partition
	from        int64
	count       int64 // 0: no limit
	valueFormat string
}

func (a *app) newDumpCommand() *cobra.Command {
	var o dumpOptions
	cmd := &cobra.Command{
		Use:   "dump FILE... | --topic T",
		Short: "Print segment files batch by batch and record by record (read-only)",
		Long: `Print segment files like kafka-dump-log.sh --print-data-log: each batch (base and last
offset, record count, byte position, size, CRC, codec, epoch, whether it is valid), then
each of its records (offset, timestamp, key, value, headers). It reads Kafka's own .log
segment files as well as mqlog's: the format is the same (RecordBatch v2).

FILE needs no data directory and takes no lock; --topic reads the partitions of --dir,
also without a lock. --from skips records before an offset; --count stops after that many
records in all. --value-format says how keys, values and header values are shown: raw
(as they are; quoted when not printable text), hex, base64, size (lengths only) or none.

-o json prints one object per record, with its batch; a batch that is not valid is one
object with "valid": false and its error.

A batch whose CRC does not match is shown with valid false and skipped (its length is
still plausible); a frame that cannot be parsed ends the file. Zero bytes after the last
batch are preallocated space. Exit code 1 when a batch is not valid.`,
		Example: `  mqlog dump mqlog-data/topics/orders-0/00000000000000000000.log
  mqlog dump /var/lib/kafka/orders-0/00000000000000000000.log --value-format size
  mqlog dump --topic orders --from 100 --count 10 -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			switch o.valueFormat {
			case valueRaw, valueHex, valueBase64, valueSize, valueNone:
			default:
				return usagef("invalid --value-format %q: want raw, hex, base64, size or none", o.valueFormat)
			}
			if o.count < 0 {
				return usagef("invalid --count %d", o.count)
			}
			if o.from < 0 {
				return usagef("invalid --from %d: want an offset", o.from)
			}
			if !flags.Changed("partition") {
				o.partition = -1
			} else if o.partition < 0 {
				return usagef("invalid --partition %d", o.partition)
			}
			switch {
			case flags.Changed("topic") && len(args) > 0:
				return usagef("give segment files or --topic, not both")
			case flags.Changed("topic"):
				if err := mqlog.ValidateTopicName(o.topic); err != nil {
					return &usageError{err: err}
				}
				files, err := a.topicSegmentFiles(o.topic, o.partition)
				if err != nil {
					return err
				}
				return a.dump(files, o)
			case len(args) == 0:
				return usagef("give segment files or --topic")
			case flags.Changed("partition"):
				return usagef("--partition needs --topic")
			}
			return a.dump(args, o)
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return []string{"log"}, cobra.ShellCompDirectiveFilterFileExt
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.topic, "topic", "t", "", "dump this topic's segments from --dir")
	flags.Int32VarP(&o.partition, "partition", "p", 0, "only this partition (with --topic)")
	flags.Int64Var(&o.from, "from", 0, "skip records before this offset")
	flags.Int64Var(&o.count, "count", 0, "stop after this many records (0: no limit)")
	flags.StringVar(&o.valueFormat, "value-format", valueRaw, "how to show keys and values: raw, hex, base64, size or none")
	cmd.RegisterFlagCompletionFunc("value-format", cobra.FixedCompletions(
		[]string{valueRaw, valueHex, valueBase64, valueSize, valueNone}, cobra.ShellCompDirectiveNoFileComp))
	a.registerTopicCompletion(cmd)
	return cmd
}

// topicSegmentFiles lists a topic's segment files in --dir, partition by partition, oldest first.
func (a *app) topicSegmentFiles(topic string, partition int32) ([]string, error) {
	if err := a.checkDirExists(); err != nil {
		return nil, err
	}
	var files []string
	for p := int32(0); ; p++ {
		if partition >= 0 && p != partition {
			if p > partition {
				break
			}
			continue
		}
		dir := filepath.Join(a.dir, mqlog.TopicsDirName, fmt.Sprintf("%s-%d", topic, p))
		names, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			if p == 0 || partition >= 0 {
				return nil, fmt.Errorf("%w: %s (no directory %s)", mqlog.ErrTopicNotFound, topic, dir)
			}
			break
		} else if err != nil {
			return nil, err
		}
		var segs []string
		for _, n := range names {
			if _, ok := segment.ParseFileName(n.Name()); ok {
				segs = append(segs, filepath.Join(dir, n.Name()))
			}
		}
		sort.Strings(segs)
		files = append(files, segs...)
		if partition >= 0 {
			break
		}
	}
	return files, nil
}

// dumpBatchJSON is a batch in dump's JSON lines.
type dumpBatchJSON struct {
	Position   int64  `json:"position"`
	BaseOffset int64  `json:"base_offset"`
	LastOffset int64  `json:"last_offset"`
	Count      int32  `json:"count"`
	Size       int64  `json:"size"`
	Epoch      int32  `json:"epoch"`
	Codec      string `json:"codec"`
	CRC        uint32 `json:"crc"`
	Valid      bool   `json:"valid"`
	Error      string `json:"error,omitempty"`
	// Note says that the epoch went backwards: a damaged header field the CRC does not cover (the batch is
	// valid, its records intact).
	Note string `json:"note,omitempty"`
}

// dumpRecordJSON is one line of dump -o json.
type dumpRecordJSON struct {
	Path          string            `json:"path"`
	Batch         dumpBatchJSON     `json:"batch"`
	Offset        *int64            `json:"offset,omitempty"`
	Timestamp     *int64            `json:"timestamp,omitempty"`
	KeySize       *int              `json:"key_size,omitempty"`
	Key           *string           `json:"key,omitempty"`
	KeyEncoding   string            `json:"key_encoding,omitempty"`
	ValueSize     *int              `json:"value_size,omitempty"`
	Value         *string           `json:"value,omitempty"`
	ValueEncoding string            `json:"value_encoding,omitempty"`
	Headers       *[]dumpHeaderJSON `json:"headers,omitempty"` // an array for every record
}

type dumpHeaderJSON struct {
	Key           string  `json:"key"`
	Value         *string `json:"value,omitempty"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
	ValueSize     *int    `json:"value_size,omitempty"`
}

// dumper prints batches and records of segment files.
type dumper struct {
	a       *app
	o       dumpOptions
	w       *bufio.Writer
	printed int64
	invalid error // the first invalid batch
	// lastEpoch is the highest epoch of the valid batches of the current partition (math.MinInt32 before
	// any), to note an epoch that goes backwards.
	lastEpoch int32
	lastDir   string
}

func (a *app) dump(files []string, o dumpOptions) error {
	d := &dumper{a: a, o: o, w: bufio.NewWriter(a.stdout)}
	for _, path := range files {
		if d.done() {
			break
		}
		if err := d.file(path); err != nil {
			d.w.Flush()
			return err
		}
	}
	if err := d.w.Flush(); err != nil {
		return err
	}
	return d.invalid
}

func (d *dumper) done() bool { return d.o.count > 0 && d.printed >= d.o.count }

// file dumps one segment file.
func (d *dumper) file(path string) error {
	f, info, err := openSegmentFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if !d.a.jsonOutput() {
		fmt.Fprintf(d.w, "file %s (%d bytes)\n", path, info.Size())
	}
	limits := segment.Limits{}
	if dir := filepath.Dir(path); dir != d.lastDir {
		d.lastDir, d.lastEpoch = dir, math.MinInt32
	}
	r := segment.NewReader(f, path, 0, info.Size(), limits)
	var records []segment.Record
	for !d.done() {
		framePos, b, err := r.Next()
		var corrupt *segment.CorruptionError
		switch {
		case err == io.EOF:
			return nil
		case err == io.ErrUnexpectedEOF:
			return d.stop(path, &segment.CorruptionError{Path: path, Offset: framePos,
				Err: fmt.Errorf("%w: frame runs past the end of the file (byte %d)", segment.ErrTruncated, info.Size())})
		case errors.As(err, &corrupt) && errors.Is(corrupt.Err, segment.ErrZeroTail):
			if !d.a.jsonOutput() {
				fmt.Fprintf(d.w, "bytes %d to %d are zeros (preallocated space)\n", framePos, info.Size())
			}
			return nil
		case errors.As(err, &corrupt) && errors.Is(corrupt.Err, segment.ErrBadCRC):
			// The length passed its checks: show the batch as invalid and go on after it.
			h, herr := segment.ParseHeader(d.header(f, framePos))
			if herr != nil {
				return d.stop(path, corrupt)
			}
			d.batch(path, framePos, &h, corrupt, "")
			r = segment.NewReader(f, path, framePos+h.FrameSize(), info.Size(), limits)
			continue
		case err != nil && corrupt != nil:
			return d.stop(path, corrupt)
		case err != nil:
			return err
		}
		h := &b.Header
		if h.LastOffset() < d.o.from {
			continue
		}
		records, err = b.Records(records[:0], false, limits)
		if err != nil {
			d.batch(path, framePos, h, &segment.CorruptionError{Path: path, Offset: framePos, Err: err}, "")
			continue
		}
		note := d.epochNote(h)
		d.batch(path, framePos, h, nil, note)
		for i := range records {
			if records[i].Offset < d.o.from || d.done() {
				continue
			}
			d.record(path, framePos, h, &records[i], note)
			d.printed++
		}
	}
	return nil
}

// header reads the first bytes of the frame at pos.
func (d *dumper) header(f *os.File, pos int64) []byte {
	b := make([]byte, segment.HeaderSize)
	n, _ := f.ReadAt(b, pos)
	return b[:n]
}

// stop reports a frame that ends the file: printed, and remembered for the exit code.
func (d *dumper) stop(path string, corrupt *segment.CorruptionError) error {
	if d.invalid == nil {
		d.invalid = corrupt
	}
	if d.a.jsonOutput() {
		return writeJSONLine(d.w, dumpRecordJSON{Path: path, Batch: dumpBatchJSON{Position: corrupt.Offset, Error: corrupt.Error()}})
	}
	fmt.Fprintf(d.w, "stopped at byte %d: %v\n", corrupt.Offset, corrupt)
	return nil
}

func batchJSON(pos int64, h *segment.BatchHeader, bad error, note string) dumpBatchJSON {
	j := dumpBatchJSON{Position: pos, BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), Count: h.NumRecords,
		Size: h.FrameSize(), Epoch: h.PartitionLeaderEpoch, Codec: h.Compression().String(), CRC: h.CRC, Valid: bad == nil, Note: note}
	if bad != nil {
		j.Error = bad.Error()
	}
	return j
}

// epochNote returns the note for a valid batch whose epoch is lower than the one before it (and remembers
// the highest epoch), or "".
func (d *dumper) epochNote(h *segment.BatchHeader) string {
	if e := h.PartitionLeaderEpoch; e < d.lastEpoch {
		return fmt.Sprintf("epoch %d after %d: a damaged header field the CRC does not cover (the records are intact; repair restores it)", e, d.lastEpoch)
	}
	d.lastEpoch = h.PartitionLeaderEpoch
	return ""
}

// batch prints a batch line (table) or, for an invalid batch, its JSON line.
func (d *dumper) batch(path string, pos int64, h *segment.BatchHeader, bad error, note string) {
	if bad != nil && d.invalid == nil {
		d.invalid = bad
	}
	if d.a.jsonOutput() {
		if bad != nil {
			writeJSONLine(d.w, dumpRecordJSON{Path: path, Batch: batchJSON(pos, h, bad, "")})
		}
		return
	}
	fmt.Fprintf(d.w, "batch position: %d base offset: %d last offset: %d count: %d size: %d epoch: %d codec: %s crc: %08x max timestamp: %s valid: %t\n",
		pos, h.BaseOffset, h.LastOffset(), h.NumRecords, h.FrameSize(), h.PartitionLeaderEpoch, h.Compression(), h.CRC,
		formatMillis(h.MaxTimestamp), bad == nil)
	if bad != nil {
		fmt.Fprintf(d.w, "  error: %v\n", bad)
	}
	if note != "" {
		fmt.Fprintf(d.w, "  note: %s\n", note)
	}
}

// record prints one record.
func (d *dumper) record(path string, pos int64, h *segment.BatchHeader, r *segment.Record, note string) {
	vf := d.o.valueFormat
	if d.a.jsonOutput() {
		j := dumpRecordJSON{Path: path, Batch: batchJSON(pos, h, nil, note), Offset: &r.Offset, Timestamp: &r.Timestamp}
		j.KeySize, j.Key, j.KeyEncoding = jsonField(r.Key, vf)
		j.ValueSize, j.Value, j.ValueEncoding = jsonField(r.Value, vf)
		headers := []dumpHeaderJSON{}
		for _, hd := range r.Headers {
			hj := dumpHeaderJSON{Key: hd.Key}
			hj.ValueSize, hj.Value, hj.ValueEncoding = jsonField(hd.Value, vf)
			headers = append(headers, hj)
		}
		j.Headers = &headers
		writeJSONLine(d.w, j)
		return
	}
	fmt.Fprintf(d.w, "| offset: %d timestamp: %s key size: %d value size: %d", r.Offset, formatMillis(r.Timestamp), size(r.Key), size(r.Value))
	if vf != valueSize && vf != valueNone {
		fmt.Fprintf(d.w, " key: %s value: %s", textField(r.Key, vf), textField(r.Value, vf))
	}
	if len(r.Headers) > 0 {
		fmt.Fprint(d.w, " headers:")
		for _, hd := range r.Headers {
			if vf == valueSize || vf == valueNone {
				fmt.Fprintf(d.w, " %s(%d)", strconv.Quote(hd.Key), size(hd.Value))
			} else {
				fmt.Fprintf(d.w, " %s=%s", strconv.Quote(hd.Key), textField(hd.Value, vf))
			}
		}
	}
	fmt.Fprintln(d.w)
}

// size is a field's length, -1 for null (Kafka's keySize and valueSize).
func size(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

// textField renders a key, value or header value for the table: null, the text when it is printable,
// else quoted (raw), or its hex or base64 encoding.
func textField(b []byte, format string) string {
	switch {
	case b == nil:
		return "null"
	case format == valueHex:
		return hex.EncodeToString(b)
	case format == valueBase64:
		return base64.StdEncoding.EncodeToString(b)
	case printable(b):
		return string(b)
	}
	return strconv.Quote(string(b))
}

func printable(b []byte) bool {
	if !utf8.Valid(b) || len(b) == 0 {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// jsonField renders a key, value or header value for JSON in the --value-format.
func jsonField(b []byte, format string) (sizePtr *int, value *string, encoding string) {
	n := size(b)
	switch format {
	case valueNone:
		return nil, nil, ""
	case valueSize:
		return &n, nil, ""
	case valueHex:
		if b == nil {
			return &n, nil, ""
		}
		s := hex.EncodeToString(b)
		return &n, &s, "hex"
	case valueBase64:
		if b == nil {
			return &n, nil, ""
		}
		s := base64.StdEncoding.EncodeToString(b)
		return &n, &s, "base64"
	}
	value, encoding = jsonBytes(b)
	return &n, value, encoding
}
