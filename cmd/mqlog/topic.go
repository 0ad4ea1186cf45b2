package main

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
)

func (a *app) newTopicCommand() *cobra.Command {
	cmd := groupCommand("topic", "Create, list, describe, alter and delete topics")
	cmd.AddCommand(a.newTopicCreateCommand(), a.newTopicListCommand(), a.newTopicDescribeCommand(), a.newTopicAlterCommand(),
		a.newTopicDeleteCommand())
	return cmd
}

// topicNameOf returns the topic a topic subcommand works on: its argument, or --topic as Kafka's
// kafka-topics takes it (both may be given when they agree).
func topicNameOf(cmd *cobra.Command, args []string, flag string) (string, error) {
	name := flag
	switch {
	case len(args) == 1 && cmd.Flags().Changed("topic") && args[0] != flag:
		return "", usagef("two topics: %q and --topic %q", args[0], flag)
	case len(args) == 1:
		name = args[0]
	case !cmd.Flags().Changed("topic"):
		return "", usagef("name the topic: %s TOPIC (or --topic TOPIC)", cmd.CommandPath())
	}
	if err := mqlog.ValidateTopicName(name); err != nil {
		return "", &usageError{err: err}
	}
	return name, nil
}

// addTopicArg gives cmd the --topic flag beside its TOPIC argument, both completed with the topics.
func (a *app) addTopicArg(cmd *cobra.Command, topic *string) {
	cmd.Flags().StringVarP(topic, "topic", "t", "", "the topic (instead of the argument, as kafka-topics --topic)")
	a.registerTopicCompletion(cmd)
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.completeTopics(cmd, args, toComplete)
	}
}

func (a *app) newTopicCreateCommand() *cobra.Command {
	var cfg mqlog.TopicConfig
	var policy, retention, topicFlag string
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "create TOPIC",
		Short: "Create a topic",
		Long: `Create a topic. Settings left out take the defaults: 1 partition, 64 MiB segments
rolled at the latest after 7 days, no retention limit, cleanup by delete. Creating a topic
that exists with the same number of partitions is not an error (its settings are left as
they are).`,
		Example: `  mqlog topic create orders --partitions 4 --retention-ms 604800000
  mqlog topic create --topic orders --partitions 4`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := topicNameOf(cmd, args, topicFlag)
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			switch {
			case flags.Changed("partitions") && cfg.Partitions < 1:
				return usagef("invalid --partitions %d: want at least 1", cfg.Partitions)
			case flags.Changed("segment-bytes") && cfg.SegmentBytes < 1:
				return usagef("invalid --segment-bytes %d", cfg.SegmentBytes)
			case cfg.RetentionBytes < 0:
				return usagef("invalid --retention-bytes %d", cfg.RetentionBytes)
			case cfg.RetentionMs < 0:
				return usagef("invalid --retention-ms %d", cfg.RetentionMs)
			case cfg.DeleteRetentionMs < 0:
				return usagef("invalid --delete-retention-ms %d", cfg.DeleteRetentionMs)
			case flags.Changed("segment-ms") && cfg.SegmentMs < 1:
				return usagef("invalid --segment-ms %d: want at least 1", cfg.SegmentMs)
			case !flags.Changed("segment-ms"):
				cfg.SegmentMs = 0 // the default, stored as such
			}
			switch p := mqlog.RetentionPolicy(retention); p {
			case mqlog.RetentionLimits, mqlog.RetentionInterest:
				cfg.RetentionPolicy = p
			default:
				return usagef("invalid --retention-policy %q: want %s or %s", retention, mqlog.RetentionLimits, mqlog.RetentionInterest)
			}
			switch p := mqlog.CleanupPolicy(policy); p {
			case mqlog.CleanupDelete, mqlog.CleanupCompact:
				cfg.CleanupPolicy = p
			default:
				return usagef("invalid --cleanup-policy %q: want %s or %s", policy, mqlog.CleanupDelete, mqlog.CleanupCompact)
			}
			return a.createTopic(cmd, &broker, name, cfg)
		},
	}
	flags := cmd.Flags()
	flags.IntVar(&cfg.Partitions, "partitions", mqlog.DefaultPartitions, "number of partitions")
	flags.Int64Var(&cfg.SegmentBytes, "segment-bytes", mqlog.DefaultSegmentBytes, "size at which a partition rolls to a new segment file")
	flags.Int64Var(&cfg.RetentionBytes, "retention-bytes", 0, "per partition, delete the oldest segments beyond this size (0: no limit)")
	flags.Int64Var(&cfg.RetentionMs, "retention-ms", 0, "delete segments whose records are all older than this (0: no limit)")
	flags.StringVar(&policy, "cleanup-policy", string(mqlog.CleanupDelete), "how space is reclaimed: delete or compact")
	flags.Int64Var(&cfg.DeleteRetentionMs, "delete-retention-ms", 0, "how long compaction keeps tombstones (0: 24 hours)")
	flags.StringVar(&retention, "retention-policy", string(mqlog.RetentionLimits), "limits, or interest: also delete what every group consumed")
	flags.Int64Var(&cfg.SegmentMs, "segment-ms", mqlog.DefaultSegmentAge.Milliseconds(), "age at which the active segment is rolled even when not full (Kafka's segment.ms)")
	cmd.RegisterFlagCompletionFunc("cleanup-policy", cobra.FixedCompletions(
		[]string{string(mqlog.CleanupDelete), string(mqlog.CleanupCompact)}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("retention-policy", cobra.FixedCompletions(
		[]string{string(mqlog.RetentionLimits), string(mqlog.RetentionInterest)}, cobra.ShellCompDirectiveNoFileComp))
	flags.StringVarP(&topicFlag, "topic", "t", "", "the topic (instead of the argument, as kafka-topics --topic)")
	addBrokerFlags(cmd, &broker)
	return cmd
}

// topicCreatedJSON is topic create's JSON document.
type topicCreatedJSON struct {
	Version int               `json:"version"`
	Topic   string            `json:"topic"`
	Created bool              `json:"created"` // false: it existed already
	Config  mqlog.TopicConfig `json:"config"`
}

func (a *app) createTopic(cmd *cobra.Command, broker *brokerOptions, name string, cfg mqlog.TopicConfig) (err error) {
	db, err := a.openTopicAdmin(broker, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	existed := slices.Contains(db.Topics(), name)
	if err := db.CreateTopic(name, cfg); err != nil {
		return err
	}
	stored, err := db.TopicConfig(name)
	if err != nil {
		return err
	}
	if existed {
		if differ := changedSettingsDiffer(cmd, cfg, stored); len(differ) > 0 {
			fmt.Fprintf(a.stderr, "warning: topic %s exists with other settings (%v), which were not changed\n", name, differ)
		}
	}
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, topicCreatedJSON{Version: jsonVersion, Topic: name, Created: !existed, Config: stored})
	}
	verb := "created topic"
	if existed {
		verb = "topic exists:"
	}
	_, err = fmt.Fprintf(a.stdout, "%s %s (partitions %d, segment bytes %d, segment ms %d, retention bytes %d, retention ms %d, cleanup policy %s)\n",
		verb, name, stored.Partitions, stored.SegmentBytes, stored.SegmentAge().Milliseconds(), stored.RetentionBytes, stored.RetentionMs, stored.CleanupPolicy)
	return err
}

