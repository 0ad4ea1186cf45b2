package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupStore is what the groups commands read and change: the opened directory (directGroups) or a
// broker serving it (brokerGroups), with the same results and errors. Work-queue groups are not
// reachable through the Kafka protocol: through a broker there are none.
type groupStore interface {
	Groups() ([]string, error)
	QueueGroups() ([]string, error)
	DescribeGroup(group string) (mqlog.GroupDescription, error)
	GroupOffsets(group string) ([]mqlog.GroupOffset, error)
	TopicConfig(name string) (mqlog.TopicConfig, error)
	Partitions(name string) ([]mqlog.PartitionInfo, error)
	QueueGroupState(group string) ([]mqlog.QueuePartitionState, error)
	// reset plans (execute false) or applies a reset, as DB.PlanGroupReset and DB.ResetGroup.
	reset(group, topic string, to resetSpec, execute bool) ([]mqlog.GroupReset, error)
	DeleteGroup(group string) error
	Close() error
}

// resetSpec is a groups reset target as the flags give it.
type resetSpec struct {
	kind   string // earliest, latest, offset, time, shift
	offset int64  // offset, or shift
	ms     int64  // time
}

func (s resetSpec) target() mqlog.ResetTarget {
	switch s.kind {
	case "latest":
		return mqlog.ResetToLatest()
	case "offset":
		return mqlog.ResetToOffset(s.offset)
	case "time":
		return mqlog.ResetToTime(time.UnixMilli(s.ms))
	case "shift":
		return mqlog.ResetShiftBy(s.offset)
	}
	return mqlog.ResetToEarliest()
}

// directGroups is the opened directory.
type directGroups struct{ *mqlog.DB }

func (d directGroups) reset(group, topic string, to resetSpec, execute bool) ([]mqlog.GroupReset, error) {
	if execute {
		return d.ResetGroup(group, topic, to.target())
	}
	return d.PlanGroupReset(group, topic, to.target())
}

// openGroups opens the data directory for a groups command (with the lock, never creating it), or reaches
// the broker that serves it.
func (a *app) openGroups(o *brokerOptions) (groupStore, error) {
	if o.addr == "" {
		if err := a.checkDirExists(); err != nil {
			return nil, err
		}
	}
	db, b, err := a.openWriterOrBroker(o, a.dbOptions())
	var locked *lockedError
	switch {
	case errors.As(err, &locked):
		return nil, fmt.Errorf("groups needs the writer's lock to read the index: %w", err)
	case err != nil:
		return nil, err
	case db != nil:
		return directGroups{db}, nil
	}
	if ok, err := b.supports(a.ctx, listGroupsKey); err != nil || !ok {
		b.Close()
		if err == nil {
			err = fmt.Errorf("broker %s does not serve consumer groups (no ListGroups)", b.addr)
		}
		return nil, err
	}
	return &brokerGroups{ctx: a.ctx, b: b}, nil
}

// brokerGroups reads and changes consumer groups through a broker: ListGroups, DescribeGroups,
// OffsetFetch, OffsetCommit (a reset, as kafka-consumer-groups commits it: generation -1), DeleteGroups,
// and ListOffsets for the partitions' start and end.
type brokerGroups struct {
	ctx context.Context
	b   *brokerClient
}

func (g *brokerGroups) Close() error { return g.b.Close() }

func (g *brokerGroups) fail(err error) error { return fmt.Errorf("broker %s: %w", g.b.addr, err) }

