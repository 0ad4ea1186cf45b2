package groups

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/fanin"
	"github.com/mqlog/mqlog/wal"
)

// Consumer is an embedded member of a group reading its partitions of one topic: Kafka's consumer, in
// process. It is for one goroutine at a time.
type Consumer struct {
	member *Member
	topic  base.Topic

	generation int32 // of the assignment the cursors follow
	assigned   []*cursor
	nextIdx    int
	changed    []<-chan struct{} // scratch space of Next
	closed     bool
}

// cursor is the consumer's reading position in one partition it owns.
type cursor struct {
	partition int32
	log       *wal.Log
	reader    *wal.Reader
}

// NewConsumer joins group as a new member reading t.
func (c *Coordinator) NewConsumer(group string, t base.Topic) (*Consumer, error) {
	m, err := c.joinEmbedded(group, t)
	if err != nil {
		return nil, err
	}
	return &Consumer{member: m, topic: t, generation: -1}, nil
}

// Member returns the consumer's membership.
func (c *Consumer) Member() *Member { return c.member }

// Next returns the next record from the member's partitions, taking them in turn, and blocks until one is
// readable or ctx is done. It wakes when a partition's high watermark advances or the membership changes,
// without polling. A member whose topic was deleted gets ErrTopicNotFound.
func (c *Consumer) Next(ctx context.Context) (base.Record, error) {
	for {
		if c.closed {
			return base.Record{}, base.ErrClosed
		}
		membership, err := c.sync()
		if err != nil {
			return base.Record{}, err
		}
		// Each partition's Changed channel is taken before its Next, so that no advance is missed.
		c.changed = append(c.changed[:0], membership, c.topic.Deleted())
		for i := range c.assigned {
			cur := c.assigned[(c.nextIdx+i)%len(c.assigned)]
			c.changed = append(c.changed, cur.log.Changed())
			rec, err := cur.reader.Next()
			if errors.Is(err, base.ErrOutOfRange) && cur.reader.Offset() < cur.log.StartOffset() {
				// Retention deleted what the member was about to read: go on from the log's start, as a Kafka
				// consumer with auto.offset.reset=earliest does (a queue is a to-do list).
				if err := cur.reader.SetOffset(cur.log.StartOffset()); err != nil {
					return base.Record{}, err
				}
				rec, err = cur.reader.Next()
			}
			if err == nil {
				c.nextIdx = (c.nextIdx + i + 1) % len(c.assigned)
				return base.NewRecord(c.topic.Name(), cur.partition, rec), nil
			}
			if !errors.Is(err, io.EOF) {
				return base.Record{}, err
			}
		}
		if err := fanin.Wait(ctx, nil, c.changed...); err != nil {
			return base.Record{}, err
		}
	}
}

// Poll returns what is readable now from the member's partitions, up to max records (max <= 0: no
// bound), taking the partitions in turn. It blocks until at least one record is readable or ctx is done,
// then returns without waiting for more: kgo's PollRecords.
func (c *Consumer) Poll(ctx context.Context, max int) ([]base.Record, error) {
	first, err := c.Next(ctx)
	if err != nil {
		return nil, err
	}
	out := []base.Record{first}
	for max <= 0 || len(out) < max {
		rec, ok, err := c.nextReady()
		if err != nil {
			return out, err
		}
		if !ok {
			break
		}
		out = append(out, rec)
	}
	return out, nil
}

// nextReady returns the next readable record without waiting, or ok false when none is readable.
func (c *Consumer) nextReady() (base.Record, bool, error) {
	if _, err := c.sync(); err != nil {
		return base.Record{}, false, err
	}
	for i := range c.assigned {
		cur := c.assigned[(c.nextIdx+i)%len(c.assigned)]
		rec, err := cur.reader.Next()
		if errors.Is(err, io.EOF) {
			continue
		}
		if err != nil {
			return base.Record{}, false, err
		}
		c.nextIdx = (c.nextIdx + i + 1) % len(c.assigned)
		return base.NewRecord(c.topic.Name(), cur.partition, rec), true, nil
	}
	return base.Record{}, false, nil
}

