package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produce appends each partition's batch (exactly one RecordBatch v2, validated by the DB) and answers once
// each is durable: acks 1 and all are the same on one node, and both wait for the group commit that
// embedded producers share. The partitions of one request are appended concurrently, so that their
// fsyncs overlap. With acks 0 nothing is answered; a failure then closes the connection, which is how
// Kafka tells such a producer.
//
// The produce requests of one connection are appended in the order they came: a request starts appending
// once every batch of the one before has its offsets (not once it is durable: pipelined requests still
// share group commits). An idempotent producer pipelines up to five requests to a partition, and their
// sequence numbers must meet the log in that order (Kafka gets it by handling a connection's requests one
// at a time). On a replicated node a request starts once the one before has its place in the raft log
// (replication.go), which fixes the order of the applies on every node.
func (s *Server) produce(ctx context.Context, r *request) (kmsg.Response, error) {
	var closeOrdered sync.Once
	orderedDone := func() { closeOrdered.Do(func() { close(r.ordered) }) }
	defer orderedDone()
	select {
	case <-r.after:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	refuse := int16(0)
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		refuse = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil:
		refuse = kerr.TransactionalIDAuthorizationFailed.Code
	}
	type job struct {
		name string
		rp   *kmsg.ProduceResponseTopicPartition
		data []byte
	}
	var jobs []job
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, known := t.Topic, true
		if req.Version >= 13 {
			name, known = s.ids.name(t.TopicID)
		}
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case refuse != 0:
				rp.ErrorCode = refuse
			case !known:
				rp.ErrorCode = kerr.UnknownTopicID.Code
			default:
				jobs = append(jobs, job{name: name, rp: rp, data: p.Records})
			}
		}
	}
	var unordered atomic.Int32 // batches without their place yet
	unordered.Store(int32(len(jobs)))
	ordered := func() {
		if unordered.Add(-1) == 0 {
			orderedDone()
		}
	}
	if len(jobs) == 0 {
		orderedDone()
	}
	run := func(j job) {
		p, err := s.db.RawPartition(j.name, j.rp.Partition)
		if err != nil {
			ordered()
		} else {
			var res mqlog.AppendResult
			res, err = s.appendBatch(ctx, p, j.name, j.rp.Partition, j.data, ordered) // replication.go
			j.rp.BaseOffset, j.rp.LogStartOffset = res.BaseOffset, p.StartOffset()
		}
		if err != nil {
			j.rp.ErrorCode = s.errorCode(r, "Produce", err)
			if j.rp.ErrorCode != kerr.UnknownServerError.Code && j.rp.ErrorCode != kerr.KafkaStorageError.Code {
				j.rp.ErrorMessage = errorf("%v", err)
			}
		}
	}
	if len(jobs) == 1 {
		run(jobs[0])
	} else {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(j)
			}()
		}
		wg.Wait()
	}
	if req.Acks == 0 {
		for _, j := range jobs {
			if j.rp.ErrorCode != 0 {
				return nil, fmt.Errorf("produce with acks 0 to %s partition %d: %s", j.name, j.rp.Partition, kerr.ErrorForCode(j.rp.ErrorCode))
			}
		}
		if refuse != 0 {
			return nil, fmt.Errorf("produce with acks 0: %s", kerr.ErrorForCode(refuse))
		}
		return nil, nil
	}
	return resp, nil
}

func failProduce(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
