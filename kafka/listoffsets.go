package kafka

import (
	"context"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of ListOffsets.
const (
	latestTimestamp        = -1 // the high watermark
	earliestTimestamp      = -2 // the log start
	maxTimestamp           = -3 // v7+: the record with the greatest timestamp
	earliestLocalTimestamp = -4 // v8+: the log start (all of it is local)
	latestTieredTimestamp  = -5 // v9+: none (nothing is tiered)
)

// listOffsets answers each partition's offset for a time: the start, the high watermark, the record with
// the greatest timestamp, or the first record at or after a timestamp (offset -1 when there is none, as
// Kafka answers). v0 answers with the old list of offsets.
func (s *Server) listOffsets(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			offset, ts, err := s.offsetFor(t.Topic, p.Partition, p.Timestamp)
			if err != nil {
				rp.ErrorCode = s.errorCode(r, "ListOffsets", err)
			} else if req.Version == 0 {
				rp.OldStyleOffsets = []int64{offset}
			} else {
				rp.Offset, rp.Timestamp = offset, ts
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// errBadTimestamp is a negative ListOffsets timestamp that names nothing.
var errBadTimestamp = kerr.InvalidRequest

// offsetFor returns the offset (and its record's timestamp, -1 for the special ones) of one partition at
// timestamp ts.
func (s *Server) offsetFor(topic string, partition int32, ts int64) (int64, int64, error) {
	p, err := s.db.RawPartition(topic, partition)
	if err != nil {
		return 0, 0, err
	}
	switch ts {
	case latestTimestamp:
		return p.HighWatermark(), -1, nil
	case earliestTimestamp, earliestLocalTimestamp:
		return p.StartOffset(), -1, nil
	case latestTieredTimestamp:
		return -1, -1, nil
	case maxTimestamp:
		parts, err := s.db.Partitions(topic)
		if err != nil || int(partition) >= len(parts) {
			return 0, 0, err
		}
		greatest := int64(-1)
		for _, seg := range parts[partition].Segments {
			if seg.NextOffset > seg.BaseOffset { // (an empty active segment records no timestamp)
				greatest = max(greatest, seg.MaxTimestamp)
			}
		}
		if greatest < 0 {
			return -1, -1, nil
		}
		return s.recordAtOrAfter(topic, partition, p, greatest)
	}
	if ts < 0 {
		return 0, 0, errBadTimestamp
	}
	return s.recordAtOrAfter(topic, partition, p, ts)
}

// recordAtOrAfter returns the offset and timestamp of the first record at or after ts, or -1, -1.
func (s *Server) recordAtOrAfter(topic string, partition int32, p *mqlog.RawPartition, ts int64) (int64, int64, error) {
	offset, err := p.OffsetForTime(ts)
	if err != nil {
		return 0, 0, err
	}
	if offset >= p.HighWatermark() {
		return -1, -1, nil
	}
	for rec, err := range s.db.ReadNoCopy(topic, partition, offset) {
		if err != nil {
			return 0, 0, err
		}
		return rec.Offset, rec.Timestamp.UnixMilli(), nil
	}
	return -1, -1, nil
}

func failListOffsets(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
