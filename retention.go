package mqlog

import (
	"context"
	"sync"
	"time"

	"github.com/mqlog/mqlog/wal"
)

// RetentionPolicy says whether consumption, on top of the size and age limits, makes segments go.
type RetentionPolicy string

// Retention policies, named after NATS JetStream's.
const (
	// RetentionLimits keeps messages until the topic's size or age limit removes them (the default; Kafka's
	// only behaviour).
	RetentionLimits RetentionPolicy = "limits"
	// RetentionInterest also deletes closed segments that every consumer group of the topic has consumed:
	// the minimum committed offset over the topic's groups (a partition a group has not committed in counts
	// as not consumed). A topic without any group loses nothing this way.
	RetentionInterest RetentionPolicy = "interest"
)

// DefaultRetentionCheckInterval is the default period of the background cleaner.
const DefaultRetentionCheckInterval = 5 * time.Minute

// DefaultDeleteRetention is how long compaction keeps a tombstone by default (Kafka's delete.retention.ms).
const DefaultDeleteRetention = 24 * time.Hour

// workQueueFloors returns, per partition, the ack floor of the topic's work-queue groups (every offset
// below it is acknowledged), for retention by consumption; see queue_floors.go. A partition missing from
// the map sets no constraint. It is a variable so that tests can replace it.
var workQueueFloors = (*DB).workQueueFloors

// consumedFloors returns, per partition of t, the offset below which every consumer of the topic has
// consumed, and false when the topic has no consumer at all (then consumption deletes nothing).
func (db *DB) consumedFloors(t *topic) (map[int32]int64, bool, error) {
	groups, err := db.store.Groups()
	if err != nil {
		return nil, false, err
	}
	floors := make(map[int32]int64, len(t.partitions))
	interested := false
	for _, g := range groups {
		offs, err := db.store.GroupOffsets(g)
		if err != nil {
			return nil, false, err
		}
		committed := map[int32]int64{}
		for _, o := range offs {
			if o.Topic == t.name {
				committed[o.Partition] = o.Offset
			}
		}
		if len(committed) == 0 {
			continue // not a consumer of this topic
		}
		for p := range t.partitions {
			floor := committed[int32(p)] // 0 where the group has not committed: nothing consumed
			if cur, ok := floors[int32(p)]; !ok || floor < cur {
				floors[int32(p)] = floor
			}
		}
		interested = true
	}
	if workQueueFloors != nil { // work-queue groups: combined with the fan-out groups' minimum
		wq, err := workQueueFloors(db, t.name)
		if err != nil {
			return nil, false, err
		}
		for p, floor := range wq {
			if cur, ok := floors[p]; !ok || floor < cur {
				floors[p] = floor
			}
		}
		interested = interested || len(wq) > 0
	}
	if !interested {
		return nil, false, nil
	}
	return floors, interested, nil
}

// retentionOf returns the wal retention limits of partition p of t under cfg.
func (db *DB) retentionOf(t *topic, cfg TopicConfig, p int32, floors map[int32]int64, now time.Time) wal.Retention {
	ret := wal.Retention{MaxBytes: cfg.RetentionBytes, MaxAge: time.Duration(cfg.RetentionMs) * time.Millisecond, Now: now}
	if cfg.RetentionPolicy == RetentionInterest && floors != nil {
		ret.ConsumedBefore = floors[p]
	}
	return ret
}

// cleaner is the background goroutine that applies retention and compaction every
// RetentionCheckInterval.
type cleaner struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		// compactedBytes is, per log, the closed bytes its last compaction left: compaction runs again when
		// as many bytes again have been closed since (Kafka's min.cleanable.dirty.ratio of 0.5).
		compactedBytes map[*wal.Log]int64
	}
}

func (db *DB) startCleaner() {
	interval := db.opts.RetentionCheckInterval
	if interval == 0 {
		interval = DefaultRetentionCheckInterval
	}
	db.cleaner.mu.compactedBytes = map[*wal.Log]int64{}
	if interval < 0 || db.readOnly {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.cleaner.cancel, db.cleaner.done = cancel, make(chan struct{})
	go func() {
		defer close(db.cleaner.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := db.Compact(ctx, CompactOptions{background: true}); err != nil && ctx.Err() == nil {
					db.opts.Logger.Warn("mqlog: background retention and compaction", "err", err)
				}
			}
		}
	}()
}

// stopCleaner stops the background cleaner and waits for it: a compaction in progress stops at its next
// batch, leaving the log as its last finished pass left it.
func (db *DB) stopCleaner() {
	if db.cleaner.cancel != nil {
		db.cleaner.cancel()
		<-db.cleaner.done
	}
}
