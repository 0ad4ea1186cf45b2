package mqlog_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mqlog/mqlog"
)

// A compacted topic keeps the latest value of each key; offsets are preserved, so the log has gaps.
func ExampleDB_Compact() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, &mqlog.Options{RetentionCheckInterval: -1}) // no background cleaner
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Tiny segments so that each message closes one: compaction works on closed segments only.
	if err := db.CreateTopic("users", mqlog.TopicConfig{SegmentBytes: 64, CleanupPolicy: mqlog.CleanupCompact}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, kv := range [][2]string{{"ann", "v1"}, {"bob", "v1"}, {"ann", "v2"}, {"bob", "v2"}, {"cat", "v1"}} {
		if _, err := db.Append(ctx, "users", mqlog.Message{Key: []byte(kv[0]), Value: []byte(kv[1])}); err != nil {
			log.Fatal(err)
		}
	}
	reports, err := db.Compact(ctx, mqlog.CompactOptions{Topic: "users"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("records", reports[0].RecordsBefore, "->", reports[0].RecordsAfter)
	for rec, err := range db.Read("users", 0, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Offset, string(rec.Key), string(rec.Value))
	}
	// Output:
	// records 5 -> 3
	// 2 ann v2
	// 3 bob v2
	// 4 cat v1
}

// Retention limits and the cleanup policy change on an open topic.
func ExampleDB_AlterTopic() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("events", mqlog.TopicConfig{}); err != nil {
		log.Fatal(err)
	}
	week, gib := int64(7*24*3600*1000), int64(1<<30)
	cfg, err := db.AlterTopic("events", mqlog.TopicAlteration{RetentionMs: &week, RetentionBytes: &gib})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.RetentionMs, cfg.RetentionBytes, cfg.CleanupPolicy)
	// Output: 604800000 1073741824 delete
}
