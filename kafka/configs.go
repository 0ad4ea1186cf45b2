package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys of topic settings (served beside CreateTopics and DeleteTopics).
const (
	describeConfigsKey         int16 = 32
	createPartitionsKey        int16 = 37
	incrementalAlterConfigsKey int16 = 44
)

// Topic configs, with Kafka's names where Kafka has the setting, and mqlog's own otherwise.
const (
	configCleanupPolicy     = "cleanup.policy"
	configRetentionMs       = "retention.ms"
	configRetentionBytes    = "retention.bytes"
	configSegmentBytes      = "segment.bytes"
	configSegmentMs         = "segment.ms"
	configDeleteRetentionMs = "delete.retention.ms"
	configRetentionPolicy   = "mqlog.retention.policy" // limits or interest (docs/RETENTION.md)
	// ConfigTopicJSON is a read-only topic config that DescribeConfigs returns only when asked for by
	// name: the topic's stored mqlog.TopicConfig as JSON, so that the mqlog CLI shows through the
	// protocol what it shows from the directory.
	ConfigTopicJSON = "mqlog.topic.config"
)

// topicConfigNames are the configs DescribeConfigs lists for a topic when asked for all.
var topicConfigNames = []string{configCleanupPolicy, configRetentionMs, configRetentionBytes, configSegmentBytes,
	configSegmentMs, configDeleteRetentionMs, configRetentionPolicy}

// setTopicConfig applies one config to an alteration; an unknown name or a bad value is an error saying so.
// Retention limits take Kafka's -1 for unlimited (0 too, as mqlog stores it).
func setTopicConfig(alt *mqlog.TopicAlteration, name, value string) error {
	parseInt := func(min int64) (*int64, error) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, err
		}
		if n < min {
			return nil, fmt.Errorf("at least %d", min)
		}
		return &n, nil
	}
	var err error
	switch name {
	case configCleanupPolicy:
		p := mqlog.CleanupPolicy(value)
		if p != mqlog.CleanupDelete && p != mqlog.CleanupCompact {
			return fmt.Errorf("config %s=%q: delete or compact", name, value)
		}
		alt.CleanupPolicy = &p
	case configRetentionPolicy:
		p := mqlog.RetentionPolicy(value)
		if p != mqlog.RetentionLimits && p != mqlog.RetentionInterest {
			return fmt.Errorf("config %s=%q: %s or %s", name, value, mqlog.RetentionLimits, mqlog.RetentionInterest)
		}
		alt.RetentionPolicy = &p
	case configRetentionMs:
		if alt.RetentionMs, err = parseInt(-1); err == nil {
			*alt.RetentionMs = max(*alt.RetentionMs, 0)
		}
	case configRetentionBytes:
		if alt.RetentionBytes, err = parseInt(-1); err == nil {
			*alt.RetentionBytes = max(*alt.RetentionBytes, 0)
		}
	case configSegmentBytes:
		alt.SegmentBytes, err = parseInt(1)
	case configSegmentMs:
		alt.SegmentMs, err = parseInt(1)
	case configDeleteRetentionMs:
		alt.DeleteRetentionMs, err = parseInt(0)
	default:
		return fmt.Errorf("config %q is not supported (%v)", name, topicConfigNames)
	}
	if err != nil {
		return fmt.Errorf("config %s=%q: %v", name, value, err)
	}
	return nil
}

// topicConfigValue is the value DescribeConfigs gives for one config of cfg.
func topicConfigValue(cfg mqlog.TopicConfig, name string) (string, bool) {
	unlimited := func(n int64) string {
		if n == 0 {
			return "-1"
		}
		return strconv.FormatInt(n, 10)
	}
	switch name {
	case configCleanupPolicy:
		return string(cfg.CleanupPolicy), true
	case configRetentionPolicy:
		if cfg.RetentionPolicy == "" {
			return string(mqlog.RetentionLimits), true
		}
		return string(cfg.RetentionPolicy), true
	case configRetentionMs:
		return unlimited(cfg.RetentionMs), true
	case configRetentionBytes:
		return unlimited(cfg.RetentionBytes), true
	case configSegmentBytes:
		return strconv.FormatInt(cfg.SegmentBytes, 10), true
	case configSegmentMs:
		return strconv.FormatInt(cfg.SegmentAge().Milliseconds(), 10), true
	case configDeleteRetentionMs:
		return strconv.FormatInt(cfg.DeleteRetentionMs, 10), true
	case ConfigTopicJSON:
		b, err := json.Marshal(cfg)
		return string(b), err == nil
	}
	return "", false
}