// Lag returns how many records the member has yet to read in its partitions up to their high watermarks:
// 0 when it has caught up. A partition it has not started reading counts from the group's committed
// position.
func (c *Consumer) Lag() (int64, error) {
	if c.closed {
		return 0, base.ErrClosed
	}
	if _, err := c.sync(); err != nil {
		return 0, err
	}
	var lag int64
	for _, cur := range c.assigned {
		lag += max(cur.log.HighWatermark()-max(cur.reader.Offset(), cur.log.StartOffset()), 0)
	}
	return lag, nil
}

// sync brings the cursors in line with the group's current assignment. A partition the member keeps
// keeps its cursor; a partition new to it starts at the group's committed offset (clamped to what the log
// holds), or at the log start when there is none. It returns a channel closed at the next change.
func (c *Consumer) sync() (<-chan struct{}, error) {
	gen, partitions, changed, ok := c.member.Assignment()
	if !ok {
		select {
		case <-c.topic.Deleted():
			return nil, fmt.Errorf("%w: %s was deleted", base.ErrTopicNotFound, c.topic.Name())
		default:
			return nil, base.ErrClosed
		}
	}
	if gen == c.generation {
		return changed, nil
	}
	kept := make(map[int32]*cursor, len(c.assigned))
	for _, cur := range c.assigned {
		if since, _, _, owns := c.member.ownsSince(cur.partition); owns && since <= c.generation {
			kept[cur.partition] = cur
		}
	}
	logs := c.topic.Logs()
	assigned := make([]*cursor, 0, len(partitions))
	for _, p := range partitions {
		if cur := kept[p]; cur != nil {
			assigned = append(assigned, cur)
			continue
		}
		l := logs[p]
		from, ok, err := c.member.c.committed(c.member.group, c.topic, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			from = l.StartOffset()
		}
		r, err := l.NewReader(EffectiveOffset(l, from), true)
		if err != nil {
			return nil, err
		}
		assigned = append(assigned, &cursor{partition: p, log: l, reader: r})
	}
	c.assigned, c.generation, c.nextIdx = assigned, gen, 0
	return changed, nil
}

// Commit durably records the group's position in rec's partition as the offset after rec: the group will
// not be given rec again. See CommitOffset.
func (c *Consumer) Commit(rec base.Record) error {
	return c.CommitOffset(rec.Partition, rec.Offset+1)
}

// CommitOffset durably records offset as the next offset the group reads in partition. It is fenced
// (base.ErrFenced) when the partition is no longer the member's, or has not been since the assignment the
// member last read under; ErrOutOfRange when offset lies outside the partition's log.
func (c *Consumer) CommitOffset(partition int32, offset int64) error {
	if c.closed {
		return base.ErrClosed
	}
	if c.generation < 0 { // nothing read yet: commit under the current assignment
		if _, err := c.sync(); err != nil {
			return err
		}
	}
	return c.member.Commit(c.generation, partition, offset)
}

// Seek moves the member's reading position in partition (one assigned to it) to offset, for this member
// only: nothing is committed until Commit.
func (c *Consumer) Seek(partition int32, offset int64) error {
	if _, err := c.sync(); err != nil {
		return err
	}
	for _, cur := range c.assigned {
		if cur.partition == partition {
			return cur.reader.SetOffset(offset)
		}
	}
	return fmt.Errorf("%w: partition %d is not assigned to this member", base.ErrInvalidPartition, partition)
}

// Assigned returns the partitions currently assigned to the member.
func (c *Consumer) Assigned() []int32 {
	_, partitions, _, _ := c.member.Assignment()
	return partitions
}

// Close leaves the group; its partitions go to the other members.
func (c *Consumer) Close() error {
	if c.closed {
		return base.ErrClosed
	}
	c.closed = true
	c.member.Leave()
	return nil
}
