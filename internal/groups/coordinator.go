package groups

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// OffsetStore is the durable store of committed offsets: the data directory's Pebble index.
type OffsetStore interface {
	CommitOffsets(group string, offsets []index.GroupOffset) error
	GroupCommit(group, topic string, partition int32) (index.GroupOffset, bool, error)
	GroupOffsets(group string) ([]index.GroupOffset, error)
	Groups() ([]string, error)
	DeleteGroup(group string) error
	DeleteOffsets(group string, partitions []index.TopicPartition) error
}

// Coordinator holds every consumer group of a DB. It is safe for concurrent use.
type Coordinator struct {
	store  OffsetStore
	topics base.Topics
	logger *slog.Logger

	// gate orders commits (read side) against membership changes (write side); see the package doc.
	gate sync.RWMutex

	mu struct {
		sync.Mutex
		groups     map[string]*groupState
		nextMember uint64
		// pending holds, per group, the members given an id with ErrMemberIDRequired that have not joined
		// with it yet (classic.go).
		pending map[string]map[string]*pendingMember
	}
}

// New returns the coordinator of the groups whose offsets store keeps, over the topics of topics.
func New(store OffsetStore, topics base.Topics, logger *slog.Logger) *Coordinator {
	c := &Coordinator{store: store, topics: topics, logger: logger}
	c.mu.groups = map[string]*groupState{}
	c.mu.pending = map[string]map[string]*pendingMember{}
	return c
}

// groupState is the in-memory state of one group with members. Fields are guarded by the coordinator's mu.
type groupState struct {
	name       string
	generation int32
	members    []*member     // in joining order
	changed    chan struct{} // closed at every generation change
	classic    *classicState // non-nil while the members speak Kafka's classic protocol (classic.go)
}

// member is one member of a group.
type member struct {
	id    string
	topic base.Topic // the topic an embedded member reads
	// owned maps each partition the member owns to the generation since which it has owned it without a
	// break.
	owned map[int32]int32
	// classic is what a member of Kafka's classic protocol has; nil for an embedded member.
	classic *classicMember
}

func (g *groupState) find(id string) *member {
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// bumpLocked starts a new generation: it recomputes the assignment and wakes whoever waits on changed.
func (g *groupState) bumpLocked() {
	g.generation++
	assignEmbedded(g)
	close(g.changed)
	g.changed = make(chan struct{})
}

// newMemberIDLocked returns a member id unique in this process, shaped like Kafka's.
func (c *Coordinator) newMemberIDLocked(group string) string {
	c.mu.nextMember++
	return "mqlog-" + group + "-" + strconv.FormatUint(c.mu.nextMember, 10)
}

// active reports whether group has members.
func (c *Coordinator) active(group string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[group]
	return g != nil && len(g.members) > 0
}

// Active reports whether group has members in this process.
func (c *Coordinator) Active(group string) bool { return c.active(group) }

// Members returns the embedded members of a group, each with the topic it reads and the partitions it owns.
func (c *Coordinator) Members(group string) []MemberInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[group]
	if g == nil {
		return nil
	}
	out := make([]MemberInfo, 0, len(g.members))
	for _, m := range g.members {
		if m.topic == nil {
			continue // a member of Kafka's protocol: see Describe
		}
		mi := MemberInfo{ID: m.id, Topic: m.topic.Name()}
		for p := range m.owned {
			mi.Partitions = append(mi.Partitions, p)
		}
		sortInt32(mi.Partitions)
		out = append(out, mi)
	}
	return out
}

// MemberInfo describes a member of a group: its id, the topic it reads and the partitions it owns.
type MemberInfo struct {
	ID         string
	Topic      string
	Partitions []int32
}

// Generation returns the group's current generation (0 for a group without members).
func (c *Coordinator) Generation(group string) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.mu.groups[group]; g != nil {
		return g.generation
	}
	return 0
}

func fenced(g, id string, gen, cur int32, topic string, p int32, why base.FenceReason) error {
	return &base.FencedError{Group: g, Member: id, Generation: gen, Current: cur, Topic: topic, Partition: p, Reason: why}
}

func sortInt32(s []int32) { slices.Sort(s) }

func sortListings(s []GroupListing) {
	slices.SortFunc(s, func(a, b GroupListing) int { return strings.Compare(a.Group, b.Group) })
}
