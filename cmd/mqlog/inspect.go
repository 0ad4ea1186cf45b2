package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newInspectCommand() *cobra.Command {
	var topic string
	var groups bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show topics, partitions, segments, offsets and sizes (read-only)",
		Long: `Show each topic's partitions (start offset, high watermark) and their segment files
(base and next offset, bytes, largest timestamp, whether active).

It opens the data directory read-only: no lock, nothing created, and it works while
another process writes. Consumer groups and their lag live in the index, which only the
lock holder may open: --groups takes the lock, and fails when another process has it.`,
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
	Segments      []inspectSegment `json:"segments"`
}

type inspectSegment struct {
	Path         string `json:"path"`
	BaseOffset   int64  `json:"base_offset"`
	NextOffset   int64  `json:"next_offset"`
	Bytes        int64  `json:"bytes"`
	MaxTimestamp int64  `json:"max_timestamp"`
	Active       bool   `json:"active"`
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
	var db *mqlog.DB
	if withGroups {
		db, err = a.openExistingWriter()
		var locked *lockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("--groups needs the writer's lock to read the index: %w (run without --groups)", err)
		}
	} else {
		db, err = a.openReader()
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()

	doc := inspectJSON{Version: jsonVersion, Dir: a.dir, Topics: []inspectTopic{}}
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
			for j, s := range p.Segments {
				ip.Segments[j] = inspectSegment{Path: s.Path, BaseOffset: s.BaseOffset, NextOffset: s.NextOffset,
					Bytes: s.Size, MaxTimestamp: s.MaxTimestamp, Active: s.Active}
			}
			t.Partitions[i] = ip
		}
		doc.Topics = append(doc.Topics, t)
	}
	if withGroups {
		groups, err := inspectGroups(db, topic)
		if err != nil {
			return err
		}
		doc.Groups = &groups
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, doc)
	}
	return a.printInspectTables(a.stdout, &doc)
}

// inspectGroups returns the groups' committed positions and lag, in the given topic only when not empty.
func inspectGroups(db *mqlog.DB, topic string) ([]inspectGroup, error) {
	names, err := db.Groups()
	if err != nil {
		return nil, err
	}
	out := []inspectGroup{}
	for _, name := range names {
		offsets, err := db.GroupOffsets(name)
		if err != nil {
			return nil, err
		}
		g := inspectGroup{Name: name, Offsets: []inspectGroupOffset{}}
		for _, o := range offsets {
			if topic == "" || o.Topic == topic {
				g.Offsets = append(g.Offsets, inspectGroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Lag: o.Lag})
			}
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
		t := newTable(w, "TOPIC", "PARTITION", "START OFFSET", "HIGH WATERMARK", "SEGMENTS", "BYTES")
		for _, topic := range doc.Topics {
			for _, p := range topic.Partitions {
				var bytes int64
				for _, s := range p.Segments {
					bytes += s.Bytes
				}
				t.row(topic.Name, p.Partition, p.StartOffset, p.HighWatermark, len(p.Segments), bytes)
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		t = newTable(w, "TOPIC", "PARTITION", "SEGMENT", "BASE OFFSET", "NEXT OFFSET", "BYTES", "MAX TIMESTAMP", "ACTIVE")
		for _, topic := range doc.Topics {
			for _, p := range topic.Partitions {
				for _, s := range p.Segments {
					t.row(topic.Name, p.Partition, filepath.Base(s.Path), s.BaseOffset, s.NextOffset, s.Bytes,
						formatMillis(s.MaxTimestamp), s.Active)
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