// describeConfigs describes topics' configs (resource type 2). A broker (type 4) has none to describe:
// it is answered with an empty list; other types with INVALID_REQUEST.
func (s *Server) describeConfigs(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeBroker:
		case kmsg.ConfigResourceTypeTopic:
			cfg, err := s.db.TopicConfig(res.ResourceName)
			if err != nil {
				rr.ErrorCode, rr.ErrorMessage = s.errorCode(r, "DescribeConfigs", err), errorf("%v", err)
				break
			}
			names := res.ConfigNames
			if names == nil {
				names = topicConfigNames
			}
			for _, name := range names {
				v, ok := topicConfigValue(cfg, name)
				if !ok {
					continue // Kafka leaves out the names it does not know
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value = name, &v
				c.ReadOnly = name == ConfigTopicJSON
				c.Source = kmsg.ConfigSourceDynamicTopicConfig
				rr.Configs = append(rr.Configs, c)
			}
		default:
			rr.ErrorCode, rr.ErrorMessage = kerr.InvalidRequest.Code, errorf("resource type %d: only topics have configs here", res.ResourceType)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}

func failDescribeConfigs(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// incrementalAlterConfigs sets topics' configs (operation SET; DELETE, APPEND and SUBTRACT are
// INVALID_REQUEST: a topic's settings are changed to a value, never back to a default by omission).
func (s *Server) incrementalAlterConfigs(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		code, msg := s.alterTopicConfigs(r, req.ValidateOnly, res)
		if code != 0 {
			rr.ErrorCode, rr.ErrorMessage = code, &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}

func (s *Server) alterTopicConfigs(r *request, validateOnly bool, res kmsg.IncrementalAlterConfigsRequestResource) (int16, string) {
	if res.ResourceType != kmsg.ConfigResourceTypeTopic {
		return kerr.InvalidRequest.Code, fmt.Sprintf("resource type %d: only topics have configs here", res.ResourceType)
	}
	var alt mqlog.TopicAlteration
	for _, c := range res.Configs {
		if c.Op != kmsg.IncrementalAlterConfigOpSet || c.Value == nil {
			return kerr.InvalidRequest.Code, fmt.Sprintf("config %s: only SET with a value is supported", c.Name)
		}
		if err := setTopicConfig(&alt, c.Name, *c.Value); err != nil {
			return kerr.InvalidConfig.Code, err.Error()
		}
	}
	if _, err := s.db.TopicConfig(res.ResourceName); err != nil {
		return s.errorCode(r, "IncrementalAlterConfigs", err), err.Error()
	}
	if validateOnly {
		return 0, ""
	}
	if _, err := s.db.AlterTopic(res.ResourceName, alt); err != nil {
		code := s.errorCode(r, "IncrementalAlterConfigs", err)
		if errors.Is(err, mqlog.ErrInvalidConfig) {
			code = kerr.InvalidConfig.Code
		}
		return code, err.Error()
	}
	return 0, ""
}

func failIncrementalAlterConfigs(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// createPartitions raises topics' partition counts (Kafka's kafka-topics --alter --partitions). A count
// that is not more than the topic has is INVALID_PARTITIONS; replica assignments are refused.
func (s *Server) createPartitions(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		code, msg := s.addPartitions(r, req.ValidateOnly, t)
		if code != 0 {
			rt.ErrorCode, rt.ErrorMessage = code, &msg
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (s *Server) addPartitions(r *request, validateOnly bool, t kmsg.CreatePartitionsRequestTopic) (int16, string) {
	if len(t.Assignment) > 0 {
		return kerr.InvalidReplicaAssignment.Code, "replica assignments are not supported: this is one node"
	}
	cfg, err := s.db.TopicConfig(t.Topic)
	if err != nil {
		return s.errorCode(r, "CreatePartitions", err), err.Error()
	}
	if t.Count <= int32(cfg.Partitions) || t.Count > maxPartitions {
		return kerr.InvalidPartitions.Code, fmt.Sprintf("%v: topic %s has %d partitions, and %d would not be more: the count can only grow (to at most %d)",
			mqlog.ErrInvalidConfig, t.Topic, cfg.Partitions, t.Count, maxPartitions)
	}
	if validateOnly {
		return 0, ""
	}
	if _, err := s.addTopicPartitions(r.c.ctx, t.Topic, int(t.Count)); err != nil {
		code := s.errorCode(r, "CreatePartitions", err)
		if errors.Is(err, mqlog.ErrInvalidConfig) {
			code = kerr.InvalidPartitions.Code
		}
		return code, err.Error()
	}
	return 0, ""
}

func failCreatePartitions(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic, rt.ErrorCode = t.Topic, code
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
