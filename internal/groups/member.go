package groups

import (
	"fmt"

	"github.com/mqlog/mqlog/internal/base"
)

// Member is an embedded member of a group, reading one topic. Its methods are safe for concurrent use.
type Member struct {
	c     *Coordinator
	group string
	id    string
	topic base.Topic
}

// joinEmbedded adds a member reading t to group, starting a new generation. A group of classic members
// refuses it (ErrInconsistentProtocol).
func (c *Coordinator) joinEmbedded(group string, t base.Topic) (*Member, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[group]
	if g != nil && g.classic != nil && len(g.members) > 0 {
		return nil, fmt.Errorf("%w: group %s has members of Kafka's protocol", ErrInconsistentProtocol, group)
	}
	if g == nil {
		g = &groupState{name: group, changed: make(chan struct{})}
		c.mu.groups[group] = g
	}
	g.classic = nil
	m := &member{id: c.newMemberIDLocked(group), topic: t}
	g.members = append(g.members, m)
	g.bumpLocked()
	return &Member{c: c, group: group, id: m.id, topic: t}, nil
}

// ID returns the member's id.
func (m *Member) ID() string { return m.id }

// Group returns the member's group.
func (m *Member) Group() string { return m.group }

// Assignment returns the group's current generation, the partitions the member owns in it (sorted) and a
// channel closed at the next change. ok is false once the member is no longer in the group.
func (m *Member) Assignment() (generation int32, partitions []int32, changed <-chan struct{}, ok bool) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	g := m.c.mu.groups[m.group]
	if g == nil {
		return 0, nil, nil, false
	}
	mem := g.find(m.id)
	if mem == nil {
		return g.generation, nil, g.changed, false
	}
	for p := range mem.owned {
		partitions = append(partitions, p)
	}
	sortInt32(partitions)
	return g.generation, partitions, g.changed, true
}

// ownsSince returns the generation since which the member has owned partition without a break, the
// group's generation, and whether the member is in the group and owns it.
func (m *Member) ownsSince(partition int32) (since, current int32, member, owns bool) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	g := m.c.mu.groups[m.group]
	if g == nil {
		return 0, 0, false, false
	}
	mem := g.find(m.id)
	if mem == nil {
		return 0, g.generation, false, false
	}
	since, owns = mem.owned[partition]
	return since, g.generation, true, owns
}

// Leave takes the member out of its group; its partitions go to the other members. Leaving twice does
// nothing.
func (m *Member) Leave() {
	m.c.gate.Lock()
	defer m.c.gate.Unlock()
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	m.c.removeLocked(m.group, func(mem *member) bool { return mem.id == m.id })
}

// removeLocked removes the members of group for which drop is true, starting a new generation when it
// removed any; a group left without members is forgotten.
func (c *Coordinator) removeLocked(group string, drop func(*member) bool) {
	g := c.mu.groups[group]
	if g == nil {
		return
	}
	kept := g.members[:0]
	for _, mem := range g.members {
		if !drop(mem) {
			kept = append(kept, mem)
		}
	}
	if len(kept) == len(g.members) {
		return
	}
	clear(g.members[len(kept):])
	g.members = kept
	g.bumpLocked()
	if len(g.members) == 0 {
		delete(c.mu.groups, group)
	}
}

// TopicDeleted implements catalog.Observer: the members reading a deleted topic leave their groups (their
// Next returns ErrTopicNotFound, their commits are fenced). It does not take the gate: the catalog calls
// it with its lock held, and a commit in flight may be looking the topic up. Such a commit can land after
// the deletion, but with the deleted incarnation, which no reader of a new topic of the name takes.
func (c *Coordinator) TopicDeleted(t base.Topic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.mu.groups {
		c.removeLocked(name, func(mem *member) bool { return mem.topic == t })
	}
}

// PartitionsAdded implements catalog.PartitionObserver: the groups reading t rebalance, so that the new
// partitions get owners.
func (c *Coordinator) PartitionsAdded(t base.Topic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.mu.groups {
		for _, m := range g.members {
			if m.topic == t {
				g.bumpLocked()
				break
			}
		}
	}
}
