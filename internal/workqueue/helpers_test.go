package workqueue

import (
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
)

// testTopic is an in-memory index and catalog holding topic "t" of one partition with values appended,
// closed when t ends.
type testTopic struct {
	idx    *index.Store
	cat    *catalog.Catalog
	topic  *catalog.Topic
	logger *slog.Logger
}

func openTestTopic(t *testing.T, values ...string) testTopic {
	t.Helper()
	fs := vfs.NewMem()
	tt := testTopic{logger: slog.New(slog.DiscardHandler)}
	var err error
	if tt.idx, err = index.Open("/d/index", index.Options{FS: fs, Logger: tt.logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tt.idx.Close() })
	if tt.cat, err = catalog.Open(catalog.Options{FS: fs, Dir: "/d", Index: tt.idx, Logger: tt.logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tt.cat.Close() }) // (before the index: cleanups run last first)
	if tt.topic, _, err = tt.cat.Create("t", base.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var msgs []base.Message
	for _, v := range values {
		msgs = append(msgs, base.Message{Value: []byte(v)})
	}
	if _, err := tt.topic.Append(msgs); err != nil {
		t.Fatal(err)
	}
	return tt
}
