package kafka

import (
	"encoding/json"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicConfigKeys(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("orders", mqlog.TopicConfig{Partitions: 2, RetentionMs: 60000}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)

	describe := func(topic string, names ...string) *kmsg.DescribeConfigsResponseResource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
		req.Resources = append(req.Resources, res)
		resp := c.do(req).(*kmsg.DescribeConfigsResponse)
		return &resp.Resources[0]
	}
	values := func(r *kmsg.DescribeConfigsResponseResource) map[string]string {
		out := map[string]string{}
		for _, c := range r.Configs {
			out[c.Name] = *c.Value
		}
		return out
	}
	got := values(describe("orders"))
	if got["retention.ms"] != "60000" || got["retention.bytes"] != "-1" || got["cleanup.policy"] != "delete" || got[ConfigTopicJSON] != "" {
		t.Fatalf("DescribeConfigs orders: %v", got)
	}
	var cfg mqlog.TopicConfig
	if err := json.Unmarshal([]byte(values(describe("orders", ConfigTopicJSON))[ConfigTopicJSON]), &cfg); err != nil || cfg.Partitions != 2 || cfg.RetentionMs != 60000 {
		t.Fatalf("%s: %+v, %v", ConfigTopicJSON, cfg, err)
	}
	if r := describe("missing"); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DescribeConfigs of a missing topic: code %d", r.ErrorCode)
	}

	alter := func(name, value string, op kmsg.IncrementalAlterConfigOp) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version = 1
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "orders"
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value, cfg.Op = name, &value, op
		res.Configs = append(res.Configs, cfg)
		req.Resources = append(req.Resources, res)
		return c.do(req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode
	}
	for _, tc := range []struct {
		name, value string
		op          kmsg.IncrementalAlterConfigOp
		want        int16
	}{
		{"cleanup.policy", "compact", kmsg.IncrementalAlterConfigOpSet, 0},
		{"retention.ms", "-1", kmsg.IncrementalAlterConfigOpSet, 0},
		{"segment.ms", "0", kmsg.IncrementalAlterConfigOpSet, kerr.InvalidConfig.Code},
		{"cleanup.policy", "never", kmsg.IncrementalAlterConfigOpSet, kerr.InvalidConfig.Code},
		{"min.insync.replicas", "2", kmsg.IncrementalAlterConfigOpSet, kerr.InvalidConfig.Code},
		{"retention.ms", "1", kmsg.IncrementalAlterConfigOpDelete, kerr.InvalidRequest.Code},
	} {
		if code := alter(tc.name, tc.value, tc.op); code != tc.want {
			t.Errorf("IncrementalAlterConfigs %s=%s op %v: code %d, want %d", tc.name, tc.value, tc.op, code, tc.want)
		}
	}
	if cfg, _ := ts.db.TopicConfig("orders"); cfg.CleanupPolicy != mqlog.CleanupCompact || cfg.RetentionMs != 0 {
		t.Fatalf("config after alter: %+v", cfg)
	}

	grow := func(count int32) int16 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version = 3
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "orders", count
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode
	}
	if code := grow(2); code != kerr.InvalidPartitions.Code {
		t.Fatalf("CreatePartitions to the same count: code %d", code)
	}
	if code := grow(4); code != 0 {
		t.Fatalf("CreatePartitions to 4: code %d", code)
	}
	if cfg, _ := ts.db.TopicConfig("orders"); cfg.Partitions != 4 {
		t.Fatalf("partitions after CreatePartitions: %d", cfg.Partitions)
	}
}
