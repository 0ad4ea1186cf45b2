package mqlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/mqlog/mqlog/index"
)

// Consumer is one member of a consumer group reading a topic (Kafka's model). Every group gets every
// message; within a group, the members in this process split the topic's partitions between them
// (partition p goes to member p mod n, in joining order) and the split is redone when a member joins or
// closes. A group with no committed position for a partition starts at its earliest offset.
//
// Delivery is at least once: a record is delivered again after a restart unless Commit recorded a
// position past it. A Consumer is for one goroutine at a time.
type Consumer struct {
	db    *DB
	topic *topic
	group string
	state *groupState

	generation uint64
	assigned   []*partitionCursor
	nextIdx    int
	changed    []<-chan struct{} // scratch space of Next
	closed     bool
}

type partitionCursor struct {
	partition int32
	reader    *partitionReader
}

// Consumer joins group as a new member reading topicName.
func (db *DB) Consumer(topicName, group string) (*Consumer, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	if err := validateGroup(group); err != nil {
		return nil, err
	}
	t, err := db.topic(topicName)
	if err != nil {
		return nil, err
	}
	c := &Consumer{db: db, topic: t, group: group}
	c.state = db.groups.join(topicName, group, c)
	return c, nil
}

func validateGroup(group string) error {
	if group == "" || strings.IndexByte(group, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrInvalidGroup, group)
	}
	return nil
}

// Next returns the next record from the member's partitions, taking them in turn, and blocks until one is
// readable or ctx is done. It wakes when a partition's high watermark advances, without polling.
func (c *Consumer) Next(ctx context.Context) (Record, error) {
	for {
		if c.closed {
			return Record{}, ErrClosed
		}
		membership, err := c.syncAssignment()
		if err != nil {
			return Record{}, err
		}
		// Each partition's Changed channel is taken before its Next, so that no advance is missed.
		c.changed = c.changed[:0]
		for i := range c.assigned {
			cur := c.assigned[(c.nextIdx+i)%len(c.assigned)]
			c.changed = append(c.changed, cur.reader.log.Changed())
			rec, err := cur.reader.reader.Next()
			if errors.Is(err, ErrOutOfRange) && cur.reader.reader.Offset() < cur.reader.log.StartOffset() {
				// Retention deleted what the member was about to read: go on from the log's start, as a Kafka
				// consumer with auto.offset.reset=earliest does (a queue is a to-do list).
				if err := cur.reader.reader.SetOffset(cur.reader.log.StartOffset()); err != nil {
					return Record{}, err
				}
				rec, err = cur.reader.reader.Next()
			}
			if err == nil {
				c.nextIdx = (c.nextIdx + i + 1) % len(c.assigned)
				return newRecord(c.topic.name, cur.partition, rec), nil
			}
			if !errors.Is(err, io.EOF) {
				return Record{}, err
			}
		}
		if err := waitAny(ctx, membership, c.changed); err != nil {
			return Record{}, err
		}
	}
}

// waitAny blocks until ctx is done, membership changes, or one of the partitions' channels is closed.
func waitAny(ctx context.Context, membership <-chan struct{}, changed []<-chan struct{}) error {
	switch len(changed) {
	case 0:
		select {
		case <-ctx.Done():
		case <-membership:
		}
	case 1: // the common case, without reflection
		select {
		case <-ctx.Done():
		case <-membership:
		case <-changed[0]:
		}
	default:
		cases := make([]reflect.SelectCase, 0, len(changed)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(membership)})
		for _, ch := range changed {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		reflect.Select(cases)
	}
	return ctx.Err()
}

// syncAssignment brings the member's partitions in line with the group's current split, positioning each
// newly assigned partition at the group's committed offset (clamped to what the log holds). It returns a
// channel closed at the next change of membership.
func (c *Consumer) syncAssignment() (<-chan struct{}, error) {
	gen, partitions, changed := c.state.assignment(c, len(c.topic.partitions))
	if gen == c.generation && c.assigned != nil {
		return changed, nil
	}
	c.assigned = c.assigned[:0]
	for _, p := range partitions {
		l := c.topic.partitions[p]
		from, ok, err := c.db.store.GroupOffset(c.group, c.topic.name, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			from = l.StartOffset()
		}
		from = min(max(from, l.StartOffset()), l.HighWatermark())
		r, err := l.NewReader(from, true)
		if err != nil {
			return nil, err
		}
		c.assigned = append(c.assigned, &partitionCursor{partition: p, reader: &partitionReader{log: l, reader: r}})
	}
	c.generation, c.nextIdx = gen, 0
	return changed, nil
}

