package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newGroupsCommand() *cobra.Command {
	cmd := groupCommand("groups", "List, describe, reset and delete consumer groups")
	cmd.Long = `Consumer groups live in the index, which only the writer's lock holder may open: every
groups command takes the lock, and fails when another process has it, unless that process
serves the directory (mqlog serve): then it goes through its Kafka listener, as it does
with --broker HOST:PORT (work-queue groups are not reachable that way).

Two kinds of groups: "consumer" groups (Kafka's fan-out model: a committed offset per
partition) and "queue" groups (the work queue: an ack floor and the acked ranges above it).`
	cmd.AddCommand(a.newGroupsListCommand(), a.newGroupsDescribeCommand(), a.newGroupsResetCommand(), a.newGroupsDeleteCommand())
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
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the consumer and work-queue groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			db, err := a.openGroups(&broker)
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
	addBrokerFlags(cmd, &broker)
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
		toOffset, shiftBy          int64
		toTime                     string
		broker                     brokerOptions
	)
	cmd := &cobra.Command{
		Use:   "reset GROUP (--to-earliest | --to-latest | --to-offset N | --to-time T | --shift-by N) [--topic T] [--execute]",
		Short: "Move a consumer group's positions (a dry run unless --execute)",
		Long: `Move a consumer group's positions: to each partition's start offset, its high
watermark, an offset (clamped to what each partition holds, as Kafka does), the first
record at or after a time (RFC 3339 or milliseconds since the epoch, found through the
time index), or N offsets from where it is (--shift-by, back when N is negative; clamped
too). Without --topic, every topic the group has positions in.

It is a dry run unless --execute: it prints the plan and changes nothing. With --execute
the new positions are committed in one synced batch. A group with members in this process
cannot be reset; other processes cannot hold it, since the command takes the lock.`,
		Example: `  mqlog groups reset billing --topic orders --to-time 2026-11-29T12:00:00Z
  mqlog groups reset billing --shift-by -10 --execute
  mqlog groups reset billing --to-earliest --execute`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeGroupArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			group := args[0]
			var targets []resetSpec
			if toEarliest {
				targets = append(targets, resetSpec{kind: "earliest"})
			}
			if toLatest {
				targets = append(targets, resetSpec{kind: "latest"})
			}
			if cmd.Flags().Changed("to-offset") {
				if toOffset < 0 {
					return usagef("invalid --to-offset %d", toOffset)
				}
				targets = append(targets, resetSpec{kind: "offset", offset: toOffset})
			}
			if cmd.Flags().Changed("to-time") {
				ms, err := parseTime(toTime)
				if err != nil {
					return usagef("invalid --to-time %q: %v", toTime, err)
				}
				targets = append(targets, resetSpec{kind: "time", ms: ms})
			}
			if cmd.Flags().Changed("shift-by") {
				targets = append(targets, resetSpec{kind: "shift", offset: shiftBy})
			}
			if len(targets) != 1 {
				return usagef("give exactly one of --to-earliest, --to-latest, --to-offset, --to-time, --shift-by")
			}
			db, err := a.openGroups(&broker)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			plan, err := db.reset(group, topic, targets[0], exec)
			if err != nil {
				return err
			}
			if len(plan) == 0 {
				return fmt.Errorf("group %q has no committed positions; name the topic to reset with --topic", group)
			}
			doc := groupsResetJSON{Version: jsonVersion, Group: group, Target: targets[0].target().String(), Executed: exec}
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
	flags.Int64Var(&shiftBy, "shift-by", 0, "by N offsets from the current position (negative: back), clamped to each partition")
	flags.BoolVar(&exec, "execute", false, "apply the reset (without it, a dry run)")
	addBrokerFlags(cmd, &broker)
	a.registerTopicCompletion(cmd)
	return cmd
}

// groupsDeleteJSON is groups delete's JSON document.
type groupsDeleteJSON struct {
	Version int      `json:"version"`
	Deleted []string `json:"deleted"`
}

func (a *app) newGroupsDeleteCommand() *cobra.Command {
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups: their positions and work-queue state",
		Long: `Delete consumer and work-queue groups: their committed positions and ack state, so that a
stale group no longer holds back interest retention (as kafka-consumer-groups --delete). A
group with active members is not deleted; a name that is no group is an error. The
deletion of each group is one synced batch.`,
		Example: `  mqlog groups delete billing
  mqlog groups delete old-1 old-2`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: a.completeGroupArgs(-1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			db, err := a.openGroups(&broker)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			consumers, err := db.Groups()
			if err != nil {
				return err
			}
			queues, err := db.QueueGroups()
			if err != nil {
				return err
			}
			for _, g := range args {
				if !slices.Contains(consumers, g) && !slices.Contains(queues, g) {
					return fmt.Errorf("group %q not found: no positions and no work-queue state", g)
				}
			}
			doc := groupsDeleteJSON{Version: jsonVersion, Deleted: []string{}}
			for _, g := range args {
				if err := db.DeleteGroup(g); err != nil {
					if errors.Is(err, mqlog.ErrGroupActive) {
						err = fmt.Errorf("group %q not deleted: %w", g, err)
					}
					return errors.Join(err, a.printDeleted(doc))
				}
				doc.Deleted = append(doc.Deleted, g)
			}
			return a.printDeleted(doc)
		},
	}
	addBrokerFlags(cmd, &broker)
	return cmd
}

// printDeleted prints the groups deleted.
func (a *app) printDeleted(doc groupsDeleteJSON) error {
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, doc)
	}
	for _, g := range doc.Deleted {
		if _, err := fmt.Fprintf(a.stdout, "deleted group %s\n", g); err != nil {
			return err
		}
	}
	return nil
}
