package groups

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
)

// Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), with the coordinator on
// this side and the assignment computed by the group's leader, a client. A group's members all speak the
// classic protocol or are all embedded Consumers: the two are not mixed in one group (a join of the other
// kind gets ErrInconsistentProtocol), but they share the committed offsets, the generations and the
// fencing of commits.
//
// A rebalance: a join (or a leave, or a member's session running out) moves the group to
// PreparingRebalance; every member must join again within the rebalance timeout (those that do not are
// removed); then the generation is raised, a protocol every member supports is chosen, the leader (the
// earliest member, kept while it stays) gets every member's metadata, and the group is
// CompletingRebalance until the leader's SyncGroup hands each member its assignment: Stable.
//
// A new member of JoinGroup v4+ is first given an id (ErrMemberIDRequired) and is a pending member until
// it joins with it (KIP-394): not in the member list, so a rebalance never waits for a client that got
// an id and went away; forgotten when its session timeout runs out first. A pending member counts in
// GroupDescription.Pending (the front end's bound on a group's size counts it) and makes its group
// exist, Empty, meanwhile.

// States of a classic group, as Kafka names them (DescribeGroups, ListGroups).
const (
	StateEmpty               = "Empty"
	StatePreparingRebalance  = "PreparingRebalance"
	StateCompletingRebalance = "CompletingRebalance"
	StateStable              = "Stable"
	StateDead                = "Dead"
)

// ProtocolEmbedded is the protocol type DescribeGroups shows for a group of embedded Consumers.
const ProtocolEmbedded = "mqlog"

// Errors of the classic protocol, each one of Kafka's error codes.
var (
	// ErrMemberIDRequired (MEMBER_ID_REQUIRED): a first JoinGroup (v4+) without a member id is given one and
	// must join again with it.
	ErrMemberIDRequired = fmt.Errorf("mqlog: join again with the member id given")
	// ErrUnknownMember (UNKNOWN_MEMBER_ID): the member id is not in the group.
	ErrUnknownMember = fmt.Errorf("mqlog: unknown member")
	// ErrIllegalGeneration (ILLEGAL_GENERATION): the request carries another generation than the group's.
	ErrIllegalGeneration = fmt.Errorf("mqlog: illegal generation")
	// ErrRebalanceInProgress (REBALANCE_IN_PROGRESS): the group is rebalancing; join again.
	ErrRebalanceInProgress = fmt.Errorf("mqlog: rebalance in progress")
	// ErrInconsistentProtocol (INCONSISTENT_GROUP_PROTOCOL): the protocol type or the protocols do not match
	// the group's, or the group is used by embedded Consumers (or the reverse).
	ErrInconsistentProtocol = fmt.Errorf("mqlog: inconsistent group protocol")
	// ErrInvalidSessionTimeout (INVALID_SESSION_TIMEOUT): the session timeout is outside the allowed range.
	ErrInvalidSessionTimeout = fmt.Errorf("mqlog: invalid session timeout")
)

// Session timeouts a classic member may ask for (Kafka's group.min/max.session.timeout.ms defaults).
const (
	MinSessionTimeout = 6 * time.Second
	MaxSessionTimeout = 30 * time.Minute
)

// Protocol is one assignment protocol a member supports, with its metadata (opaque to the coordinator).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group      string
	MemberID   string // empty for a new member
	InstanceID string // static membership (KIP-345); empty for none
	ClientID   string
	ClientHost string
	// ProtocolType is "consumer" for Kafka consumers.
	ProtocolType string
	Protocols    []Protocol
	// SessionTimeout is how long the member may go without a heartbeat; RebalanceTimeout how long the
	// coordinator waits for every member to join again in a rebalance.
	SessionTimeout, RebalanceTimeout time.Duration
	// RequireKnownMemberID (JoinGroup v4+): a new member is given an id with ErrMemberIDRequired and joins
	// again with it.
	RequireKnownMemberID bool
}

// JoinResult is the answer to a join: the new generation, the chosen protocol, the leader and, for the
// leader only, every member with its metadata for that protocol.
type JoinResult struct {
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	MemberID     string
	Members      []JoinedMember
}

