package main

import (
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
