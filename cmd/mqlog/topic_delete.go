package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// stdinIsTerminal reports whether r, the command's stdin, is a terminal: topic delete asks before it
// deletes only there. Tests replace it.
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) newTopicDeleteCommand() *cobra.Command {
	var topicFlag string
	var yes, dryRun bool
	var broker brokerOptions
	cmd := &cobra.Command{
		Use:   "delete TOPIC",
		Short: "Delete a topic, its segments and every group's positions in it",
		Long: `Delete a topic: its config, its partitions' segment files and state, and every consumer
and work-queue group's positions in it. It takes the writer's lock.

It says what it is about to delete (partitions, records, bytes, the groups with positions
in it) and, on a terminal, asks before it deletes; --yes deletes without asking, and is
needed when stdin is not a terminal. --dry-run says what would be deleted and changes
nothing.

The index records go first, with a tombstone, then the directories: after a crash in
between, the next open removes what the tombstone names.`,
		Example: `  mqlog topic delete orders --dry-run
  mqlog topic delete orders --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := topicNameOf(cmd, args, topicFlag)
			if err != nil {
				return err
			}
			return a.deleteTopic(&broker, name, yes, dryRun)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be deleted, change nothing")
	a.addTopicArg(cmd, &topicFlag)
	addBrokerFlags(cmd, &broker)
	return cmd
}

// topicDeletedJSON is topic delete's JSON document.
type topicDeletedJSON struct {
	Version    int      `json:"version"`
	Topic      string   `json:"topic"`
	Deleted    bool     `json:"deleted"` // false in a dry run
	DryRun     bool     `json:"dry_run"`
	Partitions int      `json:"partitions"`
	Segments   int      `json:"segments"`
	Records    int64    `json:"records"` // offsets held, start to high watermark
	Bytes      int64    `json:"bytes"`
	Groups     []string `json:"groups"` // consumer and work-queue groups with positions in the topic
}

func (a *app) deleteTopic(broker *brokerOptions, name string, yes, dryRun bool) (err error) {
	if broker.addr == "" {
		if err := a.checkDirExists(); err != nil {
			return err
		}
	}
	db, b, err := a.openWriterOrBroker(broker, a.dbOptions())
	if err != nil {
		return err
	}
	var doc topicDeletedJSON
	deleteTopic := func() error { return db.DeleteTopic(name) }
	if b != nil {
		defer func() { err = errors.Join(err, b.Close()) }()
		doc, err = a.describeDeletionThrough(b, name)
		deleteTopic = func() error { return b.deleteTopic(a.ctx, name) }
	} else {
		defer func() { err = errors.Join(err, db.Close()) }()
		doc, err = describeDeletion(db, name)
	}
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("topic %s: %s, %s, %d bytes in %s", name, plural(int64(doc.Partitions), "partition", "partitions"),
		plural(doc.Records, "record", "records"), doc.Bytes, plural(int64(doc.Segments), "segment", "segments"))
	if len(doc.Groups) > 0 {
		summary += "; positions of " + plural(int64(len(doc.Groups)), "group", "groups") + ": " + strings.Join(doc.Groups, ", ")
	}
	switch {
	case dryRun:
		doc.DryRun = true
		fmt.Fprintln(a.stderr, "dry run: nothing was changed")
		if a.jsonOutput() {
			return writeJSONDocument(a.stdout, doc)
		}
		_, err = fmt.Fprintf(a.stdout, "would delete %s\n", summary)
		return err
	case yes:
	case stdinIsTerminal(a.stdin):
		fmt.Fprintf(a.stderr, "delete %s? [y/N] ", summary)
		answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return fmt.Errorf("topic %s not deleted", name)
		}
	default:
		return usagef("not deleting topic %s without confirmation: stdin is not a terminal; give --yes (or --dry-run to see what would go)", name)
	}
	if err := deleteTopic(); err != nil {
		return err
	}
	doc.Deleted = true
	if a.jsonOutput() {
		return writeJSONDocument(a.stdout, doc)
	}
	_, err = fmt.Fprintf(a.stdout, "deleted %s\n", summary)
	return err
}

// describeDeletion says what deleting topic name takes away.
func describeDeletion(db *mqlog.DB, name string) (topicDeletedJSON, error) {
	doc := topicDeletedJSON{Version: jsonVersion, Topic: name, Groups: []string{}}
	parts, err := db.Partitions(name)
	if err != nil {
		return doc, err
	}
	doc.Partitions = len(parts)
	for _, p := range parts {
		doc.Records += p.HighWatermark - p.StartOffset
		doc.Segments += len(p.Segments)
		for _, s := range p.Segments {
			doc.Bytes += s.Size
		}
	}
	consumers, err := db.Groups()
	if err != nil {
		return doc, err
	}
	for _, g := range consumers {
		offsets, err := db.GroupOffsets(g)
		if err != nil {
			return doc, err
		}
		if slices.ContainsFunc(offsets, func(o mqlog.GroupOffset) bool { return o.Topic == name }) {
			doc.Groups = append(doc.Groups, g)
		}
	}
	queues, err := db.QueueGroups()
	if err != nil {
		return doc, err
	}
	for _, g := range queues {
		states, err := db.QueueGroupState(g)
		if err != nil {
			return doc, err
		}
		if slices.ContainsFunc(states, func(s mqlog.QueuePartitionState) bool { return s.Topic == name }) && !slices.Contains(doc.Groups, g) {
			doc.Groups = append(doc.Groups, g)
		}
	}
	slices.Sort(doc.Groups)
	return doc, nil
}
