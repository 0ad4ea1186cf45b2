package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newGroupsCommand() *cobra.Command {
	cmd := groupCommand("groups", "List, describe and reset consumer groups")
	cmd.Long = `Consumer groups live in the index, which only the writer's lock holder may open: every
groups command takes the lock, and fails when another process has it.

Two kinds of groups: "consumer" groups (Kafka's fan-out model: a committed offset per
partition) and "queue" groups (the work queue: an ack floor and the acked ranges above it).`
	cmd.AddCommand(a.newGroupsListCommand(), a.newGroupsDescribeCommand(), a.newGroupsResetCommand())
	return cmd
}

// groupsListJSON is groups list's JSON document.
type groupsListJSON struct {
	Version int             `json:"version"`
	Groups  []groupListItem `json:"groups"`
}

type groupListItem struct {
	Name string `json:"name"`
	Type string `json:"type"` // consumer or queue
}

// Group kinds as the CLI prints them.
const (
	groupTypeConsumer = "consumer"
	groupTypeQueue    = "queue"
)

func (a *app) newGroupsListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the consumer and work-queue groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			db, err := a.openGroupsDB()
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			doc := groupsListJSON{Version: jsonVersion, Groups: []groupListItem{}}
			consumers, err := db.Groups()
			if err != nil {
				return err
			}
			for _, g := range consumers {
				doc.Groups = append(doc.Groups, groupListItem{Name: g, Type: groupTypeConsumer})
			}
			queues, err := db.QueueGroups()
			if err != nil {
				return err
			}
			for _, g := range queues {
				doc.Groups = append(doc.Groups, groupListItem{Name: g, Type: groupTypeQueue})
			}
			if a.jsonOutput() {
				return writeJSONDocument(a.stdout, doc)
			}
			if len(doc.Groups) == 0 {
				fmt.Fprintln(a.stderr, "no groups")
				return nil
			}
			t := newTable(a.stdout, "GROUP", "TYPE")
			for _, g := range doc.Groups {
				t.row(g.Name, g.Type)
			}
			return t.flush()
		},
	}
}

// openGroupsDB opens the data directory for a groups command: with the lock, never creating it.
func (a *app) openGroupsDB() (*mqlog.DB, error) {
	db, err := a.openExistingWriter()
	var locked *lockedError
	if errors.As(err, &locked) {
		return nil, fmt.Errorf("groups needs the writer's lock to read the index: %w", err)
	}
	return db, err
}

// groupsDescribeJSON is groups describe's JSON document. A name may be both kinds of group.
type groupsDescribeJSON struct {
	Version  int                  `json:"version"`
	Group    string               `json:"group"`
	Consumer []groupOffsetJSON    `json:"consumer"`
	Queue    []queuePartitionJSON `json:"queue"`
}

type groupOffsetJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`    // where the group reads next (clamped to the log)
	Committed int64  `json:"committed"` // as stored
	Lag       int64  `json:"lag"`
}

type queuePartitionJSON struct {
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	AckFloor   int64  `json:"ack_floor"`
	AckedAbove int64  `json:"acked_above_floor"`
	AckRanges  int    `json:"ack_ranges"`
	Unacked    int64  `json:"unacked"`
	Scheduled  int64  `json:"scheduled,omitempty"` // waiting for their DeliverAt (not in unacked)
}

func (a *app) newGroupsDescribeCommand() *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's positions and lag, partition by partition",
		Long: `Show a group's positions and lag, partition by partition. For a consumer group: the
offset it reads next (its committed offset clamped to what the log holds), the committed
offset as stored, and the lag to the high watermark. For a work-queue group: the ack
floor, the acked messages above it and the ranges holding them, and the unacked count.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			group := args[0]
			db, err := a.openGroupsDB()
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			doc := groupsDescribeJSON{Version: jsonVersion, Group: group, Consumer: []groupOffsetJSON{}, Queue: []queuePartitionJSON{}}
			offsets, err := db.GroupOffsets(group)
			if err != nil {
				return err
			}
			for _, o := range offsets {
				if topic == "" || o.Topic == topic {
					doc.Consumer = append(doc.Consumer, groupOffsetJSON{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Committed: o.Committed, Lag: o.Lag})
				}
			}
			states, err := db.QueueGroupState(group)
			if err != nil {
				return err
			}
			for _, s := range states {
				if topic == "" || s.Topic == topic {
					doc.Queue = append(doc.Queue, queuePartitionJSON{Topic: s.Topic, Partition: s.Partition, AckFloor: s.Floor,
						AckedAbove: s.AckedAbove, AckRanges: s.AckRanges, Unacked: s.Unacked, Scheduled: s.Scheduled})
				}
			}
			if len(doc.Consumer) == 0 && len(doc.Queue) == 0 {
				return fmt.Errorf("group %q has no positions%s", group, onTopic(topic))
			}
			if a.jsonOutput() {
				return writeJSONDocument(a.stdout, doc)
			}
			if len(doc.Consumer) > 0 {
				t := newTable(a.stdout, "GROUP", "TOPIC", "PARTITION", "OFFSET", "COMMITTED", "LAG")
				for _, o := range doc.Consumer {
					t.row(group, o.Topic, o.Partition, o.Offset, o.Committed, o.Lag)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if len(doc.Queue) > 0 {
				if len(doc.Consumer) > 0 {
					fmt.Fprintln(a.stdout)
				}
				scheduled := slices.ContainsFunc(doc.Queue, func(s queuePartitionJSON) bool { return s.Scheduled > 0 })
				cols := []string{"QUEUE GROUP", "TOPIC", "PARTITION", "ACK FLOOR", "ACKED ABOVE", "RANGES", "UNACKED"}
				if scheduled { // a column only for groups with delayed messages, so other output stays as it was
					cols = append(cols, "SCHEDULED")
				}
				t := newTable(a.stdout, cols...)
				for _, s := range doc.Queue {
					row := []any{group, s.Topic, s.Partition, s.AckFloor, s.AckedAbove, s.AckRanges, s.Unacked}
					if scheduled {
						row = append(row, s.Scheduled)
					}
					t.row(row...)
				}
				return t.flush()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "only this topic")
	return cmd
}

func onTopic(topic string) string {
	if topic == "" {
		return ""
	}
	return " on topic " + topic
}

// groupsResetJSON is groups reset's JSON document.
type groupsResetJSON struct {
	Version    int              `json:"version"`
	Group      string           `json:"group"`
	Target     string           `json:"target"`
	Executed   bool             `json:"executed"`
	Partitions []groupResetJSON `json:"partitions"`
}

type groupResetJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"`
	Target    int64  `json:"target"`
}