// Groups lists the groups that have committed offsets, as DB.Groups does.
func (g *brokerGroups) Groups() ([]string, error) {
	listed, err := retried(g.ctx, g.b, func() (kadm.ListedGroups, error) { return g.b.adm.ListGroups(g.ctx) })
	if err != nil {
		return nil, g.fail(err)
	}
	var out []string
	for _, name := range listed.Groups() {
		offsets, err := retried(g.ctx, g.b, func() (kadm.OffsetResponses, error) { return g.b.adm.FetchOffsets(g.ctx, name) })
		if err != nil {
			return nil, g.fail(err)
		}
		if len(offsets) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (g *brokerGroups) QueueGroups() ([]string, error) { return nil, nil }

func (g *brokerGroups) QueueGroupState(string) ([]mqlog.QueuePartitionState, error) { return nil, nil }

func (g *brokerGroups) TopicConfig(name string) (mqlog.TopicConfig, error) {
	return g.b.topicConfig(g.ctx, name)
}

func (g *brokerGroups) DescribeGroup(group string) (mqlog.GroupDescription, error) {
	if err := mqlog.ValidateGroup(group); err != nil {
		return mqlog.GroupDescription{}, err
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := retried(g.ctx, g.b, func() (*kmsg.DescribeGroupsResponse, error) {
		resp, err := req.RequestWith(g.ctx, g.b.cl)
		if err == nil {
			for _, rg := range resp.Groups { // (a coordinator that moved is asked again, as a dial refused)
				if e := kerr.ErrorForCode(rg.ErrorCode); unreachableErr(e) {
					return resp, e
				}
			}
		}
		return resp, err
	})
	if err != nil && resp == nil {
		return mqlog.GroupDescription{}, g.fail(err)
	}
	d := mqlog.GroupDescription{Group: group, State: mqlog.GroupStateDead}
	for _, rg := range resp.Groups {
		if rg.ErrorCode == kerr.GroupIDNotFound.Code {
			break
		}
		if err := brokerError(kerr.ErrorForCode(rg.ErrorCode), deref(rg.ErrorMessage)); err != nil {
			return d, err
		}
		d.State, d.ProtocolType, d.Protocol = rg.State, rg.ProtocolType, rg.Protocol
		for _, m := range rg.Members {
			d.Members = append(d.Members, mqlog.GroupMemberDescription{MemberID: m.MemberID, InstanceID: deref(m.InstanceID),
				ClientID: m.ClientID, ClientHost: m.ClientHost, Metadata: m.ProtocolMetadata, Assignment: m.MemberAssignment})
		}
	}
	return d, nil
}

// GroupOffsets is the group's committed offsets, clamped to what each partition holds, with their lag.
func (g *brokerGroups) GroupOffsets(group string) ([]mqlog.GroupOffset, error) {
	fetched, err := retried(g.ctx, g.b, func() (kadm.OffsetResponses, error) { return g.b.adm.FetchOffsets(g.ctx, group) })
	if err != nil {
		return nil, g.fail(err)
	}
	if err := fetched.Error(); err != nil {
		return nil, g.fail(err)
	}
	var out []mqlog.GroupOffset
	bounds := map[string]map[int32]mqlog.PartitionInfo{}
	for topic := range fetched {
		parts, err := g.Partitions(topic)
		if errors.Is(err, mqlog.ErrTopicNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		bounds[topic] = map[int32]mqlog.PartitionInfo{}
		for _, p := range parts {
			bounds[topic][p.Partition] = p
		}
	}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.At < 0 {
			return
		}
		off := mqlog.GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.At, Committed: o.At, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata}
		if p, ok := bounds[o.Topic][o.Partition]; ok {
			off.Offset = min(max(o.At, p.StartOffset), p.HighWatermark)
			off.Lag = p.HighWatermark - off.Offset
		}
		out = append(out, off)
	})
	slices.SortFunc(out, func(a, b mqlog.GroupOffset) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

// Partitions is a topic's partitions with their start and end offsets (the broker's ListOffsets; no
// segments: those only the directory shows).
func (g *brokerGroups) Partitions(name string) ([]mqlog.PartitionInfo, error) {
	t, err := g.b.topic(g.ctx, name)
	if err != nil {
		return nil, err
	}
	if !t.exists {
		return nil, fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, name)
	}
	starts, err := retried(g.ctx, g.b, func() (kadm.ListedOffsets, error) { return g.b.adm.ListStartOffsets(g.ctx, name) })
	if err != nil {
		return nil, g.fail(err)
	}
	ends, err := retried(g.ctx, g.b, func() (kadm.ListedOffsets, error) { return g.b.adm.ListEndOffsets(g.ctx, name) })
	if err != nil {
		return nil, g.fail(err)
	}
	out := make([]mqlog.PartitionInfo, t.partitions)
	for p := range out {
		out[p].Partition = int32(p)
		s, ok := starts.Lookup(name, int32(p))
		e, ok2 := ends.Lookup(name, int32(p))
		if !ok || !ok2 || s.Err != nil || e.Err != nil {
			return nil, g.fail(errors.Join(s.Err, e.Err, fmt.Errorf("no offsets of %s partition %d", name, p)))
		}
		out[p].StartOffset, out[p].HighWatermark = s.Offset, e.Offset
	}
	return out, nil
}

// reset computes the plan as DB.PlanGroupReset does (every partition of topic, or of every topic the
// group has committed in; positions clamped) and, with execute, commits it.
func (g *brokerGroups) reset(group, topic string, to resetSpec, execute bool) ([]mqlog.GroupReset, error) {
	if err := mqlog.ValidateGroup(group); err != nil {
		return nil, err
	}
	committed, err := g.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	current := map[string]map[int32]int64{}
	var topics []string
	for _, o := range committed {
		if current[o.Topic] == nil {
			current[o.Topic] = map[int32]int64{}
			topics = append(topics, o.Topic)
		}
		current[o.Topic][o.Partition] = o.Committed
	}
	if topic != "" {
		topics = []string{topic}
	}
	var plan []mqlog.GroupReset
	offsets := kadm.Offsets{}
	for _, name := range topics {
		parts, err := g.Partitions(name)
		if err != nil {
			return nil, err
		}
		var byTime kadm.ListedOffsets
		if to.kind == "time" {
			if byTime, err = retried(g.ctx, g.b, func() (kadm.ListedOffsets, error) { return g.b.adm.ListOffsetsAfterMilli(g.ctx, to.ms, name) }); err != nil {
				return nil, g.fail(err)
			}
		}
		for _, p := range parts {
			clamp := func(o int64) int64 { return min(max(o, p.StartOffset), p.HighWatermark) }
			cur := p.StartOffset
			if o, ok := current[name][p.Partition]; ok {
				cur = o
			}
			cur = clamp(cur)
			target := p.StartOffset
			switch to.kind {
			case "latest":
				target = p.HighWatermark
			case "offset":
				target = clamp(to.offset)
			case "shift":
				target = clamp(max(cur+to.offset, 0))
			case "time":
				target = p.HighWatermark
				if o, ok := byTime.Lookup(name, p.Partition); ok && o.Err == nil && o.Offset >= 0 {
					target = clamp(o.Offset)
				}
			}
			plan = append(plan, mqlog.GroupReset{Topic: name, Partition: p.Partition, Current: cur, Target: target})
			offsets.Add(kadm.Offset{Topic: name, Partition: p.Partition, At: target, LeaderEpoch: -1})
		}
	}
	if !execute || len(plan) == 0 {
		return plan, nil
	}
	d, err := g.DescribeGroup(group)
	if err != nil {
		return nil, err
	}
	if len(d.Members) > 0 {
		return nil, fmt.Errorf("%w: %s", mqlog.ErrGroupActive, group)
	}
	resp, err := retried(g.ctx, g.b, func() (kadm.OffsetResponses, error) { return g.b.adm.CommitOffsets(g.ctx, group, offsets) })
	if err != nil {
		return nil, g.fail(err)
	}
	if err := resp.Error(); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			return nil, fmt.Errorf("%w: %s", mqlog.ErrGroupActive, group)
		}
		return nil, g.fail(err)
	}
	return plan, nil
}

