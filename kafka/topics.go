package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxPartitions bounds the partitions CreateTopics makes for one topic.
const maxPartitions = 10_000

// createTopics creates topics with one replica (the only node), taking these configs: cleanup.policy,
// retention.ms, retention.bytes, segment.bytes, segment.ms, delete.retention.ms, mqlog.retention.policy. Another config is INVALID_CONFIG,
// a replication factor above 1 INVALID_REPLICATION_FACTOR.
func (s *Server) createTopics(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		cfg, code, msg := s.topicConfig(t)
		if code == 0 {
			if _, err := s.db.TopicConfig(t.Topic); err == nil {
				code, msg = kerr.TopicAlreadyExists.Code, fmt.Sprintf("topic %q already exists", t.Topic)
			} else if !req.ValidateOnly {
				if err := s.createTopic(ctx, t.Topic, cfg); err != nil {
					code = s.errorCode(r, "CreateTopics", err)
					if errors.Is(err, mqlog.ErrTopicExists) {
						code = kerr.TopicAlreadyExists.Code
					}
					msg = err.Error()
				}
			}
		}
		rt.ErrorCode = code
		if code != 0 {
			rt.ErrorMessage = &msg
		} else {
			rt.TopicID = s.ids.of(t.Topic)
			rt.NumPartitions, rt.ReplicationFactor = int32(cfg.Partitions), 1
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// topicConfig turns a CreateTopics entry into a topic config, or an error code and message.
func (s *Server) topicConfig(t kmsg.CreateTopicsRequestTopic) (mqlog.TopicConfig, int16, string) {
	cfg := s.opts.TopicDefaults
	if err := mqlog.ValidateTopicName(t.Topic); err != nil {
		return cfg, kerr.InvalidTopicException.Code, err.Error()
	}
	switch {
	case t.NumPartitions == -1:
	case t.NumPartitions < 1 || t.NumPartitions > maxPartitions:
		return cfg, kerr.InvalidPartitions.Code, fmt.Sprintf("%d partitions: 1 to %d, or -1 for the default", t.NumPartitions, maxPartitions)
	default:
		cfg.Partitions = int(t.NumPartitions)
	}
	if t.ReplicationFactor != -1 && t.ReplicationFactor != 1 {
		return cfg, kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor %d: this is one node", t.ReplicationFactor)
	}
	if len(t.ReplicaAssignment) > 0 {
		return cfg, kerr.InvalidReplicaAssignment.Code, "replica assignments are not supported: this is one node"
	}
	for _, c := range t.Configs {
		if c.Value == nil {
			continue
		}
		v := *c.Value
		var n int64
		var err error
		switch c.Name {
		case "cleanup.policy":
			if v != string(mqlog.CleanupDelete) && v != string(mqlog.CleanupCompact) {
				err = errors.New("delete or compact")
			}
			cfg.CleanupPolicy = mqlog.CleanupPolicy(v)
		case "retention.ms":
			n, err = strconv.ParseInt(v, 10, 64)
			cfg.RetentionMs = max(n, 0) // -1: unlimited
		case "retention.bytes":
			n, err = strconv.ParseInt(v, 10, 64)
			cfg.RetentionBytes = max(n, 0)
		case "segment.bytes":
			n, err = strconv.ParseInt(v, 10, 64)
			if err == nil && n < 1<<14 {
				err = errors.New("at least 16384")
			}
			cfg.SegmentBytes = n
		case "delete.retention.ms":
			n, err = strconv.ParseInt(v, 10, 64)
			cfg.DeleteRetentionMs = n
		case configSegmentMs, configRetentionPolicy: // (configs.go)
			var alt mqlog.TopicAlteration
			if err := setTopicConfig(&alt, c.Name, v); err != nil {
				return cfg, kerr.InvalidConfig.Code, err.Error()
			}
			if alt.SegmentMs != nil {
				cfg.SegmentMs = *alt.SegmentMs
			} else {
				cfg.RetentionPolicy = *alt.RetentionPolicy
			}
		default:
			return cfg, kerr.InvalidConfig.Code, fmt.Sprintf("config %q is not supported (%v)", c.Name, topicConfigNames)
		}
		if err != nil {
			return cfg, kerr.InvalidConfig.Code, fmt.Sprintf("config %s=%q: %v", c.Name, v, err)
		}
	}
	return cfg, 0, ""
}

func failCreateTopics(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.ErrorCode = t.Topic, code
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// deleteTopics deletes topics by name or (v6+) by id.
func (s *Server) deleteTopics(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	del := func(rt *kmsg.DeleteTopicsResponseTopic, name string) {
		if err := s.deleteTopic(ctx, name); err != nil {
			rt.ErrorCode, rt.ErrorMessage = s.errorCode(r, "DeleteTopics", err), errorf("%v", err)
		}
	}
	if req.Version < 6 {
		for _, name := range req.TopicNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic = &name
			del(&rt, name)
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, ok := "", t.Topic != nil
		if ok {
			name = *t.Topic
		} else if name, ok = s.ids.name(t.TopicID); !ok {
			rt.ErrorCode = kerr.UnknownTopicID.Code
		}
		if ok {
			rt.Topic, rt.TopicID = &name, s.ids.of(name)
			del(&rt, name)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func failDeleteTopics(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	for _, name := range req.TopicNames {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.ErrorCode = &name, code
		resp.Topics = append(resp.Topics, rt)
	}
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, code
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
