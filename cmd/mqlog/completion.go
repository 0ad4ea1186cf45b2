package main

import (
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// registerTopicCompletion completes cmd's --topic flag with the topics of the data directory.
func (a *app) registerTopicCompletion(cmd *cobra.Command) {
	cmd.RegisterFlagCompletionFunc("topic", a.completeTopics)
}

// completeTopics lists the topics of --dir whose names start with toComplete, from a read-only open (no
// lock, nothing created), so completion works while a writer runs.
func (a *app) completeTopics(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	db, err := a.openReader()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError | cobra.ShellCompDirectiveNoFileComp
	}
	defer db.Close()
	var names []string
	for _, name := range db.Topics() {
		if strings.HasPrefix(name, toComplete) {
			names = append(names, name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// registerGroupCompletion completes cmd's --group flag with the consumer groups of the data directory.
func (a *app) registerGroupCompletion(cmd *cobra.Command) {
	cmd.RegisterFlagCompletionFunc("group", a.completeGroups)
}

// completeGroups lists the consumer groups of --dir whose names start with toComplete. Groups live in the
// index, read without a lock (nothing created or written); while a writer runs there is nothing to offer.
func (a *app) completeGroups(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	snap, err := a.readIndex()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for name := range snap.Groups {
		if strings.HasPrefix(name, toComplete) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeGroupArgs completes a command's GROUP arguments with the consumer groups of the data directory:
// the first n arguments (every one when n < 0).
func (a *app) completeGroupArgs(n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n >= 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, directive := a.completeGroups(cmd, args, toComplete)
		return slices.DeleteFunc(names, func(g string) bool { return slices.Contains(args, g) }), directive
	}
}
