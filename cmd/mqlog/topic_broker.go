package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicAdmin is what topic create and alter change: the opened directory (*mqlog.DB) or a broker serving
// it (brokerTopics), with the same methods and the same errors.
type topicAdmin interface {
	Topics() []string
	CreateTopic(name string, cfg mqlog.TopicConfig) error
	TopicConfig(name string) (mqlog.TopicConfig, error)
	AlterTopic(name string, alt mqlog.TopicAlteration) (mqlog.TopicConfig, error)
	AddPartitions(name string, n int) (mqlog.TopicConfig, error)
	Close() error
}

// openTopicAdmin opens the directory for writing, or reaches the broker that serves it (openWriterOrBroker).
// existing: fail on a missing directory instead of creating it (when not through --broker).
func (a *app) openTopicAdmin(o *brokerOptions, existing bool) (topicAdmin, error) {
	if existing && o.addr == "" {
		if err := a.checkDirExists(); err != nil {
			return nil, err
		}
	}
	db, b, err := a.openWriterOrBroker(o, a.dbOptions())
	switch {
	case err != nil:
		return nil, err
	case b != nil:
		return &brokerTopics{ctx: a.ctx, b: b}, nil
	}
	return db, nil
}

// brokerTopics changes topics through a broker: CreateTopics, DescribeConfigs (the stored config, as
// kafka.ConfigTopicJSON), IncrementalAlterConfigs and CreatePartitions.
type brokerTopics struct {
	ctx  context.Context
	b    *brokerClient
	errs []error // of Topics, which has no error result: returned by Close
}

func (t *brokerTopics) Topics() []string {
	names, err := t.b.topicNames(t.ctx)
	if err != nil {
		t.errs = append(t.errs, err)
	}
	return names
}

func (t *brokerTopics) CreateTopic(name string, cfg mqlog.TopicConfig) error {
	if err := mqlog.ValidateTopicName(name); err != nil {
		return err
	}
	have, err := t.b.topic(t.ctx, name)
	if err != nil {
		return err
	}
	want := cfg.WithDefaults()
	if have.exists {
		// As DB.CreateTopic: the same partition count is not an error, another one is.
		if have.partitions != want.Partitions {
			return fmt.Errorf("%w: %s has %d partitions", mqlog.ErrTopicExists, name, have.partitions)
		}
		return nil
	}
	configs := map[string]*string{
		"segment.bytes":          strPtr(strconv.FormatInt(want.SegmentBytes, 10)),
		"retention.bytes":        strPtr(strconv.FormatInt(want.RetentionBytes, 10)),
		"retention.ms":           strPtr(strconv.FormatInt(want.RetentionMs, 10)),
		"delete.retention.ms":    strPtr(strconv.FormatInt(want.DeleteRetentionMs, 10)),
		"cleanup.policy":         strPtr(string(want.CleanupPolicy)),
		"mqlog.retention.policy": strPtr(string(want.RetentionPolicy)),
	}
	if want.RetentionPolicy == "" {
		delete(configs, "mqlog.retention.policy")
	}
	if want.SegmentMs != 0 {
		configs["segment.ms"] = strPtr(strconv.FormatInt(want.SegmentMs, 10))
	}
	resp, err := retried(t.ctx, t.b, func() (kadm.CreateTopicResponse, error) {
		return t.b.adm.CreateTopic(t.ctx, int32(want.Partitions), -1, configs, name)
	})
	t.b.cl.PurgeTopicsFromClient(name)
	if resp.Err != nil {
		return brokerError(resp.Err, resp.ErrMessage)
	}
	if err != nil {
		return fmt.Errorf("broker %s: %w", t.b.addr, err)
	}
	return t.b.waitTopic(t.ctx, name)
}

