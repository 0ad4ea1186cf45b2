package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupsDescribeJSON is groups describe's JSON document. A name may be both kinds of group.
type groupsDescribeJSON struct {
	Version  int                  `json:"version"`
	Group    string               `json:"group"`
	State    string               `json:"state"` // Kafka's group state: Empty, Stable, ...; Dead for none
	Consumer []groupOffsetJSON    `json:"consumer"`
	Queue    []queuePartitionJSON `json:"queue"`
}

// groupOffsetJSON is one partition of a consumer group, as a row of kafka-consumer-groups --describe.
type groupOffsetJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// CurrentOffset is where the group reads next: its committed offset, clamped to what the log holds;
	// null where it has committed nothing.
	CurrentOffset *int64 `json:"current_offset"`
	// Committed is the offset as stored (null where none).
	Committed *int64 `json:"committed"`
	// Metadata is the string committed with the offset (a Kafka client's commit metadata; null where
	// nothing is committed), LeaderEpoch the leader epoch committed with it (-1 for none).
	Metadata    *string `json:"metadata"`
	LeaderEpoch *int32  `json:"leader_epoch"`
	// LogEndOffset is the partition's high watermark; null for a topic that no longer exists.
	LogEndOffset *int64 `json:"log_end_offset"`
	// Lag is LogEndOffset minus CurrentOffset; null when either is.
	Lag *int64 `json:"lag"`
	// ConsumerID, Host and ClientID name the active member the partition is assigned to (null for none).
	ConsumerID *string `json:"consumer_id"`
	Host       *string `json:"host"`
	ClientID   *string `json:"client_id"`
}

type queuePartitionJSON struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	AckFloor     int64  `json:"ack_floor"`
	AckedAbove   int64  `json:"acked_above_floor"`
	AckRanges    int    `json:"ack_ranges"`
	Unacked      int64  `json:"unacked"`
	Redelivering int    `json:"redelivering"`
	Scheduled    int64  `json:"scheduled,omitempty"` // waiting for their DeliverAt (not in unacked)
}

