package kafka

import (
	"context"
	"errors"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The admin keys that tools send besides the ones a producer or consumer needs: DeleteRecords (kadm,
// kafkajs's deleteTopicRecords, kafka-delete-records), OffsetForLeaderEpoch (franz-go and librdkafka
// consumers validating a position, kadm), OffsetDelete (kadm.DeleteOffsets, kafka-consumer-groups
// --delete-offsets), DescribeCluster (the Java admin client, librdkafka's DescribeCluster) and
// DescribeProducers (kadm, kafka-transactions describe-producers).
const (
	deleteRecordsKey        int16 = 21
	offsetForLeaderEpochKey int16 = 23
	offsetDeleteKey         int16 = 47
	describeClusterKey      int16 = 60
	describeProducersKey    int16 = 61
)

// registerAdmin adds the admin keys to t. Version ranges start where Kafka 4's do (OffsetForLeaderEpoch
// 2: v0 and v1 were removed).
func (s *Server) registerAdmin(t apiTable) {
	t[deleteRecordsKey] = api{min: 0, max: 2, handle: s.deleteRecords, fail: failDeleteRecords}
	t[offsetForLeaderEpochKey] = api{min: 2, max: 4, handle: s.offsetForLeaderEpoch, fail: failOffsetForLeaderEpoch}
	t[offsetDeleteKey] = api{min: 0, max: 0, handle: s.offsetDelete, fail: failOffsetDelete}
	t[describeClusterKey] = api{min: 0, max: 2, handle: s.describeCluster}
	t[describeProducersKey] = api{min: 0, max: 0, handle: s.describeProducers, fail: failDescribeProducers}
}

// deleteRecords raises each partition's start offset to the offset asked (-1: the high watermark) with
// DB.DeleteRecords, durably, and answers the new start as the low watermark: OFFSET_OUT_OF_RANGE for an
// offset past the high watermark, POLICY_VIOLATION for a compacted topic, UNKNOWN_TOPIC_OR_PARTITION for
// what does not exist. The timeout is not needed: the call returns once the start is durable.
func (s *Server) deleteRecords(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark = p.Partition, -1
			start, err := s.db.DeleteRecords(t.Topic, p.Partition, p.Offset)
			switch {
			case errors.Is(err, mqlog.ErrCompactedTopic):
				rp.ErrorCode = kerr.PolicyViolation.Code
			case err != nil:
				rp.ErrorCode = s.errorCode(r, "DeleteRecords", err)
			default:
				rp.LowWatermark = start
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func failDeleteRecords(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark, rp.ErrorCode = p.Partition, -1, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// offsetForLeaderEpoch answers, for each partition, the end offset of the leader epoch asked: the offset
// of the first stored batch of a later epoch, or the high watermark when no later epoch has records
// (epochs.go). The current leader epoch the client sends is not fenced: this node leads every partition
// for ever, Metadata reports its leader epochs as unknown, and a client's current epoch can only be one
// this server handed out. An epoch above the log's current one is UNDEFINED (-1, -1), as Kafka answers.
func (s *Server) offsetForLeaderEpoch(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.EndOffset = p.Partition, -1, -1
			part, err := s.db.RawPartition(t.Topic, p.Partition)
			if err == nil {
				rp.LeaderEpoch, rp.EndOffset, err = epochEnd(part, p.LeaderEpoch)
			}
			rp.ErrorCode = s.errorCode(r, "OffsetForLeaderEpoch", err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func failOffsetForLeaderEpoch(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.EndOffset, rp.ErrorCode = p.Partition, -1, -1, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// offsetDelete deletes a group's committed offsets in the partitions asked (DB.DeleteGroupOffsets):
// GROUP_ID_NOT_FOUND for a group with neither members nor offsets, GROUP_SUBSCRIBED_TO_TOPIC for a
// partition of a topic its members read (a Kafka consumer's subscription, or an embedded member's topic),
// NON_EMPTY_GROUP for a group with members of another protocol than "consumer" (whose subscriptions
// cannot be read), as Kafka answers.
func (s *Server) offsetDelete(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if err := mqlog.ValidateGroup(req.Group); err != nil {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil
	}
	d, err := s.db.DescribeGroup(req.Group)
	if err != nil {
		resp.ErrorCode = s.groupErrorCode(r, "OffsetDelete", err)
		return resp, nil
	}
	if len(d.Members) == 0 {
		offs, err := s.db.GroupOffsets(req.Group)
		if err != nil {
			resp.ErrorCode = s.groupErrorCode(r, "OffsetDelete", err)
			return resp, nil
		}
		if len(offs) == 0 {
			resp.ErrorCode = kerr.GroupIDNotFound.Code
			return resp, nil
		}
	}
	var parts []mqlog.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, mqlog.TopicPartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	nonConsumer := false
	errs, err := s.db.DeleteGroupOffsets(req.Group, parts, func(d mqlog.GroupDescription) map[string]bool {
		topics, ok := subscribedTopics(d)
		if !ok { // every topic asked is taken as read
			nonConsumer = true
			for _, p := range parts {
				topics[p.Topic] = true
			}
		}
		return topics
	})
	if err != nil {
		resp.ErrorCode = s.groupErrorCode(r, "OffsetDelete", err)
		return resp, nil
	}
	i := 0
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case errors.Is(errs[i], mqlog.ErrGroupSubscribed):
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case errs[i] != nil:
				rp.ErrorCode = s.groupErrorCode(r, "OffsetDelete", errs[i])
			}
			i++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if nonConsumer {
		resp.ErrorCode = kerr.NonEmptyGroup.Code
	}
	return resp, nil
}

// subscribedTopics returns the topics the members of d read: an embedded member's topic, a Kafka
// consumer's subscription (the metadata of the "consumer" protocol) and its assignment. ok is false for
// a group of another protocol type, whose members' topics cannot be known.
func subscribedTopics(d mqlog.GroupDescription) (topics map[string]bool, ok bool) {
	topics = map[string]bool{}
	if d.ProtocolType != "consumer" && d.ProtocolType != mqlog.GroupProtocolEmbedded {
		return topics, false
	}
	for _, m := range d.Members {
		if m.Topic != "" {
			topics[m.Topic] = true
		}
		var md kmsg.ConsumerMemberMetadata
		if len(m.Metadata) > 0 && md.ReadFrom(m.Metadata) == nil {
			for _, t := range md.Topics {
				topics[t] = true
			}
		}
		var a kmsg.ConsumerMemberAssignment
		if len(m.Assignment) > 0 && a.ReadFrom(m.Assignment) == nil {
			for _, t := range a.Topics {
				topics[t.Topic] = true
			}
		}
	}
	return topics, true
}

func failOffsetDelete(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	resp.ErrorCode = code
	return resp
}

// describeCluster describes this node as the whole cluster and its controller, as Metadata does. Only
// brokers can be described (EndpointType 1): a request for controllers is UNSUPPORTED_ENDPOINT_TYPE, as
// a Kafka broker answers it. Authorized operations are not computed (mqlog has no ACLs).
func (s *Server) describeCluster(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = errorf("this node describes brokers only (endpoint type 1)")
		return resp, nil
	}
	resp.EndpointType = 1
	resp.ClusterID = s.opts.ClusterID
	brokers, controller := s.clusterBrokers(r) // Metadata's: this node, or the voters and the leader
	resp.ControllerID = controller
	for _, mb := range brokers {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = mb.NodeID, mb.Host, mb.Port, mb.Rack
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp, nil
}

// describeProducers lists the idempotent producers each partition remembers (RawPartition.Producers):
// id, epoch, the last sequence and timestamp of its last batch there. There are no transactions: the
// coordinator epoch and the current transaction's start offset are -1.
func (s *Server) describeProducers(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = p
			part, err := s.db.RawPartition(t.Topic, p)
			var list []mqlog.ProducerInfo
			if err == nil {
				list, err = part.Producers()
			}
			rp.ErrorCode = s.errorCode(r, "DescribeProducers", err)
			for _, i := range list {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp = i.ID, int32(i.Epoch), i.LastSequence, i.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1
				rp.ActiveProducers = append(rp.ActiveProducers, ap)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func failDescribeProducers(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
