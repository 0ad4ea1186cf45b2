package main

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupPollWait is how long consume --group through a broker waits for records before it checks again
// whether its partitions are read to their end (without --follow it stops there).
const groupPollWait = 200 * time.Millisecond

// brokerAssignment is the partitions the broker's group gave this member, as franz-go reports them.
type brokerAssignment struct {
	mu       sync.Mutex
	known    bool
	assigned map[int32]bool

	// With --from, the positions of this run override the group's committed ones (AdjustFetchOffsetsFn):
	// starts is set, then ready closed, before the first records are polled.
	override bool
	ready    chan struct{}
	starts   map[int32]int64
}

// adjust gives the fetch positions of newly assigned partitions: --from's instead of the committed ones.
func (s *brokerAssignment) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if !s.override {
		return offsets, nil
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return offsets, ctx.Err()
	}
	for topic, parts := range offsets {
		for p := range parts {
			if off, ok := s.starts[p]; ok {
				offsets[topic][p] = kgo.NewOffset().At(off).WithEpoch(-1)
			}
		}
	}
	return offsets, nil
}

func (s *brokerAssignment) opts(topic string) []kgo.Opt {
	update := func(_ context.Context, _ *kgo.Client, parts map[string][]int32, add bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.known = true
		if s.assigned == nil {
			s.assigned = map[int32]bool{}
		}
		for _, p := range parts[topic] {
			if add {
				s.assigned[p] = true
			} else {
				delete(s.assigned, p)
			}
		}
	}
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, parts map[string][]int32) { update(ctx, cl, parts, true) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, parts map[string][]int32) { update(ctx, cl, parts, false) }),
		kgo.OnPartitionsLost(func(ctx context.Context, cl *kgo.Client, parts map[string][]int32) { update(ctx, cl, parts, false) }),
		kgo.AdjustFetchOffsetsFn(s.adjust),
	}
}

// partitions returns the assigned partitions, and false before the first assignment.
func (s *brokerAssignment) partitions() ([]int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int32
	for p := range s.assigned {
		out = append(out, p)
	}
	return out, s.known
}

// consumeGroupThrough is consume --group through a broker: a member of the group (franz-go's consumer
// group, the classic protocol, cooperative-sticky assignment), printing each batch of records and then
// committing their positions (OffsetCommit), so that what was committed was printed. Without --follow it
// stops once its partitions are read to the end they had when it started.
func (a *app) consumeGroupThrough(ctx context.Context, cl *kgo.Client, assignment *brokerAssignment, b *brokerClient,
	o consumeOptions, printer *recordPrinter) error {
	t, err := b.topic(ctx, o.topic)
	if err != nil {
		return err
	}
	if !t.exists {
		return fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, o.topic)
	}
	groups := &brokerGroups{ctx: ctx, b: b}
	parts, err := groups.Partitions(o.topic)
	if err != nil {
		return err
	}
	committed, err := groups.GroupOffsets(o.group)
	if err != nil {
		return err
	}
	position := map[int32]int64{}
	for _, p := range parts {
		position[p.Partition] = p.StartOffset
	}
	for _, c := range committed {
		if c.Topic == o.topic {
			position[c.Partition] = c.Offset
		}
	}
	if assignment.override {
		// --from, per partition, as directly (notes on stderr for offsets --offset-reset moved).
		assignment.starts = map[int32]int64{}
		for _, p := range parts {
			off, err := a.startOf(groups, o, p)
			if err != nil {
				return err
			}
			assignment.starts[p.Partition] = off
			position[p.Partition] = off
		}
		close(assignment.ready)
	}
	atEnd := func() bool {
		assigned, known := assignment.partitions()
		if !known {
			return false
		}
		for _, p := range assigned {
			if int(p) < len(parts) && position[p] < parts[p].HighWatermark {
				return false
			}
		}
		return true
	}

	printer.w = bufio.NewWriter(a.stdout)
	var printed int64
	var unreachableSince time.Time // the first of a run of fetch errors unreachableErr calls transient
	for o.count == 0 || printed < o.count {
		if !o.follow && atEnd() {
			return nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, groupPollWait)
		if o.follow {
			pollCtx, cancel = context.WithCancel(ctx)
		}
		limit := groupBatchMax
		if o.count > 0 {
			limit = int(min(int64(limit), o.count-printed))
		}
		fetches := cl.PollRecords(pollCtx, limit)
		cancel()
		if ctx.Err() != nil {
			return nil // interrupted
		}
		if fetches.IsClientClosed() {
			return fmt.Errorf("broker %s: client closed", b.addr)
		}
		var fetchErr error
		transient := true
		fetches.EachError(func(topic string, partition int32, err error) {
			if !isCancelled(err) && fetchErr == nil {
				fetchErr = fmt.Errorf("broker %s: %s partition %d: %w", b.addr, topic, partition, brokerError(err, ""))
				transient = unreachableErr(err)
			}
		})
		var batch []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) { batch = append(batch, r) })
		for _, r := range batch {
			rec := mqlog.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
				Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, mqlog.Header{Key: h.Key, Value: h.Value})
			}
			if err := printer.print(&rec); err != nil {
				return err
			}
		}
		if err := printer.w.Flush(); err != nil {
			return err // not committed: these records are delivered again
		}
		if len(batch) > 0 {
			// (printed records are committed even when interrupted; a commit that could not reach the
			// coordinator is tried again, as retried does: committing the same offsets twice is harmless)
			commitCtx := context.WithoutCancel(ctx)
			if _, err := retried(commitCtx, b, func() (struct{}, error) {
				return struct{}{}, cl.CommitRecords(commitCtx, batch...)
			}); err != nil {
				return fmt.Errorf("broker %s: commit: %w", b.addr, err)
			}
			for _, r := range batch {
				position[r.Partition] = max(position[r.Partition], r.Offset+1)
			}
		}
		printed += int64(len(batch))
		switch {
		case fetchErr == nil:
			unreachableSince = time.Time{}
		case !transient:
			return fetchErr
		case unreachableSince.IsZero():
			unreachableSince = time.Now()
		case time.Since(unreachableSince) > brokerTimeout:
			return fetchErr
		}
		if fetchErr != nil {
			// The group's coordinator or a partition's leader could not be reached (a node of a cluster
			// that went down, still named by the metadata): franz-go keeps trying to join and fetch, and
			// says so in the fetches; the command waits for it as retried does, then gives up.
			cl.ForceMetadataRefresh()
			select {
			case <-ctx.Done():
				return nil // interrupted
			case <-time.After(brokerRetryWait):
			}
		}
	}
	return nil
}

// brokerGroupOpts are the consumer settings of consume --group through a broker.
func brokerGroupOpts(o consumeOptions, assignment *brokerAssignment) []kgo.Opt {
	return append(assignment.opts(o.topic),
		kgo.ConsumerGroup(o.group),
		kgo.ConsumeTopics(o.topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // a group with no position starts at the earliest
		kgo.FetchMaxWait(groupPollWait),
	)
}