func (a *app) newGroupsResetCommand() *cobra.Command {
	var (
		topic                      string
		toEarliest, toLatest, exec bool
		toOffset                   int64
		toTime                     string
	)
	cmd := &cobra.Command{
		Use:   "reset GROUP (--to-earliest | --to-latest | --to-offset N | --to-time T) [--topic T] [--execute]",
		Short: "Move a consumer group's positions (a dry run unless --execute)",
		Long: `Move a consumer group's positions: to each partition's start offset, its high
watermark, an offset (clamped to what each partition holds, as Kafka does), or the first
record at or after a time (RFC 3339 or milliseconds since the epoch, found through the
time index). Without --topic, every topic the group has positions in.

It is a dry run unless --execute: it prints the plan and changes nothing. With --execute
the new positions are committed in one synced batch. A group with members in this process
cannot be reset; other processes cannot hold it, since the command takes the lock.`,
		Example: `  mqlog groups reset billing --topic orders --to-time 2026-11-29T12:00:00Z
  mqlog groups reset billing --to-earliest --execute`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			group := args[0]
			var targets []mqlog.ResetTarget
			if toEarliest {
				targets = append(targets, mqlog.ResetToEarliest())
			}
			if toLatest {
				targets = append(targets, mqlog.ResetToLatest())
			}
			if cmd.Flags().Changed("to-offset") {
				if toOffset < 0 {
					return usagef("invalid --to-offset %d", toOffset)
				}
				targets = append(targets, mqlog.ResetToOffset(toOffset))
			}
			if cmd.Flags().Changed("to-time") {
				ms, err := parseTime(toTime)
				if err != nil {
					return usagef("invalid --to-time %q: %v", toTime, err)
				}
				targets = append(targets, mqlog.ResetToTime(time.UnixMilli(ms)))
			}
			if len(targets) != 1 {
				return usagef("give exactly one of --to-earliest, --to-latest, --to-offset, --to-time")
			}
			db, err := a.openGroupsDB()
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			var plan []mqlog.GroupReset
			if exec {
				plan, err = db.ResetGroup(group, topic, targets[0])
			} else {
				plan, err = db.PlanGroupReset(group, topic, targets[0])
			}
			if err != nil {
				return err
			}
			if len(plan) == 0 {
				return fmt.Errorf("group %q has no committed positions; name the topic to reset with --topic", group)
			}
			doc := groupsResetJSON{Version: jsonVersion, Group: group, Target: targets[0].String(), Executed: exec}
			for _, r := range plan {
				doc.Partitions = append(doc.Partitions, groupResetJSON{Topic: r.Topic, Partition: r.Partition, Current: r.Current, Target: r.Target})
			}
			if !exec {
				fmt.Fprintln(a.stderr, "dry run: nothing changed (run with --execute to apply)")
			}
			if a.jsonOutput() {
				return writeJSONDocument(a.stdout, doc)
			}
			t := newTable(a.stdout, "GROUP", "TOPIC", "PARTITION", "CURRENT", "TARGET")
			for _, r := range doc.Partitions {
				t.row(group, r.Topic, r.Partition, r.Current, r.Target)
			}
			return t.flush()
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&topic, "topic", "", "only this topic (needed for a group with no positions yet)")
	flags.BoolVar(&toEarliest, "to-earliest", false, "to each partition's start offset")
	flags.BoolVar(&toLatest, "to-latest", false, "to each partition's high watermark")
	flags.Int64Var(&toOffset, "to-offset", 0, "to this offset, clamped to each partition")
	flags.StringVar(&toTime, "to-time", "", "to the first record at or after this time (RFC 3339 or ms since the epoch)")
	flags.BoolVar(&exec, "execute", false, "apply the reset (without it, a dry run)")
	return cmd
}