// waitTopic waits until the broker describes a topic just created. One node describes it at once; a
// replicated cluster's nodes each apply the creation a moment after the leader answered, and the
// describe may go to any of them.
func (b *brokerClient) waitTopic(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	for {
		_, err := b.topicConfig(ctx, name)
		if !errors.Is(err, mqlog.ErrTopicNotFound) || ctx.Err() != nil {
			return nil // (another error is the caller's to meet when it describes the topic)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *brokerTopics) TopicConfig(name string) (mqlog.TopicConfig, error) {
	return t.b.topicConfig(t.ctx, name)
}

func (t *brokerTopics) AlterTopic(name string, alt mqlog.TopicAlteration) (mqlog.TopicConfig, error) {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, name
	set := func(config string, value string) {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = config, kmsg.IncrementalAlterConfigOpSet, &value
		res.Configs = append(res.Configs, c)
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{
		{"segment.bytes", alt.SegmentBytes}, {"retention.bytes", alt.RetentionBytes}, {"retention.ms", alt.RetentionMs},
		{"delete.retention.ms", alt.DeleteRetentionMs}, {"segment.ms", alt.SegmentMs},
	} {
		if f.v != nil {
			set(f.name, strconv.FormatInt(*f.v, 10))
		}
	}
	if alt.CleanupPolicy != nil {
		set("cleanup.policy", string(*alt.CleanupPolicy))
	}
	if alt.RetentionPolicy != nil {
		set("mqlog.retention.policy", string(*alt.RetentionPolicy))
	}
	if alt.DuplicateWindowMs != nil {
		return mqlog.TopicConfig{}, errors.New("the duplicate window cannot be changed through a broker")
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(t.ctx, t.b.cl)
	if err != nil {
		return mqlog.TopicConfig{}, fmt.Errorf("broker %s: %w", t.b.addr, err)
	}
	for _, r := range resp.Resources {
		if err := brokerError(kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage)); err != nil {
			return mqlog.TopicConfig{}, err
		}
	}
	return t.TopicConfig(name)
}

func (t *brokerTopics) AddPartitions(name string, n int) (mqlog.TopicConfig, error) {
	resp, err := retried(t.ctx, t.b, func() (kadm.CreatePartitionsResponses, error) { return t.b.adm.UpdatePartitions(t.ctx, n, name) })
	t.b.cl.PurgeTopicsFromClient(name)
	if err != nil {
		return mqlog.TopicConfig{}, fmt.Errorf("broker %s: %w", t.b.addr, err)
	}
	for _, r := range resp {
		if err := brokerError(r.Err, r.ErrMessage); err != nil {
			return mqlog.TopicConfig{}, err
		}
	}
	return t.TopicConfig(name)
}

func (t *brokerTopics) Close() error { return errors.Join(append(t.errs, t.b.Close())...) }

// topicConfig returns a topic's stored config, which a serving mqlog describes as kafka.ConfigTopicJSON.
func (b *brokerClient) topicConfig(ctx context.Context, name string) (mqlog.TopicConfig, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeTopic, name, []string{kafka.ConfigTopicJSON}
	req.Resources = append(req.Resources, res)
	// Asked of the broker the command names, not of any broker of the cluster: the nodes of a
	// replicated cluster each apply a topic's creation a moment apart (waitTopic).
	kresp, err := b.cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return mqlog.TopicConfig{}, fmt.Errorf("broker %s: %w", b.addr, err)
	}
	resp := kresp.(*kmsg.DescribeConfigsResponse)
	for _, r := range resp.Resources {
		if err := brokerError(kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage)); err != nil {
			return mqlog.TopicConfig{}, err
		}
		for _, c := range r.Configs {
			if c.Name == kafka.ConfigTopicJSON && c.Value != nil {
				var cfg mqlog.TopicConfig
				if err := json.Unmarshal([]byte(*c.Value), &cfg); err != nil {
					return cfg, fmt.Errorf("broker %s: topic %s: %s: %w", b.addr, name, kafka.ConfigTopicJSON, err)
				}
				return cfg, nil
			}
		}
	}
	return mqlog.TopicConfig{}, fmt.Errorf("broker %s is not an mqlog server: it does not describe %s of topic %s", b.addr, kafka.ConfigTopicJSON, name)
}

// settingsFromServer returns the settings of every topic from the process that serves the directory,
// for the read-only commands (topic list and describe) that cannot read the index while it runs; nil
// when no process serves it or it cannot be reached (a note on stderr says so).
func (a *app) settingsFromServer(names []string) map[string]mqlog.TopicConfig {
	b, err := a.brokerOfLock(&brokerOptions{}, mqlog.ErrLocked)
	if err != nil {
		return nil
	}
	defer b.Close()
	out := map[string]mqlog.TopicConfig{}
	for _, name := range names {
		cfg, err := b.topicConfig(a.ctx, name)
		if errors.Is(err, mqlog.ErrTopicNotFound) {
			continue
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "note: settings from the server: %v\n", err)
			return nil
		}
		out[name] = cfg
	}
	return out
}

