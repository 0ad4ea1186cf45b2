package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newTopicDescribeCommand() *cobra.Command {
	var topicFlag string
	cmd := &cobra.Command{
		Use:   "describe [TOPIC]",
		Short: "Show a topic's settings and partitions (read-only)",
		Long: `Show a topic's settings, with Kafka's names for them, and its partitions: start offset,
log end offset (the high watermark), segments and bytes, as kafka-topics --describe. Without
a topic, every topic.

It takes no lock and creates nothing. The settings live in the index, which only the writer
may read while it runs: when that writer serves the directory (mqlog serve) they come from
it through the Kafka protocol; otherwise they are not shown, with a note on stderr.`,
		Example: `  mqlog topic describe orders
  mqlog topic describe -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			if len(args) > 0 || cmd.Flags().Changed("topic") {
				name, err := topicNameOf(cmd, args, topicFlag)
				if err != nil {
					return err
				}
				names = []string{name}
			}
			return a.describeTopics(names)
		},
	}
	a.addTopicArg(cmd, &topicFlag)
	return cmd
}

// topicDescribeJSON is topic describe's JSON document.
type topicDescribeJSON struct {
	Version int                 `json:"version"`
	Topics  []topicDescribeItem `json:"topics"`
}

type topicDescribeItem struct {
	Name       string                   `json:"name"`
	Config     *mqlog.TopicConfig       `json:"config"` // null when the index could not be read
	Partitions []topicDescribePartition `json:"partitions"`
}

type topicDescribePartition struct {
	Partition    int32 `json:"partition"`
	StartOffset  int64 `json:"start_offset"`
	LogEndOffset int64 `json:"log_end_offset"`
	Segments     int   `json:"segments"`
	Bytes        int64 `json:"bytes"`
}

func (a *app) describeTopics(names []string) (err error) {
	db, err := a.openReader()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	snap, err := a.readIndex()
	if err != nil && !errors.Is(err, mqlog.ErrLocked) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if names == nil {
		names = db.Topics()
	}
	settings := a.topicSettings(snap, err, names)
	doc := topicDescribeJSON{Version: jsonVersion, Topics: []topicDescribeItem{}}
	for _, name := range names {
		parts, err := db.Partitions(name)
		if err != nil {
			return err
		}
		item := topicDescribeItem{Name: name, Partitions: []topicDescribePartition{}}
		if settings != nil {
			if cfg, ok := settings[name]; ok {
				item.Config = &cfg
			}
		}
		for _, p := range parts {
			dp := topicDescribePartition{Partition: p.Partition, StartOffset: p.StartOffset, LogEndOffset: p.HighWatermark, Segments: len(p.Segments)}
			for _, s := range p.Segments {
				dp.Bytes += s.Size
			}
			item.Partitions = append(item.Partitions, dp)
		}
		doc.Topics = append(doc.Topics, item)
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, doc)
	}
	if len(doc.Topics) == 0 {
		fmt.Fprintf(a.stderr, "no topics in %s\n", a.dir)
		return nil
	}
	for i, item := range doc.Topics {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		count := len(item.Partitions)
		configs := "-"
		if c := item.Config; c != nil {
			count = max(count, c.Partitions)
			configs = kafkaConfigs(*c)
		}
		fmt.Fprintf(a.stdout, "Topic: %s\tPartitionCount: %d\tConfigs: %s\n", item.Name, count, configs)
		t := newTable(a.stdout, "PARTITION", "START-OFFSET", "LOG-END-OFFSET", "SEGMENTS", "BYTES")
		for _, p := range item.Partitions {
			t.row(p.Partition, p.StartOffset, p.LogEndOffset, p.Segments, p.Bytes)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// kafkaConfigs spells a topic's settings with Kafka's names (retention.bytes and retention.ms -1 for no
// limit, as Kafka says it), and mqlog's retention.policy last.
func kafkaConfigs(c mqlog.TopicConfig) string {
	unlimited := func(n int64) int64 {
		if n == 0 {
			return -1
		}
		return n
	}
	policy := c.RetentionPolicy
	if policy == "" {
		policy = mqlog.RetentionLimits
	}
	return strings.Join([]string{
		fmt.Sprintf("cleanup.policy=%s", c.CleanupPolicy),
		fmt.Sprintf("segment.bytes=%d", c.SegmentBytes),
		fmt.Sprintf("segment.ms=%d", c.SegmentAge().Milliseconds()),
		fmt.Sprintf("retention.bytes=%d", unlimited(c.RetentionBytes)),
		fmt.Sprintf("retention.ms=%d", unlimited(c.RetentionMs)),
		fmt.Sprintf("delete.retention.ms=%d", c.DeleteRetention().Milliseconds()),
		fmt.Sprintf("retention.policy=%s", policy),
	}, ",")
}
