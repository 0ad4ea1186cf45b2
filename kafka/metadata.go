package kafka

import (
	"context"
	"errors"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadata describes this node as the whole cluster, leader of every partition. A requested topic that
// does not exist is created when the client allows it (Metadata v4+, always before) and the server does.
// Leader epochs are reported as unknown (-1): there is one leader for ever, and clients then skip epoch
// validation.
func (s *Server) metadata(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers, resp.ControllerID = s.clusterBrokers(r) // replication.go
	resp.ClusterID = &s.opts.ClusterID

	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 { // every topic
		for _, name := range s.db.Topics() {
			resp.Topics = append(resp.Topics, s.topicMetadata(ctx, r, name, false))
		}
		return resp, nil
	}
	create := !s.opts.NoAutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, t := range req.Topics {
		if t.Topic == nil { // by id (v10+)
			name, ok := s.ids.name(t.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID, mt.ErrorCode = t.TopicID, kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, s.topicMetadata(ctx, r, name, false))
			continue
		}
		resp.Topics = append(resp.Topics, s.topicMetadata(ctx, r, *t.Topic, create))
	}
	return resp, nil
}

// topicMetadata describes one topic, creating it first when create is set and it does not exist.
func (s *Server) topicMetadata(ctx context.Context, r *request, name string, create bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	cfg, err := s.db.TopicConfig(name)
	if errors.Is(err, mqlog.ErrTopicNotFound) && create {
		if err = mqlog.ValidateTopicName(name); err == nil {
			err = s.createTopic(ctx, name, s.opts.TopicDefaults)
			if errors.Is(err, mqlog.ErrTopicExists) {
				err = nil // created meanwhile by someone else
			}
			if err == nil {
				r.c.log.Info("kafka: topic created on first use", "topic", name, "client", r.clientID)
				cfg, err = s.db.TopicConfig(name)
			}
		}
	}
	if err != nil {
		mt.ErrorCode = s.errorCode(r, "Metadata", err)
		return mt
	}
	mt.TopicID = s.ids.of(name)
	l := s.partitionLeadership() // replication.go
	for p := 0; p < cfg.Partitions; p++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch, mp.ErrorCode = int32(p), l.leader, l.epoch, l.code
		mp.Replicas, mp.ISR, mp.OfflineReplicas = l.replicas, l.isr, l.offline
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func failMetadata(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ErrorCode = code // v13+
	for _, t := range req.Topics {
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID, mt.ErrorCode = t.Topic, t.TopicID, code
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}
