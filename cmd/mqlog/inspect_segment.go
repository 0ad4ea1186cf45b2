package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/mqlog/mqlog/segment"
	"github.com/spf13/cobra"
)

func (a *app) newInspectSegmentCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "segment FILE",
		Short: "Check one segment file batch by batch (needs no --dir, takes no lock)",
		Long: `Scan one segment file (RecordBatch v2 frames, as Kafka's .log files) and print each valid
batch: byte position, base and last offset, record count, size, epoch, codec, CRC and
largest timestamp; then how far the file is valid and, if the scan stopped early, why.

Zero bytes after the last batch are preallocated space, not damage. Any other invalid
frame is corruption: it is named with its byte offset and the exit code is 1.`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"log"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspectSegment(args[0])
		},
	}
}

// segmentScanJSON is inspect segment's JSON document.
type segmentScanJSON struct {
	Version  int                `json:"version"`
	Path     string             `json:"path"`
	Size     int64              `json:"size"`
	ValidEnd int64              `json:"valid_end"`
	Batches  []segmentBatchJSON `json:"batches"`
	Stop     *string            `json:"stop"` // null: the scan reached the end of the file
}

type segmentBatchJSON struct {
	Position     int64  `json:"position"`
	BaseOffset   int64  `json:"base_offset"`
	LastOffset   int64  `json:"last_offset"`
	Count        int32  `json:"count"`
	Size         int64  `json:"size"`
	Epoch        int32  `json:"epoch"`
	Codec        string `json:"codec"`
	CRC          uint32 `json:"crc"`
	MaxTimestamp int64  `json:"max_timestamp"`
}

// inspectSegment scans path and prints its batches. A frame that is neither valid nor preallocated zeros
// makes it return the *segment.CorruptionError (exit 1), after printing everything valid before it.
func (a *app) inspectSegment(path string) error {
	f, info, err := openSegmentFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := segment.ScanOptions{
		Path:       path,
		NextOffset: -1,
		MinEpoch:   math.MinInt32, // a file on its own has no history of epochs to hold it to
	}
	// The file name, when it is a segment's, is at most the first batch's base offset.
	if base, ok := segment.ParseFileName(filepath.Base(path)); ok {
		opts.NextOffset = base
	}
	doc := segmentScanJSON{Version: jsonVersion, Path: path, Size: info.Size(), Batches: []segmentBatchJSON{}}
	res, err := segment.Scan(f, 0, info.Size(), opts, func(pos int64, h segment.BatchHeader) error {
		doc.Batches = append(doc.Batches, segmentBatchJSON{
			Position: pos, BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), Count: h.NumRecords,
			Size: h.FrameSize(), Epoch: h.PartitionLeaderEpoch, Codec: h.Compression().String(), CRC: h.CRC,
			MaxTimestamp: h.MaxTimestamp,
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", path, err)
	}
	doc.ValidEnd = res.ValidEnd
	if res.Stop != nil {
		s := res.Stop.Error()
		doc.Stop = &s
	}
	if a.jsonOutput() {
		err = writeJSONDocument(a.stdout, doc)
	} else {
		err = a.printSegmentScan(&doc, res.Stop)
	}
	if err != nil {
		return err
	}
	if res.Stop != nil && !errors.Is(res.Stop, segment.ErrZeroTail) {
		return res.Stop
	}
	return nil
}

func (a *app) printSegmentScan(doc *segmentScanJSON, stop error) error {
	w := a.stdout
	if len(doc.Batches) > 0 {
		t := newTable(w, "POSITION", "BASE OFFSET", "LAST OFFSET", "COUNT", "SIZE", "EPOCH", "CODEC", "CRC", "MAX TIMESTAMP")
		for _, b := range doc.Batches {
			t.row(b.Position, b.BaseOffset, b.LastOffset, b.Count, b.Size, b.Epoch, b.Codec,
				fmt.Sprintf("%08x", b.CRC), formatMillis(b.MaxTimestamp))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	batches := "batches"
	if len(doc.Batches) == 1 {
		batches = "batch"
	}
	fmt.Fprintf(w, "valid up to byte %d of %d (%d %s)\n", doc.ValidEnd, doc.Size, len(doc.Batches), batches)
	switch {
	case stop == nil:
	case errors.Is(stop, segment.ErrZeroTail):
		fmt.Fprintf(w, "bytes %d to %d are zeros (preallocated space)\n", doc.ValidEnd, doc.Size)
	default:
		fmt.Fprintf(w, "stopped at byte %d: %v\n", doc.ValidEnd, stop)
	}
	return nil
}

// openSegmentFile opens a segment file named on the command line (inspect segment, dump) for reading; a
// directory or device is refused.
func openSegmentFile(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, info, nil
}