func (a *app) newGroupsDescribeCommand() *cobra.Command {
	var topic string
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's positions, log end offsets, lag and members, partition by partition",
		Long: `Show a consumer group as kafka-consumer-groups --describe does: for every partition of
every topic the group has positions in (or of --topic), its CURRENT-OFFSET (the committed
offset, clamped to what the log holds; "-" where it has committed nothing), the
LOG-END-OFFSET (the high watermark), the LAG between them, and the CONSUMER-ID, HOST and
CLIENT-ID of the active member the partition is assigned to ("-" for none).

For a work-queue group: the ack floor, the acked messages above it and the ranges holding
them, the unacked messages, and those of them delivered more than once.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeGroupArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			db, err := a.openGroups(&broker)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, db.Close()) }()
			doc, err := describeGroup(db, args[0], topic)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return writeJSONDocument(a.stdout, doc)
			}
			return a.printGroupDescription(doc)
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "only this topic (also one the group has no position in yet)")
	addBrokerFlags(cmd, &broker)
	a.registerTopicCompletion(cmd)
	return cmd
}

// describeGroup builds groups describe's document from db: the group's consumer positions in every
// partition of its topics (or of topic), with the members' assignments, and its work-queue state.
func describeGroup(db groupStore, group, topic string) (groupsDescribeJSON, error) {
	doc := groupsDescribeJSON{Version: jsonVersion, Group: group, Consumer: []groupOffsetJSON{}, Queue: []queuePartitionJSON{}}
	desc, err := db.DescribeGroup(group)
	if err != nil {
		return doc, err
	}
	doc.State = desc.State
	owners := groupOwners(desc)
	offsets, err := db.GroupOffsets(group)
	if err != nil {
		return doc, err
	}
	committed := map[string]map[int32]mqlog.GroupOffset{}
	var topics []string
	addTopic := func(name string) {
		if _, ok := committed[name]; !ok {
			committed[name] = map[int32]mqlog.GroupOffset{}
			topics = append(topics, name)
		}
	}
	for _, o := range offsets {
		addTopic(o.Topic)
		committed[o.Topic][o.Partition] = o
	}
	for _, m := range desc.Members {
		if m.Topic != "" {
			addTopic(m.Topic)
		}
	}
	for t := range owners {
		addTopic(t)
	}
	if topic != "" {
		if _, err := db.TopicConfig(topic); err != nil && len(committed[topic]) == 0 {
			return doc, err
		}
		addTopic(topic)
		topics = []string{topic}
	}
	slices.Sort(topics)
	for _, name := range topics {
		parts, err := db.Partitions(name)
		if errors.Is(err, mqlog.ErrTopicNotFound) {
			// Positions kept for a topic that is gone: shown as stored, with no log end.
			for _, o := range offsets {
				if o.Topic == name {
					row := groupOffsetJSON{Topic: name, Partition: o.Partition, CurrentOffset: new(o.Offset), Committed: new(o.Committed),
						Metadata: new(o.Metadata), LeaderEpoch: new(o.LeaderEpoch)}
					doc.Consumer = append(doc.Consumer, row)
				}
			}
			continue
		}
		if err != nil {
			return doc, err
		}
		for _, p := range parts {
			row := groupOffsetJSON{Topic: name, Partition: p.Partition, LogEndOffset: new(p.HighWatermark)}
			if o, ok := committed[name][p.Partition]; ok {
				row.CurrentOffset, row.Committed, row.Lag = new(o.Offset), new(o.Committed), new(p.HighWatermark-o.Offset)
				row.Metadata, row.LeaderEpoch = new(o.Metadata), new(o.LeaderEpoch)
			}
			if m, ok := owners[name][p.Partition]; ok {
				row.ConsumerID, row.Host, row.ClientID = new(m.MemberID), new(m.ClientHost), new(m.ClientID)
			}
			doc.Consumer = append(doc.Consumer, row)
		}
	}
	states, err := db.QueueGroupState(group)
	if err != nil {
		return doc, err
	}
	for _, s := range states {
		if topic == "" || s.Topic == topic {
			doc.Queue = append(doc.Queue, queuePartitionJSON{Topic: s.Topic, Partition: s.Partition, AckFloor: s.Floor,
				AckedAbove: s.AckedAbove, AckRanges: s.AckRanges, Unacked: s.Unacked, Redelivering: s.Redelivering, Scheduled: s.Scheduled})
		}
	}
	if len(doc.Consumer) == 0 && len(doc.Queue) == 0 {
		return doc, fmt.Errorf("group %q has no positions%s", group, onTopic(topic))
	}
	return doc, nil
}

// groupOwners maps each topic and partition to the member of desc it is assigned to: an embedded
// Consumer's owned partitions, or a Kafka client's assignment (a ConsumerMemberAssignment).
func groupOwners(desc mqlog.GroupDescription) map[string]map[int32]mqlog.GroupMemberDescription {
	owners := map[string]map[int32]mqlog.GroupMemberDescription{}
	own := func(topic string, p int32, m mqlog.GroupMemberDescription) {
		if owners[topic] == nil {
			owners[topic] = map[int32]mqlog.GroupMemberDescription{}
		}
		owners[topic][p] = m
	}
	for _, m := range desc.Members {
		for _, p := range m.Partitions {
			own(m.Topic, p, m)
		}
		if len(m.Assignment) == 0 {
			continue
		}
		var assignment kmsg.ConsumerMemberAssignment
		if err := assignment.ReadFrom(m.Assignment); err != nil {
			continue // not a consumer's assignment: no partitions to show it on
		}
		for _, t := range assignment.Topics {
			for _, p := range t.Partitions {
				own(t.Topic, p, m)
			}
		}
	}
	return owners
}

// printGroupDescription prints doc as kafka-consumer-groups --describe's table, then the work-queue table.
func (a *app) printGroupDescription(doc groupsDescribeJSON) error {
	if len(doc.Consumer) > 0 {
		active := false
		// The columns of kafka-consumer-groups --describe. The commit metadata is in -o json only: franz-go,
		// for one, commits its member id as metadata, which would widen every row with noise.
		t := newTable(a.stdout, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		for _, o := range doc.Consumer {
			active = active || o.ConsumerID != nil
			t.row(doc.Group, o.Topic, o.Partition, orDash(o.CurrentOffset), orDash(o.LogEndOffset), orDash(o.Lag),
				orDash(o.ConsumerID), orDash(o.Host), orDash(o.ClientID))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if !active {
			fmt.Fprintf(a.stderr, "note: consumer group %s has no active members\n", doc.Group)
		}
	}
	if len(doc.Queue) > 0 {
		if len(doc.Consumer) > 0 {
			fmt.Fprintln(a.stdout)
		}
		cols := []string{"QUEUE GROUP", "TOPIC", "PARTITION", "ACK FLOOR", "ACKED ABOVE", "RANGES", "UNACKED", "REDELIVERING"}
		scheduled := slices.ContainsFunc(doc.Queue, func(s queuePartitionJSON) bool { return s.Scheduled > 0 })
		if scheduled { // a column only for groups with delayed messages
			cols = append(cols, "SCHEDULED")
		}
		t := newTable(a.stdout, cols...)
		for _, s := range doc.Queue {
			row := []any{doc.Group, s.Topic, s.Partition, s.AckFloor, s.AckedAbove, s.AckRanges, s.Unacked, s.Redelivering}
			if scheduled {
				row = append(row, s.Scheduled)
			}
			t.row(row...)
		}
		return t.flush()
	}
	return nil
}

// orDash renders a value of a table cell, "-" for none (and for an empty string).
func orDash[T any](v *T) string {
	if v == nil {
		return "-"
	}
	if s := fmt.Sprint(*v); s != "" {
		return s
	}
	return "-"
}
