package cleaner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// DefaultInterval is the default period of the background cleaner (Kafka's
// log.retention.check.interval.ms).
const DefaultInterval = 5 * time.Minute

// FloorSource says how far the consumers it knows have gone in a topic: per partition, the offset below
// which all of them are done. A partition absent from the map is not held back by them; a nil map means
// they have no interest in the topic at all.
type FloorSource interface {
	Floors(t base.Topic) (map[int32]int64, error)
}

// Observer learns that retention deleted the segments of a partition below start.
type Observer interface {
	LogStartMoved(t base.Topic, partition int32, start int64)
}

// Options configure a Cleaner.
type Options struct {
	// Interval is the period of the background runs; 0 means DefaultInterval, negative none.
	Interval time.Duration
	// MapBytes bounds a compaction's key map; BytesPerSecond limits its I/O (0: unlimited).
	MapBytes       int64
	BytesPerSecond int64
	Logger         *slog.Logger
}

// Cleaner applies retention and compaction to the topics of a DB.
type Cleaner struct {
	topics    base.Topics
	floors    []FloorSource
	observers []Observer
	opts      Options

	cancel context.CancelFunc
	done   chan struct{}

	counters counters // metrics.go

	mu struct {
		sync.Mutex
		// compactedBytes is, per log, the closed bytes its last compaction left: compaction runs again when
		// as many bytes again have been closed since (Kafka's min.cleanable.dirty.ratio of 0.5).
		compactedBytes map[*wal.Log]int64
		// activeSince is, per log, the first batch timestamp of its active segment (roll.go).
		activeSince map[*wal.Log]activeSegment
	}
}

// New returns a cleaner of topics; floors say how far consumers have gone (for interest retention),
// observers learn of moved log starts.
func New(topics base.Topics, floors []FloorSource, observers []Observer, opts Options) *Cleaner {
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	c := &Cleaner{topics: topics, floors: floors, observers: observers, opts: opts}
	c.mu.compactedBytes = map[*wal.Log]int64{}
	c.mu.activeSince = map[*wal.Log]activeSegment{}
	return c
}

// Start starts the background runs, unless the interval is negative.
func (c *Cleaner) Start() {
	if c.opts.Interval < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		tick := time.NewTicker(c.opts.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := c.Run(ctx, Request{background: true}); err != nil && ctx.Err() == nil {
					c.opts.Logger.Warn("mqlog: background retention and compaction", "err", err)
				}
			}
		}
	}()
}

// Stop stops the background runs and waits: a compaction in progress stops at its next batch, leaving
// the log as its last finished pass left it.
func (c *Cleaner) Stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

// consumedFloors combines every source's floors for t: per partition the smallest, and false when no
// source has an interest in t (then consumption deletes nothing).
func (c *Cleaner) consumedFloors(t base.Topic) (map[int32]int64, bool, error) {
	var floors map[int32]int64
	for _, src := range c.floors {
		f, err := src.Floors(t)
		if err != nil {
			return nil, false, err
		}
		if f == nil {
			continue
		}
		if floors == nil {
			floors = map[int32]int64{}
		}
		for p, floor := range f {
			if cur, ok := floors[p]; !ok || floor < cur {
				floors[p] = floor
			}
		}
	}
	return floors, floors != nil, nil
}
