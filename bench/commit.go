package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/mqlog/mqlog"
)

// commitLogMessages is how many messages the commit workload's partition holds; committers cycle their
// offsets through it.
const commitLogMessages = 1000

// CommitConfig is one commit run: Committers goroutines, each committing its own consumer group's offset
// in a one-partition topic, until Limits.
type CommitConfig struct {
	BaseDir    string
	Committers int
	Limits     Limits
}

// CommitMQLog measures durable consumer offset commits: each of cfg.Committers goroutines calls
// DB.CommitGroupOffset for a group of its own (Pebble, synced; concurrent commits share its WAL syncs) in a
// loop, the offset moving by one each time. The latency is of one commit.
func CommitMQLog(ctx context.Context, cfg CommitConfig) (m Measurement, err error) {
	if cfg.Committers <= 0 {
		return m, fmt.Errorf("mqlog/bench: committers must be positive, not %d", cfg.Committers)
	}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return m, err
	}
	defer cleanup()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if err := db.CreateTopic(Topic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		return m, err
	}
	msgs := make([]mqlog.Message, commitLogMessages)
	for i, p := range Payloads(commitLogMessages, 16) {
		msgs[i].Value = p
	}
	if _, err := db.Append(ctx, Topic, msgs...); err != nil {
		return m, err
	}
	groups := make([]string, cfg.Committers)
	offsets := make([]int64, cfg.Committers)
	for i := range groups {
		groups[i] = fmt.Sprintf("bench-commit-%d", i)
	}
	return drive(ctx, cfg.Committers, 1, cfg.Limits, func(p int) error {
		offsets[p] = offsets[p]%commitLogMessages + 1
		return db.CommitGroupOffset(groups[p], Topic, 0, offsets[p])
	})
}