// JoinedMember is a member as the leader sees it.
type JoinedMember struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// SyncRequest is a SyncGroup request; the leader's carries every member's assignment.
type SyncRequest struct {
	Group        string
	MemberID     string
	Generation   int32
	ProtocolType string // empty: not checked (SyncGroup below v5)
	Protocol     string
	Assignments  map[string][]byte
}

// SyncResult is a member's assignment.
type SyncResult struct {
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// classicState is what a group of classic members has on top of the embedded kind.
type classicState struct {
	state        string
	protocolType string
	protocol     string
	leader       string
	rebalance    *time.Timer     // PreparingRebalance: ends the wait for members to join again
	pendingSync  map[string]bool // CompletingRebalance: members that have not sent SyncGroup
	syncTimer    *time.Timer     // CompletingRebalance: removes the members that never sync
}

// classicMember is what a classic member has on top of an embedded one.
type classicMember struct {
	instanceID, clientID, clientHost string
	protocolType                     string
	protocols                        []Protocol
	sessionTimeout, rebalanceTimeout time.Duration
	assignment                       []byte
	joinReply                        chan joinReply // a JoinGroup waiting for the rebalance to complete
	syncReply                        chan syncReply // a SyncGroup waiting for the leader's assignment
	session                          *time.Timer
}

type joinReply struct {
	res JoinResult
	err error
}

type syncReply struct {
	res SyncResult
	err error
}

// Join handles a JoinGroup: it blocks until the rebalance it starts or takes part in completes, or ctx
// is done (then the member stays until its session times out, as a Kafka member whose connection broke).
func (c *Coordinator) Join(ctx context.Context, req JoinRequest) (JoinResult, error) {
	if err := base.ValidateGroup(req.Group); err != nil {
		return JoinResult{}, err
	}
	if req.SessionTimeout < MinSessionTimeout || req.SessionTimeout > MaxSessionTimeout {
		return JoinResult{}, fmt.Errorf("%w: %v (allowed %v to %v)", ErrInvalidSessionTimeout, req.SessionTimeout, MinSessionTimeout, MaxSessionTimeout)
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	reply, res, err := c.join(req)
	if err != nil || reply == nil {
		return res, err
	}
	select {
	case r := <-reply:
		return r.res, r.err
	case <-ctx.Done():
		return JoinResult{}, ctx.Err()
	}
}

// join registers the join under the locks and returns the channel its answer comes on, or the answer.
func (c *Coordinator) join(req JoinRequest) (chan joinReply, JoinResult, error) {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[req.Group]
	if g != nil && g.classic == nil && len(g.members) > 0 {
		return nil, JoinResult{}, fmt.Errorf("%w: group %s has embedded members", ErrInconsistentProtocol, req.Group)
	}
	if g != nil && len(g.members) > 0 && !g.supports(req) {
		return nil, JoinResult{}, fmt.Errorf("%w: group %s uses %s", ErrInconsistentProtocol, req.Group, g.classic.protocolType)
	}
	if req.MemberID == "" && req.RequireKnownMemberID && req.InstanceID == "" {
		// A pending member: it becomes a member when it joins again with this id (KIP-394).
		id := c.newMemberIDLocked(req.Group)
		c.addPendingLocked(req.Group, id, req.ProtocolType, req.SessionTimeout)
		return nil, JoinResult{MemberID: id}, ErrMemberIDRequired
	}
	if g == nil {
		g = &groupState{name: req.Group, changed: make(chan struct{})}
		c.mu.groups[req.Group] = g
	}
	if g.classic == nil {
		g.classic = &classicState{state: StateEmpty}
	}
	var m *member
	switch {
	case req.MemberID == "" && req.InstanceID != "" && g.findInstance(req.InstanceID) != nil:
		m = g.findInstance(req.InstanceID) // a static member back: it keeps its place
	case req.MemberID == "":
		m = &member{id: c.newMemberIDLocked(req.Group), classic: &classicMember{}}
		m.classic.instanceID = req.InstanceID
		g.members = append(g.members, m)
	case g.find(req.MemberID) == nil && c.takePendingLocked(req.Group, req.MemberID):
		m = &member{id: req.MemberID, classic: &classicMember{}}
		g.members = append(g.members, m)
	default:
		if m = g.find(req.MemberID); m == nil || m.classic == nil {
			if len(g.members) == 0 {
				delete(c.mu.groups, req.Group) // made above for nothing: a stranger's join keeps no state
			}
			return nil, JoinResult{MemberID: req.MemberID}, fmt.Errorf("%w: %s in group %s", ErrUnknownMember, req.MemberID, req.Group)
		}
	}
	unchanged := m.classic.unchanged(req)
	m.classic.update(req)
	if g.classic.state == StateStable && m.id != g.classic.leader && unchanged {
		// A follower joining again with nothing changed: answer with the current generation.
		return nil, g.joinResultLocked(m), nil
	}
	reply := make(chan joinReply, 1)
	m.classic.joinReply = reply
	c.startSessionLocked(g, m)
	c.rebalanceLocked(g)
	return reply, JoinResult{}, nil
}

// pendingMember is a member given an id with ErrMemberIDRequired that has not yet joined with it: Kafka's
// pending member (KIP-394). It is kept apart from the group's members, so that a rebalance does not
// wait for it (a client that got an id and never came back would otherwise hold every rebalance of the
// group until its rebalance timeout), and it is forgotten when its session timeout runs out without
// that second join. It counts toward the group's size (GroupDescription.Pending) and makes a group
// without members exist (Empty) meanwhile.
type pendingMember struct {
	protocolType string
	session      *time.Timer
}

// addPendingLocked records a pending member of group, forgotten after session unless it joins.
func (c *Coordinator) addPendingLocked(group, id, protocolType string, session time.Duration) {
	ps := c.mu.pending[group]
	if ps == nil {
		ps = map[string]*pendingMember{}
		c.mu.pending[group] = ps
	}
	pm := &pendingMember{protocolType: protocolType}
	ps[id] = pm
	pm.session = time.AfterFunc(session, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mu.pending[group][id] == pm {
			c.logger.Info("mqlog: pending group member's session timed out before it joined", "group", group, "member", id)
			c.dropPendingLocked(group, id)
		}
	})
}

// takePendingLocked removes the pending member id of group and reports whether there was one.
func (c *Coordinator) takePendingLocked(group, id string) bool {
	if c.mu.pending[group][id] == nil {
		return false
	}
	c.dropPendingLocked(group, id)
	return true
}

func (c *Coordinator) dropPendingLocked(group, id string) {
	ps := c.mu.pending[group]
	if pm := ps[id]; pm != nil {
		pm.session.Stop()
		delete(ps, id)
	}
	if len(ps) == 0 {
		delete(c.mu.pending, group)
	}
}

// update takes a join's settings.
func (cm *classicMember) update(req JoinRequest) {
	cm.clientID, cm.clientHost = req.ClientID, req.ClientHost
	cm.protocolType, cm.protocols = req.ProtocolType, req.Protocols
	cm.sessionTimeout, cm.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
}

// unchanged reports whether the member has an assignment of the current generation and joins with the
// protocols and metadata it joined with, so that the join need not start a rebalance (Kafka's
// MemberMetadata.matches). A change of metadata must rebalance: a subscription changed, or, with the
// cooperative-sticky assignor, a follower that gave up partitions in the first of its two rebalances
// joining again for the second, which hands those partitions to their new owner.
func (cm *classicMember) unchanged(req JoinRequest) bool {
	return cm.assignment != nil && cm.protocolType == req.ProtocolType &&
		slices.EqualFunc(cm.protocols, req.Protocols, func(a, b Protocol) bool {
			return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
		})
}

// supports reports whether req's protocol type is that of the group's other members and it shares a
// protocol with every one of them.
func (g *groupState) supports(req JoinRequest) bool {
	for _, m := range g.members {
		if m.id != req.MemberID && m.classic.protocolType != req.ProtocolType {
			return false
		}
	}
	for _, p := range req.Protocols {
		if g.allSupport(p.Name, req.MemberID) {
			return true
		}
	}
	return false
}

// allSupport reports whether every member but the one with id except supports protocol.
func (g *groupState) allSupport(protocol, except string) bool {
	for _, m := range g.members {
		if m.id == except || m.classic == nil {
			continue
		}
		found := false
		for _, p := range m.classic.protocols {
			found = found || p.Name == protocol
		}
		if !found {
			return false
		}
	}
	return true
}

func (g *groupState) findInstance(instanceID string) *member {
	for _, m := range g.members {
		if m.classic != nil && m.classic.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// rebalanceLocked moves g to PreparingRebalance, or completes the rebalance when every member has
// joined again. A sync waiting in CompletingRebalance is told to join again.
func (c *Coordinator) rebalanceLocked(g *groupState) {
	cs := g.classic
	if cs.state == StateCompletingRebalance {
		for _, m := range g.members {
			m.classic.assignment = nil
			if m.classic.syncReply != nil {
				m.classic.syncReply <- syncReply{err: ErrRebalanceInProgress}
				m.classic.syncReply = nil
			}
		}
	}
	cs.state, cs.pendingSync = StatePreparingRebalance, nil
	joined := 0
	var timeout time.Duration
	for _, m := range g.members {
		if m.classic.joinReply != nil {
			joined++
		}
		timeout = max(timeout, m.classic.rebalanceTimeout)
	}
	if joined == len(g.members) {
		c.completeRebalanceLocked(g)
		return
	}
	if cs.rebalance != nil {
		cs.rebalance.Stop()
	}
	cs.rebalance = time.AfterFunc(timeout, func() {
		c.gate.Lock()
		defer c.gate.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mu.groups[g.name] == g && g.classic != nil && g.classic.state == StatePreparingRebalance {
			c.completeRebalanceLocked(g)
		}
	})
}

// completeRebalanceLocked ends PreparingRebalance: the members that did not join again are removed, the
// generation goes up, the protocol is chosen and every waiting join is answered.
func (c *Coordinator) completeRebalanceLocked(g *groupState) {
	cs := g.classic
	if cs.rebalance != nil {
		cs.rebalance.Stop()
		cs.rebalance = nil
	}
	kept := g.members[:0]
	for _, m := range g.members {
		if m.classic.joinReply != nil {
			kept = append(kept, m)
		} else {
			c.stopSessionLocked(m)
		}
	}
	clear(g.members[len(kept):])
	g.members = kept
	g.generation++
	close(g.changed)
	g.changed = make(chan struct{})
	if len(g.members) == 0 {
		delete(c.mu.groups, g.name)
		return
	}
	if g.find(cs.leader) == nil {
		cs.leader = g.members[0].id
	}
	cs.protocolType = g.members[0].classic.protocolType
	cs.protocol = g.chooseProtocol()
	cs.state = StateCompletingRebalance
	cs.pendingSync = map[string]bool{}
	var timeout time.Duration
	for _, m := range g.members {
		cs.pendingSync[m.id] = true
		m.classic.joinReply <- joinReply{res: g.joinResultLocked(m)}
		m.classic.joinReply = nil
		c.startSessionLocked(g, m)
		timeout = max(timeout, m.classic.rebalanceTimeout)
	}
	// The members that have not sent SyncGroup within the rebalance timeout are removed, and the rest
	// rebalance again (Kafka's pending sync timeout): a leader that never syncs cannot hold the group.
	generation := g.generation
	if cs.syncTimer != nil {
		cs.syncTimer.Stop()
	}
	cs.syncTimer = time.AfterFunc(timeout, func() {
		c.gate.Lock()
		defer c.gate.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mu.groups[g.name] != g || g.generation != generation || g.classic.state != StateCompletingRebalance {
			return
		}
		var late []*member
		for _, m := range g.members {
			if g.classic.pendingSync[m.id] {
				late = append(late, m)
			}
		}
		for _, m := range late {
			if g.find(m.id) == m {
				c.removeClassicLocked(g, m)
			}
		}
	})
}

// chooseProtocol picks, among the protocols every member supports, the one most members list first
// (Kafka's vote), ties to the leader's preference.
func (g *groupState) chooseProtocol() string {
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.classic.protocols {
			if g.allSupport(p.Name, "") {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, p := range g.find(g.classic.leader).classic.protocols {
		if votes[p.Name] > votes[best] {
			best = p.Name
		}
	}
	return best
}

// joinResultLocked is m's answer for the current generation: the leader gets the members' metadata.
func (g *groupState) joinResultLocked(m *member) JoinResult {
	cs := g.classic
	res := JoinResult{Generation: g.generation, ProtocolType: cs.protocolType, Protocol: cs.protocol, Leader: cs.leader, MemberID: m.id}
	if m.id == cs.leader {
		for _, o := range g.members {
			jm := JoinedMember{MemberID: o.id, InstanceID: o.classic.instanceID}
			for _, p := range o.classic.protocols {
				if p.Name == cs.protocol {
					jm.Metadata = p.Metadata
				}
			}
			res.Members = append(res.Members, jm)
		}
	}
	return res
}

// Sync handles a SyncGroup: the leader's hands every member its assignment; a follower's waits for it.
func (c *Coordinator) Sync(ctx context.Context, req SyncRequest) (SyncResult, error) {
	reply, res, err := c.sync(req)
	if err != nil || reply == nil {
		return res, err
	}
	select {
	case r := <-reply:
		return r.res, r.err
	case <-ctx.Done():
		return SyncResult{}, ctx.Err()
	}
}

func (c *Coordinator) sync(req SyncRequest) (chan syncReply, SyncResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, m, err := c.classicMemberLocked(req.Group, req.MemberID, req.Generation)
	if err != nil {
		return nil, SyncResult{}, err
	}
	cs := g.classic
	if req.ProtocolType != "" && req.ProtocolType != cs.protocolType || req.Protocol != "" && req.Protocol != cs.protocol {
		return nil, SyncResult{}, fmt.Errorf("%w: group %s uses %s/%s", ErrInconsistentProtocol, req.Group, cs.protocolType, cs.protocol)
	}
	c.startSessionLocked(g, m)
	switch cs.state {
	case StatePreparingRebalance:
		return nil, SyncResult{}, ErrRebalanceInProgress
	case StateStable:
		return nil, SyncResult{ProtocolType: cs.protocolType, Protocol: cs.protocol, Assignment: m.classic.assignment}, nil
	}
	// CompletingRebalance.
	delete(cs.pendingSync, m.id)
	reply := make(chan syncReply, 1)
	m.classic.syncReply = reply
	if m.id == cs.leader {
		for _, o := range g.members {
			o.classic.assignment = req.Assignments[o.id]
			if o.classic.assignment == nil {
				o.classic.assignment = []byte{}
			}
		}
		cs.state = StateStable
		for _, o := range g.members {
			if o.classic.syncReply != nil {
				o.classic.syncReply <- syncReply{res: SyncResult{ProtocolType: cs.protocolType, Protocol: cs.protocol, Assignment: o.classic.assignment}}
				o.classic.syncReply = nil
			}
		}
	}
	return reply, SyncResult{}, nil
}

// classicMemberLocked finds a classic member and checks the generation it speaks for.
func (c *Coordinator) classicMemberLocked(group, memberID string, generation int32) (*groupState, *member, error) {
	g := c.mu.groups[group]
	var m *member
	if g != nil {
		m = g.find(memberID)
	}
	if m == nil || m.classic == nil {
		return nil, nil, fmt.Errorf("%w: %s in group %s", ErrUnknownMember, memberID, group)
	}
	if generation != g.generation {
		return nil, nil, fmt.Errorf("%w: %d, group %s is at %d", ErrIllegalGeneration, generation, group, g.generation)
	}
	return g, m, nil
}

// Heartbeat handles a Heartbeat: it keeps the member's session alive and says whether a rebalance
// started (ErrRebalanceInProgress: join again).
func (c *Coordinator) Heartbeat(group, memberID string, generation int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, m, err := c.classicMemberLocked(group, memberID, generation)
	if err != nil {
		return err
	}
	c.startSessionLocked(g, m)
	if g.classic.state == StatePreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// Leave handles a LeaveGroup of the members given by id (or, for static members, by instance id with an
// empty id): they leave at once and the group rebalances. It returns an error per member, nil for those
// that left.
func (c *Coordinator) Leave(group string, memberIDs, instanceIDs []string) []error {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := make([]error, len(memberIDs))
	g := c.mu.groups[group]
	for i, id := range memberIDs {
		var m *member
		if g != nil {
			if m = g.find(id); m == nil && id == "" && i < len(instanceIDs) {
				m = g.findInstance(instanceIDs[i])
			}
		}
		if m == nil && id != "" && c.takePendingLocked(group, id) {
			continue // a pending member leaves without a rebalance
		}
		if m == nil || m.classic == nil {
			errs[i] = fmt.Errorf("%w: %s in group %s", ErrUnknownMember, id, group)
			continue
		}
		c.removeClassicLocked(g, m)
	}
	return errs
}

// removeClassicLocked takes m out of g and rebalances what is left.
func (c *Coordinator) removeClassicLocked(g *groupState, m *member) {
	c.stopSessionLocked(m)
	if m.classic.joinReply != nil {
		m.classic.joinReply <- joinReply{err: fmt.Errorf("%w: %s left group %s", ErrUnknownMember, m.id, g.name)}
		m.classic.joinReply = nil
	}
	if m.classic.syncReply != nil {
		m.classic.syncReply <- syncReply{err: fmt.Errorf("%w: %s left group %s", ErrUnknownMember, m.id, g.name)}
		m.classic.syncReply = nil
	}
	for i, o := range g.members {
		if o == m {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	if len(g.members) == 0 {
		if g.classic.rebalance != nil {
			g.classic.rebalance.Stop()
		}
		g.generation++
		close(g.changed)
		g.changed = make(chan struct{})
		delete(c.mu.groups, g.name)
		return
	}
	c.rebalanceLocked(g)
}

// startSessionLocked (re)starts m's session timer.
func (c *Coordinator) startSessionLocked(g *groupState, m *member) {
	c.stopSessionLocked(m)
	m.classic.session = time.AfterFunc(m.classic.sessionTimeout, func() {
		c.gate.Lock()
		defer c.gate.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mu.groups[g.name] != g || g.find(m.id) != m {
			return
		}
		if m.classic.joinReply != nil || m.classic.syncReply != nil {
			c.startSessionLocked(g, m) // waiting in a join or a sync is alive (Kafka's shouldKeepAlive)
			return
		}
		c.logger.Info("mqlog: group member's session timed out", "group", g.name, "member", m.id)
		c.removeClassicLocked(g, m)
	})
}

func (c *Coordinator) stopSessionLocked(m *member) {
	if m.classic.session != nil {
		m.classic.session.Stop()
		m.classic.session = nil
	}
}

// OffsetCommit is one partition of a classic OffsetCommit.
type OffsetCommit struct {
	Topic     base.Topic
	Partition int32
	Offset    int64
	// LeaderEpoch is the committer's leader epoch, -1 for none; Metadata its string (at most
	// index.MaxOffsetMetadataBytes). Both are stored with the offset.
	LeaderEpoch int32
	Metadata    string
}

// CommitClassic handles an OffsetCommit: with a generation below 0 and no member id it is a commit
// without a member, accepted only for a group without members; otherwise the member must be in the
// group, speak for its generation, and the group must not be CompletingRebalance (Kafka's rules). It
// returns one error per offset (nil for those committed), or one error for all.
func (c *Coordinator) CommitClassic(group, memberID string, generation int32, offsets []OffsetCommit) ([]error, error) {
	if err := base.ValidateGroup(group); err != nil {
		return nil, err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	if err := c.checkClassicCommit(group, memberID, generation); err != nil {
		return nil, err
	}
	errs := make([]error, len(offsets))
	for i, o := range offsets {
		errs[i] = c.write(group, o.Topic, o.Partition, o.Offset, o.LeaderEpoch, o.Metadata)
	}
	return errs, nil
}

// FetchOffset returns the group's committed offset in a partition of t, or ok false when it has none.
func (c *Coordinator) FetchOffset(group string, t base.Topic, partition int32) (int64, bool, error) {
	o, ok, err := c.FetchCommit(group, t, partition)
	return o.Offset, ok, err
}

// FetchCommit returns what the group committed in a partition of t (the offset, its leader epoch and
// metadata), or ok false when it has none.
func (c *Coordinator) FetchCommit(group string, t base.Topic, partition int32) (index.GroupOffset, bool, error) {
	if err := base.ValidateGroup(group); err != nil {
		return index.GroupOffset{}, false, err
	}
	return c.committedCommit(group, t, partition)
}

// GroupDescription describes a group for DescribeGroups and `mqlog groups describe`.
type GroupDescription struct {
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Generation   int32
	Members      []MemberDescription
	// Pending counts the members given an id (MEMBER_ID_REQUIRED) that have not joined with it yet: not
	// members, but kept until their session times out.
	Pending int
}

// MemberDescription is a member in a GroupDescription. Embedded members have Topic and Partitions;
// classic ones their metadata and assignment bytes.
type MemberDescription struct {
	MemberID, InstanceID, ClientID, ClientHost string
	Metadata, Assignment                       []byte
	Topic                                      string
	Partitions                                 []int32
}

// Describe describes a group. A group without members is Empty when it has committed offsets, Dead
// otherwise.
func (c *Coordinator) Describe(group string) (GroupDescription, error) {
	if err := base.ValidateGroup(group); err != nil {
		return GroupDescription{}, err
	}
	c.mu.Lock()
	g := c.mu.groups[group]
	d := GroupDescription{Group: group, State: StateDead, Pending: len(c.mu.pending[group])}
	if d.Pending > 0 {
		d.State = StateEmpty
	}
	if g != nil && len(g.members) > 0 {
		d.Generation = g.generation
		if g.classic == nil {
			d.State, d.ProtocolType, d.Protocol = StateStable, ProtocolEmbedded, "range"
		} else {
			d.State, d.ProtocolType, d.Protocol = g.classic.state, g.classic.protocolType, g.classic.protocol
		}
		for _, m := range g.members {
			md := MemberDescription{MemberID: m.id}
			if m.classic != nil {
				md.InstanceID, md.ClientID, md.ClientHost = m.classic.instanceID, m.classic.clientID, m.classic.clientHost
				md.Assignment = m.classic.assignment
				for _, p := range m.classic.protocols {
					if p.Name == d.Protocol {
						md.Metadata = p.Metadata
					}
				}
			} else {
				md.Topic = m.topic.Name()
				for p := range m.owned {
					md.Partitions = append(md.Partitions, p)
				}
				sortInt32(md.Partitions)
			}
			d.Members = append(d.Members, md)
		}
	}
	c.mu.Unlock()
	if d.State == StateDead {
		offs, err := c.store.GroupOffsets(group)
		if err != nil {
			return d, err
		}
		if len(offs) > 0 {
			d.State = StateEmpty
		}
	}
	return d, nil
}

// GroupListing is a group in ListGroups.
type GroupListing struct {
	Group        string
	State        string
	ProtocolType string
}

// List lists the groups with members, pending members or committed offsets, sorted.
func (c *Coordinator) List() ([]GroupListing, error) {
	stored, err := c.store.Groups()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []GroupListing
	c.mu.Lock()
	for name, g := range c.mu.groups {
		if len(g.members) == 0 {
			continue
		}
		gl := GroupListing{Group: name, State: StateStable, ProtocolType: ProtocolEmbedded}
		if g.classic != nil {
			gl.State, gl.ProtocolType = g.classic.state, g.classic.protocolType
		}
		out = append(out, gl)
		seen[name] = true
	}
	for name, ps := range c.mu.pending {
		if !seen[name] {
			gl := GroupListing{Group: name, State: StateEmpty}
			for _, pm := range ps {
				gl.ProtocolType = pm.protocolType
				break
			}
			out = append(out, gl)
			seen[name] = true
		}
	}
	c.mu.Unlock()
	for _, name := range stored {
		if !seen[name] {
			out = append(out, GroupListing{Group: name, State: StateEmpty, ProtocolType: "consumer"})
		}
	}
	sortListings(out)
	return out, nil
}
