package main

import (
	"errors"
	"fmt"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newTopicAlterCommand() *cobra.Command {
	var topicName, cleanup, retention string
	var segmentBytes, retentionBytes, retentionMs, deleteRetentionMs int64
	cmd := &cobra.Command{
		Use:   "alter",
		Short: "Change a topic's settings",
		Long: `Change a topic's settings. Only the flags given change. They apply at once to a topic
open in this process, and to every later open: a new segment size from the next roll, new
retention limits and cleanup policy from the next "mqlog compact" or background cleaner run.

--retention-policy interest also deletes the closed segments every consumer group of the
topic has consumed (NATS JetStream's InterestPolicy); limits (the default) does not.
--delete-retention-ms is how long compaction keeps a tombstone (0: 24 hours).`,
		Example: `  mqlog topic alter --topic users --cleanup-policy compact
  mqlog topic alter --topic orders --retention-bytes 1073741824 --retention-ms 604800000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mqlog.ValidateTopicName(topicName); err != nil {
				return &usageError{err: err}
			}
			var alt mqlog.TopicAlteration
			flags := cmd.Flags()
			changed := 0
			int64Flag := func(name string, v *int64, dst **int64, minimum int64) error {
				if !flags.Changed(name) {
					return nil
				}
				if *v < minimum {
					return usagef("invalid --%s %d", name, *v)
				}
				*dst = v
				changed++
				return nil
			}
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
			} {
				if err := int64Flag(f.name, f.v, f.dst, f.min); err != nil {
					return err
				}
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
			if changed == 0 {
				return usagef("nothing to change: give at least one setting")
			}
			return a.alterTopic(topicName, alt)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&topicName, "topic", "", "topic to change (required)")
	cmd.MarkFlagRequired("topic")
	flags.Int64Var(&segmentBytes, "segment-bytes", 0, "size at which a partition rolls to a new segment file")
	flags.Int64Var(&retentionBytes, "retention-bytes", 0, "per partition, delete the oldest segments beyond this size (0: no limit)")
	flags.Int64Var(&retentionMs, "retention-ms", 0, "delete segments whose records are all older than this (0: no limit)")
	flags.Int64Var(&deleteRetentionMs, "delete-retention-ms", 0, "how long compaction keeps tombstones (0: 24 hours)")
	flags.StringVar(&cleanup, "cleanup-policy", "", "how space is reclaimed: delete or compact")
	flags.StringVar(&retention, "retention-policy", "", "limits, or interest: also delete what every group consumed")
	cmd.RegisterFlagCompletionFunc("cleanup-policy", cobra.FixedCompletions(
		[]string{string(mqlog.CleanupDelete), string(mqlog.CleanupCompact)}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("retention-policy", cobra.FixedCompletions(
		[]string{string(mqlog.RetentionLimits), string(mqlog.RetentionInterest)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// topicAlteredJSON is topic alter's JSON document.
type topicAlteredJSON struct {
	Version int               `json:"version"`
	Topic   string            `json:"topic"`
	Config  mqlog.TopicConfig `json:"config"`
}

func (a *app) alterTopic(name string, alt mqlog.TopicAlteration) (err error) {
	db, err := a.openExistingWriter()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	cfg, err := db.AlterTopic(name, alt)
	if err != nil {
		return err
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, topicAlteredJSON{Version: jsonVersion, Topic: name, Config: cfg})
	}
	policy := cfg.RetentionPolicy
	if policy == "" {
		policy = mqlog.RetentionLimits
	}
	_, err = fmt.Fprintf(a.stdout, "altered topic %s (segment bytes %d, retention bytes %d, retention ms %d, cleanup policy %s, delete retention ms %d, retention policy %s)\n",
		name, cfg.SegmentBytes, cfg.RetentionBytes, cfg.RetentionMs, cfg.CleanupPolicy, cfg.DeleteRetentionMs, policy)
	return err
}