func strPtr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// describeDeletion is describeDeletion for a topic of a served directory: its partitions, records,
// segments and bytes from the directory's files (read-only, beside the server), or, when --broker names
// a server whose directory is not --dir, its partitions and records from the broker's offsets; the
// groups with positions in it from the broker's consumer groups.
func (a *app) describeDeletionThrough(b *brokerClient, name string) (topicDeletedJSON, error) {
	doc := topicDeletedJSON{Version: jsonVersion, Topic: name, Groups: []string{}}
	t, err := b.topic(a.ctx, name)
	if err != nil {
		return doc, err
	}
	if !t.exists {
		return doc, fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, name)
	}
	doc.Partitions = t.partitions
	if db, err := mqlog.OpenReadOnly(a.dir, a.dbOptions()); err == nil {
		parts, perr := db.Partitions(name)
		if perr == nil && len(parts) == t.partitions {
			for _, p := range parts {
				doc.Records += p.HighWatermark - p.StartOffset
				doc.Segments += len(p.Segments)
				for _, s := range p.Segments {
					doc.Bytes += s.Size
				}
			}
		}
		db.Close()
		if perr == nil && len(parts) == t.partitions {
			return doc, b.groupsWithPositions(a.ctx, name, &doc)
		}
	}
	starts, err := retried(a.ctx, b, func() (kadm.ListedOffsets, error) { return b.adm.ListStartOffsets(a.ctx, name) })
	if err != nil {
		return doc, fmt.Errorf("broker %s: %w", b.addr, err)
	}
	ends, err := retried(a.ctx, b, func() (kadm.ListedOffsets, error) { return b.adm.ListEndOffsets(a.ctx, name) })
	if err != nil {
		return doc, fmt.Errorf("broker %s: %w", b.addr, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && o.Err == nil && s.Err == nil {
			doc.Records += o.Offset - s.Offset
		}
	})
	return doc, b.groupsWithPositions(a.ctx, name, &doc)
}

// groupsWithPositions adds to doc the broker's consumer groups that have committed offsets in topic.
func (b *brokerClient) groupsWithPositions(ctx context.Context, topic string, doc *topicDeletedJSON) error {
	if ok, err := b.supports(ctx, listGroupsKey); err != nil || !ok {
		return err // a server without the group keys has no groups to show
	}
	listed, err := retried(ctx, b, func() (kadm.ListedGroups, error) { return b.adm.ListGroups(ctx) })
	if err != nil {
		return fmt.Errorf("broker %s: %w", b.addr, err)
	}
	for _, g := range listed.Groups() {
		offsets, err := retried(ctx, b, func() (kadm.OffsetResponses, error) { return b.adm.FetchOffsets(ctx, g) })
		if err != nil {
			return fmt.Errorf("broker %s: group %s: %w", b.addr, g, err)
		}
		if _, ok := offsets[topic]; ok {
			doc.Groups = append(doc.Groups, g)
		}
	}
	slices.Sort(doc.Groups)
	return nil
}

// deleteTopic deletes a topic through the broker.
func (b *brokerClient) deleteTopic(ctx context.Context, name string) error {
	resp, err := retried(ctx, b, func() (kadm.DeleteTopicResponse, error) { return b.adm.DeleteTopic(ctx, name) })
	b.cl.PurgeTopicsFromClient(name)
	if resp.Err != nil {
		return brokerError(resp.Err, resp.ErrMessage)
	}
	if err != nil {
		return fmt.Errorf("broker %s: %w", b.addr, err)
	}
	return nil
}