// DeleteGroup deletes a group through the broker, with DB.DeleteGroup's errors.
func (g *brokerGroups) DeleteGroup(group string) error {
	resp, err := retried(g.ctx, g.b, func() (kadm.DeleteGroupResponse, error) { return g.b.adm.DeleteGroup(g.ctx, group) })
	if resp.Err != nil {
		if errors.Is(resp.Err, kerr.NonEmptyGroup) {
			return fmt.Errorf("%w: %s", mqlog.ErrGroupActive, group)
		}
		return brokerError(resp.Err, "")
	}
	if err != nil {
		return g.fail(err)
	}
	return nil
}

// OffsetForTime is the offset of the first record of the partition at or after t (ListOffsets by
// timestamp), or its high watermark when there is none, as DB.OffsetForTime.
func (g *brokerGroups) OffsetForTime(topic string, partition int32, t time.Time) (int64, error) {
	listed, err := retried(g.ctx, g.b, func() (kadm.ListedOffsets, error) {
		return g.b.adm.ListOffsetsAfterMilli(g.ctx, t.UnixMilli(), topic)
	})
	if err != nil {
		return 0, g.fail(err)
	}
	o, ok := listed.Lookup(topic, partition)
	if !ok {
		return 0, g.fail(fmt.Errorf("no offset of %s partition %d", topic, partition))
	}
	if o.Err != nil {
		return 0, g.fail(o.Err)
	}
	if o.Offset >= 0 {
		return o.Offset, nil
	}
	ends, err := retried(g.ctx, g.b, func() (kadm.ListedOffsets, error) { return g.b.adm.ListEndOffsets(g.ctx, topic) })
	if err != nil {
		return 0, g.fail(err)
	}
	e, ok := ends.Lookup(topic, partition)
	if !ok || e.Err != nil {
		return 0, g.fail(errors.Join(e.Err, fmt.Errorf("no end offset of %s partition %d", topic, partition)))
	}
	return e.Offset, nil
}
