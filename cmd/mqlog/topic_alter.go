package main

import (
	"errors"
	"fmt"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

// partitionsWarning is printed before partitions are added, as kafka-topics --alter --partitions prints it.
const partitionsWarning = "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected"

func (a *app) newTopicAlterCommand() *cobra.Command {
	var topicFlag, cleanup, retention string
	var segmentBytes, retentionBytes, retentionMs, deleteRetentionMs, segmentMs int64
	var partitions int
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "alter TOPIC",
		Short: "Change a topic's settings, or add partitions",
		Long: `Change a topic's settings. Only the flags given change. They apply at once to a topic
open in this process, and to every later open: a new segment size from the next roll, new
retention limits, cleanup policy and segment age from the next "mqlog compact" or
background cleaner run.

--partitions N raises the partition count to N (it can only grow), as kafka-topics
--alter --partitions: the new partitions start empty, consumer groups rebalance, and a
key's messages may go to another partition than before, so a key's order across the
change is not kept.

--retention-policy interest also deletes the closed segments every consumer group of the
topic has consumed (NATS JetStream's InterestPolicy); limits (the default) does not.
--delete-retention-ms is how long compaction keeps a tombstone (0: 24 hours).
--segment-ms is the age at which the active segment is closed even when not full
(Kafka's segment.ms, default 7 days), so that retention and compaction reach it.`,
		Example: `  mqlog topic alter users --cleanup-policy compact
  mqlog topic alter orders --partitions 8
  mqlog topic alter --topic orders --retention-bytes 1073741824 --retention-ms 604800000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := topicNameOf(cmd, args, topicFlag)
			if err != nil {
				return err
			}
			var alt mqlog.TopicAlteration
			flags := cmd.Flags()
			changed := 0
			for _, f := range []struct {
				name string
				v    *int64
				dst  **int64
				min  int64
			}{
				{"segment-bytes", &segmentBytes, &alt.SegmentBytes, 1},
				{"retention-bytes", &retentionBytes, &alt.RetentionBytes, 0},
				{"retention-ms", &retentionMs, &alt.RetentionMs, 0},
				{"delete-retention-ms", &deleteRetentionMs, &alt.DeleteRetentionMs, 0},
				{"segment-ms", &segmentMs, &alt.SegmentMs, 1},
			} {
				if !flags.Changed(f.name) {
					continue
				}
				if *f.v < f.min {
					return usagef("invalid --%s %d", f.name, *f.v)
				}
				*f.dst = f.v
				changed++
			}
			if flags.Changed("cleanup-policy") {
				p := mqlog.CleanupPolicy(cleanup)
				if p != mqlog.CleanupDelete && p != mqlog.CleanupCompact {
					return usagef("invalid --cleanup-policy %q: want %s or %s", cleanup, mqlog.CleanupDelete, mqlog.CleanupCompact)
				}
				alt.CleanupPolicy = &p
				changed++
			}
			if flags.Changed("retention-policy") {
				p := mqlog.RetentionPolicy(retention)
				if p != mqlog.RetentionLimits && p != mqlog.RetentionInterest {
					return usagef("invalid --retention-policy %q: want %s or %s", retention, mqlog.RetentionLimits, mqlog.RetentionInterest)
				}
				alt.RetentionPolicy = &p
				changed++
			}
			if flags.Changed("partitions") && partitions < 1 {
				return usagef("invalid --partitions %d", partitions)
			}
			if changed == 0 && !flags.Changed("partitions") {
				return usagef("nothing to change: give at least one setting")
			}
			if !flags.Changed("partitions") {
				partitions = 0
			}
			return a.alterTopic(&broker, name, alt, changed > 0, partitions)
		},
	}
	flags := cmd.Flags()
	flags.IntVar(&partitions, "partitions", 0, "raise the partition count to N (it can only grow)")
	flags.Int64Var(&segmentBytes, "segment-bytes", 0, "size at which a partition rolls to a new segment file")
	flags.Int64Var(&segmentMs, "segment-ms", 0, "age at which the active segment is rolled even when not full (Kafka's segment.ms)")
	flags.Int64Var(&retentionBytes, "retention-bytes", 0, "per partition, delete the oldest segments beyond this size (0: no limit)")
	flags.Int64Var(&retentionMs, "retention-ms", 0, "delete segments whose records are all older than this (0: no limit)")
	flags.Int64Var(&deleteRetentionMs, "delete-retention-ms", 0, "how long compaction keeps tombstones (0: 24 hours)")
	flags.StringVar(&cleanup, "cleanup-policy", "", "how space is reclaimed: delete or compact")
	flags.StringVar(&retention, "retention-policy", "", "limits, or interest: also delete what every group consumed")
	cmd.RegisterFlagCompletionFunc("cleanup-policy", cobra.FixedCompletions(
		[]string{string(mqlog.CleanupDelete), string(mqlog.CleanupCompact)}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("retention-policy", cobra.FixedCompletions(
		[]string{string(mqlog.RetentionLimits), string(mqlog.RetentionInterest)}, cobra.ShellCompDirectiveNoFileComp))
	a.addTopicArg(cmd, &topicFlag)
	addBrokerFlags(cmd, &broker)
	return cmd
}

// topicAlteredJSON is topic alter's JSON document.
type topicAlteredJSON struct {
	Version int               `json:"version"`
	Topic   string            `json:"topic"`
	Config  mqlog.TopicConfig `json:"config"`
	// PartitionsAdded is how many partitions --partitions added.
	PartitionsAdded int `json:"partitions_added"`
}

// alterTopic applies alt (when settings is set) and raises the partition count to partitions (when
// positive).
func (a *app) alterTopic(broker *brokerOptions, name string, alt mqlog.TopicAlteration, settings bool, partitions int) (err error) {
	db, err := a.openTopicAdmin(broker, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	cfg, err := db.TopicConfig(name)
	if err != nil {
		return err
	}
	before := cfg.Partitions
	if partitions > 0 && partitions <= before {
		return fmt.Errorf("%w: topic %s has %d partitions, and %d would not be more: the count can only grow",
			mqlog.ErrInvalidConfig, name, before, partitions)
	}
	if settings {
		if cfg, err = db.AlterTopic(name, alt); err != nil {
			return err
		}
	}
	if partitions > 0 {
		fmt.Fprintln(a.stderr, partitionsWarning)
		if cfg, err = db.AddPartitions(name, partitions); err != nil {
			return err
		}
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, topicAlteredJSON{Version: jsonVersion, Topic: name, Config: cfg, PartitionsAdded: cfg.Partitions - before})
	}
	policy := cfg.RetentionPolicy
	if policy == "" {
		policy = mqlog.RetentionLimits
	}
	if partitions > 0 {
		fmt.Fprintf(a.stdout, "added %s to topic %s: %d to %d\n", plural(int64(cfg.Partitions-before), "partition", "partitions"), name, before, cfg.Partitions)
	}
	if !settings {
		return nil
	}
	_, err = fmt.Fprintf(a.stdout, "altered topic %s (segment bytes %d, segment ms %d, retention bytes %d, retention ms %d, cleanup policy %s, delete retention ms %d, retention policy %s)\n",
		name, cfg.SegmentBytes, cfg.SegmentAge().Milliseconds(), cfg.RetentionBytes, cfg.RetentionMs, cfg.CleanupPolicy, cfg.DeleteRetentionMs, policy)
	return err
}
