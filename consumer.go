package mqlog

import (
	"context"

	"github.com/mqlog/mqlog/internal/groups"
)

// Consumer is one member of a consumer group reading a topic (Kafka's model). Every group gets every
// message; within a group, the members split the topic's partitions between them (partition p goes to
// member p mod n, in joining order) and the split is redone when a member joins or closes: a new
// generation of the group. A partition a member keeps across a rebalance keeps its reading position; a
// partition new to it starts at the group's committed position, or at the earliest offset when the group
// has none.
//
// Commits are fenced: a member cannot commit a partition it lost in a rebalance, nor one it has not owned
// since the assignment it last read under (ErrFenced, a *FencedError), so a group's position never moves
// backwards behind another member's back. Delivery is at least once: a record is delivered again after a
// restart unless Commit recorded a position past it. A Consumer is for one goroutine at a time.
type Consumer struct {
	c *groups.Consumer
}

// Consumer joins group as a new member reading topic.
func (db *DB) Consumer(topic, group string) (*Consumer, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return nil, err
	}
	c, err := db.groups.NewConsumer(group, t)
	if err != nil {
		return nil, err
	}
	return &Consumer{c: c}, nil
}

// Next returns the next record from the member's partitions, taking them in turn, and blocks until one is
// readable or ctx is done. It wakes when a partition's high watermark advances, without polling. Once the
// topic is deleted it returns ErrTopicNotFound.
func (c *Consumer) Next(ctx context.Context) (Record, error) {
	rec, err := c.c.Next(ctx)
	return rec, facade(err)
}

// Poll returns what is readable now from the member's partitions, up to max records (max <= 0: no
// bound). It blocks until at least one record is readable or ctx is done, then returns without waiting
// for more (kgo's PollRecords): a loop of Poll and Lag tells when the consumer has caught up.
func (c *Consumer) Poll(ctx context.Context, max int) ([]Record, error) {
	recs, err := c.c.Poll(ctx, max)
	return recs, facade(err)
}

// Lag returns how many records the member has yet to read in its partitions, up to their high
// watermarks at this instant: 0 means it has caught up with everything appended so far.
func (c *Consumer) Lag() (int64, error) {
	lag, err := c.c.Lag()
	return lag, facade(err)
}

// Commit durably records the group's position in rec's partition as the offset after rec: the group will
// not be given rec again. It never records a position past the partition's readable end, and is fenced
// (ErrFenced) when the partition is no longer the member's.
func (c *Consumer) Commit(rec Record) error { return facade(c.c.Commit(rec)) }

// CommitOffset durably records offset as the next offset the group reads in partition. The offset must lie
// within the partition's log (ErrOutOfRange otherwise), and the partition must be the member's (ErrFenced
// otherwise).
func (c *Consumer) CommitOffset(partition int32, offset int64) error {
	return facade(c.c.CommitOffset(partition, offset))
}

// Seek moves the member's reading position in partition (one assigned to it) to offset, for this member
// only: nothing is committed until Commit.
func (c *Consumer) Seek(partition int32, offset int64) error {
	return facade(c.c.Seek(partition, offset))
}

// Assigned returns the partitions currently assigned to the member.
func (c *Consumer) Assigned() []int32 { return c.c.Assigned() }

// MemberID returns the member's id in its group (as `mqlog groups describe` shows it).
func (c *Consumer) MemberID() string { return c.c.Member().ID() }

// Close leaves the group; its partitions go to the other members.
func (c *Consumer) Close() error { return c.c.Close() }