// Commit durably records the group's position in rec's partition as the offset after rec: the group will
// not be given rec again. It never records a position past the partition's readable end.
func (c *Consumer) Commit(rec Record) error {
	return c.CommitOffset(rec.Partition, rec.Offset+1)
}

// CommitOffset durably records offset as the next offset the group reads in partition. The offset must lie
// within the partition's log (ErrOutOfRange otherwise).
func (c *Consumer) CommitOffset(partition int32, offset int64) error {
	if c.closed {
		return ErrClosed
	}
	return c.db.commit(c.group, c.topic, partition, offset)
}

func (db *DB) commit(group string, t *topic, partition int32, offset int64) error {
	l, err := t.partition(partition)
	if err != nil {
		return err
	}
	if hw := l.HighWatermark(); offset > hw || offset < 0 {
		return fmt.Errorf("%w: commit of offset %d, %s/%d readable end is %d", ErrOutOfRange, offset, t.name, partition, hw)
	}
	return db.store.CommitOffsets(group, []index.GroupOffset{{Topic: t.name, Partition: partition, Offset: offset}})
}

// Seek moves the member's reading position in partition (one assigned to it) to offset, for this member
// only: nothing is committed until Commit.
func (c *Consumer) Seek(partition int32, offset int64) error {
	if _, err := c.syncAssignment(); err != nil {
		return err
	}
	for _, cur := range c.assigned {
		if cur.partition == partition {
			return cur.reader.reader.SetOffset(offset)
		}
	}
	return fmt.Errorf("%w: partition %d is not assigned to this member", ErrInvalidPartition, partition)
}

// Assigned returns the partitions currently assigned to the member.
func (c *Consumer) Assigned() []int32 {
	_, partitions, _ := c.state.assignment(c, len(c.topic.partitions))
	return partitions
}

// Close leaves the group; its partitions go to the other members.
func (c *Consumer) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	c.db.groups.leave(c.topic.name, c.group, c)
	return nil
}

// groupRegistry tracks the members of each (topic, group) in this process.
type groupRegistry struct {
	mu     sync.Mutex
	groups map[[2]string]*groupState
}

func (g *groupRegistry) init() { g.groups = make(map[[2]string]*groupState) }

func (g *groupRegistry) join(topic, group string, c *Consumer) *groupState {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := [2]string{topic, group}
	s := g.groups[key]
	if s == nil {
		s = &groupState{changed: make(chan struct{})}
		g.groups[key] = s
	}
	s.update(func() { s.members = append(s.members, c) })
	return s
}

func (g *groupRegistry) leave(topic, group string, c *Consumer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := [2]string{topic, group}
	s := g.groups[key]
	if s == nil {
		return
	}
	s.update(func() {
		for i, m := range s.members {
			if m == c {
				s.members = append(s.members[:i], s.members[i+1:]...)
				break
			}
		}
	})
	if len(s.members) == 0 {
		delete(g.groups, key)
	}
}

// groupState is the membership of one group on one topic.
type groupState struct {
	mu         sync.Mutex
	members    []*Consumer
	generation uint64
	changed    chan struct{} // closed when membership changes
}

func (s *groupState) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.generation++
	close(s.changed)
	s.changed = make(chan struct{})
}

// assignment returns the generation, the partitions of member c, and the channel of the next change.
func (s *groupState) assignment(c *Consumer, partitions int) (uint64, []int32, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := -1
	for i, m := range s.members {
		if m == c {
			idx = i
		}
	}
	var out []int32
	for p := 0; idx >= 0 && p < partitions; p++ {
		if p%len(s.members) == idx {
			out = append(out, int32(p))
		}
	}
	return s.generation, out, s.changed
}

// active reports whether group has members in this process, on any topic.
func (g *groupRegistry) active(group string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key, s := range g.groups {
		if key[1] == group && len(s.members) > 0 {
			return true
		}
	}
	return false
}