// changedSettingsDiffer names the settings given on the command line that differ from the stored ones.
func changedSettingsDiffer(cmd *cobra.Command, want, have mqlog.TopicConfig) []string {
	flags := cmd.Flags()
	var differ []string
	check := func(flag string, same bool) {
		if flags.Changed(flag) && !same {
			differ = append(differ, "--"+flag)
		}
	}
	check("segment-bytes", want.SegmentBytes == have.SegmentBytes)
	check("retention-bytes", want.RetentionBytes == have.RetentionBytes)
	check("retention-ms", want.RetentionMs == have.RetentionMs)
	check("cleanup-policy", want.CleanupPolicy == have.CleanupPolicy)
	check("segment-ms", want.SegmentAge() == have.SegmentAge())
	return differ
}

func (a *app) newTopicListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the topics with their partitions and settings (read-only)",
		Long: `List the topics, their partition counts and their settings. It takes no lock and
creates nothing. The settings live in the index, which only the writer may read while it
runs: when that writer serves the directory (mqlog serve) they come from it through the
Kafka protocol; otherwise they are shown as "-" (null in JSON) with a note on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.listTopics()
		},
	}
}

// topicListJSON is topic list's JSON document.
type topicListJSON struct {
	Version int             `json:"version"`
	Dir     string          `json:"dir"`
	Topics  []topicListItem `json:"topics"`
}

type topicListItem struct {
	Name       string             `json:"name"`
	Partitions int                `json:"partitions"`
	Config     *mqlog.TopicConfig `json:"config"` // null when the index could not be read
}

func (a *app) listTopics() (err error) {
	db, err := a.openReader()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	doc := topicListJSON{Version: jsonVersion, Dir: a.dir, Topics: []topicListItem{}}
	snap, err := a.readIndex()
	if err != nil && !errors.Is(err, mqlog.ErrLocked) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	settings := a.topicSettings(snap, err, db.Topics())
	for _, name := range db.Topics() {
		parts, err := db.Partitions(name)
		if err != nil {
			return err
		}
		item := topicListItem{Name: name, Partitions: len(parts)}
		if settings != nil {
			if cfg, ok := settings[name]; ok {
				item.Config = &cfg
				item.Partitions = max(item.Partitions, cfg.Partitions)
			}
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
	t := newTable(a.stdout, "TOPIC", "PARTITIONS", "SEGMENT BYTES", "SEGMENT MS", "RETENTION BYTES", "RETENTION MS", "CLEANUP POLICY")
	for _, item := range doc.Topics {
		if c := item.Config; c != nil {
			t.row(item.Name, item.Partitions, c.SegmentBytes, c.SegmentAge().Milliseconds(), c.RetentionBytes, c.RetentionMs, c.CleanupPolicy)
		} else {
			t.row(item.Name, item.Partitions, "-", "-", "-", "-", "-")
		}
	}
	return t.flush()
}

// topicSettings are the topics' settings for topic list and describe: from the index (snap) when it could
// be read, else, when the writer holding it serves the directory, through its Kafka listener; nil, with a
// note on stderr, when neither can say.
func (a *app) topicSettings(snap *mqlog.IndexSnapshot, err error, names []string) map[string]mqlog.TopicConfig {
	if snap != nil {
		return snap.Topics
	}
	if !errors.Is(err, mqlog.ErrLocked) {
		return nil
	}
	if settings := a.settingsFromServer(names); settings != nil {
		return settings
	}
	fmt.Fprintf(a.stderr, "note: a writer holds %s: settings not shown\n", a.dir)
	return nil
}
