package main

import (
	"fmt"
	"path/filepath"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newRepairCommand() *cobra.Command {
	var topic string
	var execute bool
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Cut damaged logs back to their last valid batch (a dry run unless --execute)",
		Long: `Check the data directory as verify does, with the writer's lock held, and plan what
makes it a directory that opens again. Without --execute it only prints the plan and
changes nothing.

Repair removes only the damaged bytes, never an acknowledged message that is intact:
from a partition's first damage on, each damaged stretch is dropped up to the next valid
batch, which keeps its offset, and an empty batch (as Kafka's log cleaner leaves) stands
for the offsets whose records were lost, so the log keeps its end and no offset is handed
out twice. A missing segment is replaced by one holding such an empty batch, a segment
named above its first batch is renamed, an epoch field out of order is restored. Every
file that is changed is first copied into <dir>/lost+found/<topic>-<partition>/, where
unexpected files, links and overlapping segments are moved, with a REPAIR-<time>.txt note
of what was done. A torn tail past the durable point is cut. Then the durable state in
the index is rewritten to describe exactly the kept segments and the sparse index is
rebuilt.

Exit codes: 0 done (or nothing to do), 1 error (the lock is held, I/O), 2 usage error.`,
		Example: `  mqlog repair              # what would be done
  mqlog repair --execute`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("topic") {
				if err := mqlog.ValidateTopicName(topic); err != nil {
					return &usageError{err: err}
				}
			}
			return a.repair(topic, execute)
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "only this topic")
	cmd.Flags().BoolVar(&execute, "execute", false, "carry the plan out (default: dry run)")
	a.registerTopicCompletion(cmd)
	return cmd
}

// repairJSON is repair's JSON document.
type repairJSON struct {
	Version     int                   `json:"version"`
	Dir         string                `json:"dir"`
	Executed    bool                  `json:"executed"`
	LostDir     string                `json:"lost_dir"`
	Partitions  []repairPartitionJSON `json:"partitions"`
	GroupResets []mqlog.RepairedGroup `json:"group_resets"`
	// TopicsRecorded are the topics found on disk without a config, recorded with the defaults.
	TopicsRecorded []mqlog.TopicFound `json:"topics_recorded"`
}

type repairPartitionJSON struct {
	Topic      string             `json:"topic"`
	Partition  int32              `json:"partition"`
	NextOffset int64              `json:"next_offset"` // the log's end after the repair
	LostBytes  int64              `json:"lost_bytes"`
	Actions    []repairActionJSON `json:"actions"`
}

type repairActionJSON struct {
	Kind   string `json:"kind"`
	Path   string `json:"path,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Detail string `json:"detail"`
}

func (a *app) repair(topic string, execute bool) error {
	if err := a.checkDirExists(); err != nil {
		return err
	}
	rep, err := whileOpening(a.ctx, a.dir, func() (*mqlog.RepairReport, error) {
		return mqlog.Repair(a.dir, &mqlog.RepairOptions{Topic: topic, Execute: execute})
	})
	if err != nil {
		return lockedOr(a.dir, err)
	}
	doc := repairJSON{Version: jsonVersion, Dir: a.dir, Executed: execute, LostDir: rep.LostDir,
		Partitions: []repairPartitionJSON{}, GroupResets: rep.GroupsMovedBack, TopicsRecorded: rep.TopicsRecorded}
	if doc.TopicsRecorded == nil {
		doc.TopicsRecorded = []mqlog.TopicFound{}
	}
	if doc.GroupResets == nil {
		doc.GroupResets = []mqlog.RepairedGroup{}
	}
	for _, p := range rep.Partitions {
		pj := repairPartitionJSON{Topic: p.Topic, Partition: p.Partition, NextOffset: p.NextOffset, LostBytes: p.Lost}
		for _, act := range p.Actions {
			pj.Actions = append(pj.Actions, repairActionJSON{Kind: act.Kind, Path: act.Path, Offset: act.Offset, Detail: act.Detail})
		}
		doc.Partitions = append(doc.Partitions, pj)
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, doc)
	}
	w := a.stdout
	if rep.Empty() {
		_, err := fmt.Fprintln(w, "nothing to repair")
		return err
	}
	verb := "would"
	if execute {
		verb = "did"
	}
	for _, p := range rep.Partitions {
		ends := "would end"
		if execute {
			ends = "now ends"
		}
		fmt.Fprintf(w, "%s partition %d: the log %s at offset %d (%s out of the log, kept in %s)\n", p.Topic, p.Partition,
			ends, p.NextOffset, plural(p.Lost, "byte", "bytes"), filepath.Join(rep.LostDir, fmt.Sprintf("%s-%d", p.Topic, p.Partition)))
		for _, act := range p.Actions {
			fmt.Fprintf(w, "  %s: %s\n", verb, act)
		}
	}
	for _, g := range rep.GroupsMovedBack {
		fmt.Fprintf(w, "group %s: %s partition %d position %d -> %d\n", g.Group, g.Topic, g.Partition, g.From, g.To)
	}
	for _, tf := range rep.TopicsRecorded {
		fmt.Fprintf(w, "topic %s: found on disk without a config; %s: record it with the default settings and %s\n", tf.Topic, verb,
			plural(int64(tf.Partitions), "partition", "partitions"))
	}
	if !execute {
		fmt.Fprintln(a.stderr, "dry run: nothing was changed; run again with --execute to repair")
	}
	return nil
}
