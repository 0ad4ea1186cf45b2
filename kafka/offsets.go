package kafka

import (
	"context"
	"errors"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetCommit commits a group's offsets, durably, through DB.CommitGroupOffsets: a member of the group
// commits for its generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS as Kafka
// fences); a commit with generation -1 and no member id (and every v0 commit, which has neither) is a
// simple commit from outside the group, accepted while the group has no members. Topics are named, or
// from v10 given by id. Each offset is stored with its metadata (OFFSET_METADATA_TOO_LARGE over
// mqlog.MaxOffsetMetadataBytes; a null metadata is stored as "", as Kafka stores it) and, from v6, its
// committed leader epoch; OffsetFetch returns both. The commit timestamp (v1) and retention time (v2-v4)
// are not stored: commits are kept until the group is deleted.
func (s *Server) offsetCommit(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	generation, member := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, member = -1, ""
	}
	var offsets []mqlog.GroupOffsetCommit
	var where [][2]int // the response partition of each of offsets
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, known := t.Topic, true
		if req.Version >= 10 {
			name, known = s.ids.name(t.TopicID)
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			if !known {
				rp.ErrorCode = kerr.UnknownTopicID.Code
			} else {
				c := mqlog.GroupOffsetCommit{Topic: name, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: -1}
				if p.Metadata != nil {
					c.Metadata = *p.Metadata
				}
				if req.Version >= 6 {
					c.LeaderEpoch = max(p.LeaderEpoch, -1)
				}
				offsets = append(offsets, c)
				where = append(where, [2]int{len(resp.Topics), len(rt.Partitions)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(offsets) == 0 {
		return resp, nil
	}
	if generation < 0 && member == "" {
		// A commit from outside any group stores the group's offsets: it may create the group.
		if d, err := s.db.DescribeGroup(req.Group); err == nil && s.newGroupRefused(r, "OffsetCommit", d) {
			for _, w := range where {
				resp.Topics[w[0]].Partitions[w[1]].ErrorCode = kerr.GroupMaxSizeReached.Code
			}
			return resp, nil
		}
	}
	errs, err := s.commitGroupOffsets(r.c.ctx, req.Group, member, generation, offsets)
	if err != nil {
		code := s.groupErrorCode(r, "OffsetCommit", err)
		if errors.Is(err, mqlog.ErrGroupActive) {
			// Embedded Consumers hold the group: the committer is not one of its members (Kafka's answer
			// to a commit from outside a group that is not empty).
			code = kerr.UnknownMemberID.Code
		}
		for _, w := range where {
			resp.Topics[w[0]].Partitions[w[1]].ErrorCode = code
		}
		return resp, nil
	}
	for i, w := range where {
		resp.Topics[w[0]].Partitions[w[1]].ErrorCode = s.errorCode(r, "OffsetCommit", errs[i])
	}
	return resp, nil
}

func failOffsetCommit(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// fetchTopic is one topic of an OffsetFetch: by name, or (v10) by id; no partitions in a request for
// every topic the group has committed in.
type fetchTopic struct {
	name       string
	id         [16]byte
	partitions []int32
}

// offsetFetch answers a group's committed offsets: of the partitions asked, or (topics null, v2+) of
// every partition the group has committed in; offset -1 where it has none, a topic that does not exist
// included, as Kafka answers. v8+ asks for several groups at once. RequireStable (v7+) needs nothing
// here: there are no transactions whose offsets could be pending.
func (s *Server) offsetFetch(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, g := range req.Groups {
			var topics []fetchTopic
			for _, t := range g.Topics {
				topics = append(topics, fetchTopic{name: t.Topic, id: t.TopicID, partitions: t.Partitions})
			}
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			rg.Topics, rg.ErrorCode = s.fetchOffsets(r, g.Group, g.Topics == nil, topics)
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil
	}
	var topics []fetchTopic
	for _, t := range req.Topics {
		topics = append(topics, fetchTopic{name: t.Topic, partitions: t.Partitions})
	}
	all := req.Topics == nil && req.Version >= 2
	got, code := s.fetchOffsets(r, req.Group, all, topics)
	for _, t := range got {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			if code != 0 && req.Version < 2 { // no top-level error code before v2
				rp.ErrorCode = code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	resp.ErrorCode = code
	return resp, nil
}

// fetchOffsets answers one group of an OffsetFetch in the v8+ layout, with a group-level error code.
func (s *Server) fetchOffsets(r *request, group string, all bool, topics []fetchTopic) ([]kmsg.OffsetFetchResponseGroupTopic, int16) {
	if err := mqlog.ValidateGroup(group); err != nil {
		return s.failFetchTopics(topics, kerr.InvalidGroupID.Code), kerr.InvalidGroupID.Code
	}
	byID := r.version >= 10
	if all {
		offs, err := s.db.GroupOffsets(group)
		if err != nil {
			code := s.groupErrorCode(r, "OffsetFetch", err)
			return nil, code
		}
		for _, o := range offs {
			if len(topics) == 0 || topics[len(topics)-1].name != o.Topic {
				topics = append(topics, fetchTopic{name: o.Topic})
			}
			t := &topics[len(topics)-1]
			t.partitions = append(t.partitions, o.Partition)
		}
		byID = false
	}
	var out []kmsg.OffsetFetchResponseGroupTopic
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.name, t.id
		name, known := t.name, true
		if byID {
			name, known = s.ids.name(t.id)
		} else if r.version >= 10 {
			rt.TopicID = s.ids.of(name)
		}
		for _, p := range t.partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, -1, -1, new(string)
			if !known {
				rp.ErrorCode = kerr.UnknownTopicID.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			c, ok, err := s.db.FetchGroupCommit(group, name, p)
			switch {
			case errors.Is(err, mqlog.ErrTopicNotFound), errors.Is(err, mqlog.ErrInvalidPartition):
				// Kafka answers -1 without an error for a partition it knows nothing of.
			case err != nil:
				code := s.groupErrorCode(r, "OffsetFetch", err)
				return s.failFetchTopics(topics, code), code
			case ok:
				rp.Offset, rp.LeaderEpoch, rp.Metadata = c.Offset, c.LeaderEpoch, &c.Metadata
			}
			if all && !ok {
				continue // a topic deleted (or created again) since the group committed in it
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		if all && len(rt.Partitions) == 0 {
			continue
		}
		out = append(out, rt)
	}
	return out, 0
}

// failFetchTopics answers every partition asked with code.
func (s *Server) failFetchTopics(topics []fetchTopic, code int16) []kmsg.OffsetFetchResponseGroupTopic {
	var out []kmsg.OffsetFetchResponseGroupTopic
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.name, t.id
		for _, p := range t.partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

func failOffsetFetch(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.ErrorCode = code
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, g := range req.Groups {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group, rg.ErrorCode = g.Group, code
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
