package kafka

import (
	"context"
	"errors"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
	"github.com/twmb/franz-go/pkg/kerr"
)

// errorCode maps an engine error to Kafka's error code. Errors that are the server's, not the client's
// (storage failures, corruption, anything unexpected), are logged.
func (s *Server) errorCode(r *request, what string, err error) int16 {
	var corrupt *segment.CorruptionError
	var kafkaErr *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &kafkaErr):
		return kafkaErr.Code
	case isNotLeader(err): // replication.go
		return notLeaderCode(what)
	case errors.Is(err, mqlog.ErrTopicNotFound), errors.Is(err, mqlog.ErrInvalidPartition):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, mqlog.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, mqlog.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	case errors.Is(err, mqlog.ErrOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, mqlog.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, mqlog.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, mqlog.ErrTransactional):
		return kerr.TransactionalIDAuthorizationFailed.Code
	case errors.Is(err, segment.ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, segment.ErrBadCRC), errors.Is(err, segment.ErrTruncated), errors.Is(err, segment.ErrBadLength),
		errors.Is(err, segment.ErrBadMagic), errors.Is(err, segment.ErrCompression):
		if !errors.As(err, &corrupt) {
			return kerr.CorruptMessage.Code // the client's batch
		}
	case errors.Is(err, segment.ErrBadRecord), errors.Is(err, segment.ErrBadOffset):
		if !errors.As(err, &corrupt) {
			return kerr.InvalidRecord.Code
		}
	case errors.Is(err, wal.ErrClosed), errors.Is(err, mqlog.ErrClosed):
		return kerr.NotLeaderForPartition.Code // a topic deleted under the request, or the server stopping: retriable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, mqlog.ErrReadOnly):
		return kerr.PolicyViolation.Code
	}
	code := kerr.UnknownServerError.Code
	if errors.Is(err, mqlog.ErrFailStop) || errors.As(err, &corrupt) {
		code = kerr.KafkaStorageError.Code
	}
	r.c.log.Error("kafka: "+what+" failed", "err", err)
	return code
}
