package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/wal"
	"github.com/spf13/cobra"
)

func (a *app) newInspectCommand() *cobra.Command {
	var topic string
	var groups bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show topics, partitions, segments, offsets and sizes (read-only)",
		Long: `Show each topic's partitions (start offset, high watermark) and their segment files
(base and last offset, records, bytes, first and last timestamp, whether active). The
segment figures come from reading every batch header of the segments.

It opens the data directory read-only: no lock, nothing created, and it works while
another process writes. Consumer groups and their lag live in the index, which only the
lock holder may open while it runs: --groups reads it without a lock when no writer runs,
and fails with a clear message when one does.`,
		Example: `  mqlog inspect
  mqlog inspect --topic orders -o json
  mqlog inspect segment mqlog-data/topics/orders-0/00000000000000000000.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("topic") {
				if err := mqlog.ValidateTopicName(topic); err != nil {
					return &usageError{err: err}
				}
			}
			return a.inspect(topic, groups)
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "only this topic")
	cmd.Flags().BoolVar(&groups, "groups", false, "also show consumer groups and lag (takes the writer's lock)")
	a.registerTopicCompletion(cmd)
	cmd.AddCommand(a.newInspectSegmentCommand())
	return cmd
}

// inspectJSON is inspect's JSON document.
type inspectJSON struct {
	Version int             `json:"version"`
	Dir     string          `json:"dir"`
	Topics  []inspectTopic  `json:"topics"`
	Groups  *[]inspectGroup `json:"groups,omitempty"` // only with --groups
}

type inspectTopic struct {
	Name       string             `json:"name"`
	Partitions []inspectPartition `json:"partitions"`
}

type inspectPartition struct {
	Partition     int32            `json:"partition"`
	StartOffset   int64            `json:"start_offset"`
	HighWatermark int64            `json:"high_watermark"`
	Damage        *string          `json:"damage"` // null when the segments read without damage
	Segments      []inspectSegment `json:"segments"`
}

type inspectSegment struct {
	Path           string `json:"path"`
	BaseOffset     int64  `json:"base_offset"`
	LastOffset     int64  `json:"last_offset"` // -1 when empty
	NextOffset     int64  `json:"next_offset"`
	Records        int64  `json:"records"`
	Bytes          int64  `json:"bytes"`
	FirstTimestamp int64  `json:"first_timestamp"` // ms; -1 when empty
	MaxTimestamp   int64  `json:"max_timestamp"`   // ms; -1 when empty
	Active         bool   `json:"active"`
}

type inspectGroup struct {
	Name    string               `json:"name"`
	Offsets []inspectGroupOffset `json:"offsets"`
}

type inspectGroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Lag       int64  `json:"lag"`
}

func (a *app) inspect(topic string, withGroups bool) (err error) {
	db, err := a.openReader()
	if err != nil {
		return err
	}
	var snap *mqlog.IndexSnapshot
	if withGroups {
		snap, err = a.readIndex()
		if errors.Is(err, mqlog.ErrLocked) {
			err = fmt.Errorf("--groups needs to read the index, which only the writer may read while it runs: %w (run without --groups)", lockedOr(a.dir, err))
		}
		if err != nil {
			db.Close()
			return err
		}
	}
	defer func() { err = errors.Join(err, db.Close()) }()

	doc := inspectJSON{Version: jsonVersion, Dir: a.dir, Topics: []inspectTopic{}}
	var damaged error // the first damaged partition's damage: exit 1 once everything is printed
	names := db.Topics()
	if topic != "" {
		if _, err := db.TopicConfig(topic); err != nil {
			return err
		}
		names = []string{topic}
	}
	for _, name := range names {
		parts, err := db.Partitions(name)
		if err != nil {
			return err
		}
		t := inspectTopic{Name: name, Partitions: make([]inspectPartition, len(parts))}
		for i, p := range parts {
			ip := inspectPartition{Partition: p.Partition, StartOffset: p.StartOffset, HighWatermark: p.HighWatermark,
				Segments: make([]inspectSegment, len(p.Segments))}
			stats, damage, err := segmentStats(p)
			if err != nil {
				return err
			}
			if damage != nil {
				msg := damage.Error()
				ip.Damage = &msg
				if damaged == nil {
					damaged = damage
				}
			}
			for j, s := range p.Segments {
				seg := inspectSegment{Path: s.Path, BaseOffset: s.BaseOffset, LastOffset: -1, NextOffset: s.NextOffset,
					Bytes: s.Size, FirstTimestamp: -1, MaxTimestamp: s.MaxTimestamp, Active: s.Active}
				// The batch headers just read say the timestamps; a read-only log does not know those of a
				// segment that was closed before it opened (it would print 0, as 1970-01-01).
				if st, ok := stats[s.BaseOffset]; ok {
					seg.LastOffset, seg.Records, seg.FirstTimestamp, seg.MaxTimestamp = st.LastOffset, st.Records, st.FirstTimestamp, st.MaxTimestamp
				} else if s.NextOffset <= s.BaseOffset || s.MaxTimestamp <= 0 {
					seg.MaxTimestamp = -1 // not read (after damage): no timestamp known
				}
				ip.Segments[j] = seg
			}
			t.Partitions[i] = ip
		}
		doc.Topics = append(doc.Topics, t)
	}
	if withGroups {
		groups, err := inspectGroups(db, snap, topic)
		if err != nil {
			return err
		}
		doc.Groups = &groups
	}
	if a.jsonOutput() {
		err = writeJSONDocument(a.stdout, doc)
	} else {
		err = a.printInspectTables(a.stdout, &doc)
	}
	if err == nil && damaged != nil {
		err = &corruptionFound{err: fmt.Errorf("damaged partition: %w (run mqlog verify)", damaged)}
	}
	return err
}

// inspectGroups returns the groups' committed positions and their lag behind the high watermark, in the
// given topic only when not empty.
func inspectGroups(db *mqlog.DB, snap *mqlog.IndexSnapshot, topic string) ([]inspectGroup, error) {
	names := make([]string, 0, len(snap.Groups))
	for name := range snap.Groups {
		names = append(names, name)
	}
	sort.Strings(names)
	ends := map[string][]mqlog.PartitionInfo{}
	out := []inspectGroup{}
	for _, name := range names {
		g := inspectGroup{Name: name, Offsets: []inspectGroupOffset{}}
		for _, o := range snap.Groups[name] {
			if topic != "" && o.Topic != topic {
				continue
			}
			parts, ok := ends[o.Topic]
			if !ok {
				parts, _ = db.Partitions(o.Topic) // a group may hold positions in a topic that is gone
				ends[o.Topic] = parts
			}
			lag := int64(0)
			if int(o.Partition) < len(parts) {
				lag = max(0, parts[o.Partition].HighWatermark-o.Offset)
			}
			g.Offsets = append(g.Offsets, inspectGroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Lag: lag})
		}
		if len(g.Offsets) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// printInspectTables prints the partitions, then the segments, then (with --groups) the groups.
func (a *app) printInspectTables(w io.Writer, doc *inspectJSON) error {
	if len(doc.Topics) == 0 {
		fmt.Fprintf(a.stderr, "no topics in %s\n", doc.Dir)
	} else {
		t := newTable(w, "TOPIC", "PARTITION", "START OFFSET", "HIGH WATERMARK", "SEGMENTS", "BYTES", "STATUS")
		var damage []string
		for _, topic := range doc.Topics {
			for _, p := range topic.Partitions {
				var bytes int64
				for _, s := range p.Segments {
					bytes += s.Bytes
				}
				status := "ok"
				if p.Damage != nil {
					status = "damaged"
					damage = append(damage, fmt.Sprintf("%s-%d damaged: %s", topic.Name, p.Partition, *p.Damage))
				}
				t.row(topic.Name, p.Partition, p.StartOffset, p.HighWatermark, len(p.Segments), bytes, status)
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
		for _, d := range damage {
			fmt.Fprintln(w, d)
		}
		fmt.Fprintln(w)
		t = newTable(w, "TOPIC", "PARTITION", "SEGMENT", "BASE OFFSET", "LAST OFFSET", "RECORDS", "BYTES", "FIRST TIMESTAMP", "LAST TIMESTAMP", "ACTIVE")
		for _, topic := range doc.Topics {
			for _, p := range topic.Partitions {
				for _, s := range p.Segments {
					last := "-"
					if s.LastOffset >= 0 {
						last = fmt.Sprint(s.LastOffset)
					}
					t.row(topic.Name, p.Partition, filepath.Base(s.Path), s.BaseOffset, last, s.Records, s.Bytes,
						formatMillis(s.FirstTimestamp), formatMillis(s.MaxTimestamp), s.Active)
				}
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if doc.Groups == nil {
		return nil
	}
	if len(*doc.Groups) == 0 {
		fmt.Fprintln(a.stderr, "no consumer groups")
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "GROUP", "TOPIC", "PARTITION", "OFFSET", "LAG")
	for _, g := range *doc.Groups {
		for _, o := range g.Offsets {
			t.row(g.Name, o.Topic, o.Partition, o.Offset, o.Lag)
		}
	}
	return t.flush()
}

// segmentStats reads a partition's segments (read-only, as verify does without the index) for what the
// log does not keep in memory: each segment's last offset, record count and first timestamp, by base
// offset. It reads every batch header up to the readable end, and returns the damage it meets, if any.
func segmentStats(p mqlog.PartitionInfo) (map[int64]wal.SegmentReport, *mqlog.CorruptionError, error) {
	out := map[int64]wal.SegmentReport{}
	if len(p.Segments) == 0 {
		return out, nil, nil
	}
	rep, err := wal.Verify(wal.VerifyOptions{FS: vfs.Default, Dir: filepath.Dir(p.Segments[0].Path), Compacted: true})
	if err != nil {
		return nil, nil, err
	}
	for _, s := range rep.Segments {
		if s.Checked {
			out[s.BaseOffset] = s
		}
	}
	return out, rep.Damage, nil
}
