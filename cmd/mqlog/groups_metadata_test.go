package main

import (
	"strings"
	"testing"

	"github.com/mqlog/mqlog"
)

// groups describe -o json shows the metadata and leader epoch a Kafka client committed with its offsets,
// directly and through the broker alike.
func TestGroupsDescribeShowsCommitMetadata(t *testing.T) {
	commit := func(t *testing.T, db *mqlog.DB) {
		errs, err := db.CommitGroupOffsets("billing", "", -1, []mqlog.GroupOffsetCommit{
			{Topic: "orders", Partition: 0, Offset: 2, LeaderEpoch: 5, Metadata: "batch 17"},
			{Topic: "orders", Partition: 1, Offset: 1, LeaderEpoch: -1},
		})
		if err != nil || errs[0] != nil || errs[1] != nil {
			t.Fatalf("commit: %v, %v", err, errs)
		}
	}
	served := serveDir(t, nil)
	sameOutput(t, served, []cliStep{
		{"", []string{"topic", "create", "orders", "--partitions", "2"}, nil},
		{"a\nb\nc\n", []string{"produce", "-t", "orders", "-p", "0"}, nil},
		{"d\n", []string{"produce", "-t", "orders", "-p", "1"}, nil},
		{"", nil, commit},
		{"", []string{"groups", "describe", "billing"}, nil},
		{"", []string{"groups", "describe", "billing", "-o", "json"}, nil},
	})
	code, out, _ := runCLI(t, "", "--dir", served.dir, "groups", "describe", "billing", "-o", "json")
	if code != exitOK || !strings.Contains(out, `"metadata": "batch 17"`) || !strings.Contains(out, `"leader_epoch": 5`) {
		t.Fatalf("groups describe -o json: exit %d, %s", code, out)
	}
}
