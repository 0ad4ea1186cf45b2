package segment

// ValidateProduced checks a batch as a producer sent it, before it is appended: everything a reader of the
// log will check, so that no producer can write a batch that reads back as corruption, plus the rules Kafka
// applies to produced batches. The frame must be exactly one batch (ErrTruncated otherwise); it is
// verified as DecodeBatch does (length, magic, CRC, header fields); then:
//
//   - it is not a control batch (those are written by a broker's transaction coordinator), and its
//     timestamp type is CreateTime (ErrBadRecord);
//   - it holds at least one record and NumRecords = LastOffsetDelta + 1 (ErrBadOffset);
//   - its records decode (decompressed within limits.MaxBatchBytes), their offset deltas are exactly
//     0 .. NumRecords-1 and each key plus value is within limits.MaxMessageBytes (ErrBadRecord,
//     ErrBadOffset, ErrTooLarge, ErrCompression);
//   - MaxTimestamp is the greatest record timestamp: the time index depends on it (ErrBadRecord);
//   - a producer id >= 0 comes with an epoch and a base sequence >= 0 (ErrBadRecord).
//
// scratch is reused for the decoded records and returned for the next call. Base offset and partition
// leader epoch are not checked: the log assigns both.
func ValidateProduced(frame []byte, limits Limits, scratch []Record) (Batch, []Record, error) {
	b, err := DecodeBatch(frame, limits)
	if err != nil {
		return Batch{}, scratch, err
	}
	h := &b.Header
	if h.FrameSize() != int64(len(frame)) {
		return Batch{}, scratch, errorf(ErrTruncated, "%d bytes after the batch", int64(len(frame))-h.FrameSize())
	}
	switch {
	case h.IsControl():
		return Batch{}, scratch, errorf(ErrBadRecord, "a control batch from a producer")
	case h.Attributes&attrTimestampType != 0:
		return Batch{}, scratch, errorf(ErrBadRecord, "LogAppendTime set by a producer")
	case h.NumRecords < 1 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1:
		return Batch{}, scratch, errorf(ErrBadOffset, "%d records with lastOffsetDelta %d", h.NumRecords, h.LastOffsetDelta)
	case h.ProducerID >= 0 && (h.ProducerEpoch < 0 || h.BaseSequence < 0):
		return Batch{}, scratch, errorf(ErrBadRecord, "producer %d with epoch %d and sequence %d", h.ProducerID, h.ProducerEpoch, h.BaseSequence)
	}
	records, err := b.Records(scratch[:0], false, limits)
	if err != nil {
		return Batch{}, scratch, err
	}
	// n strictly increasing offsets in [BaseOffset, BaseOffset+n-1] (checked by Records) are exactly its
	// offsets, without a gap.
	maxTimestamp := records[0].Timestamp
	for i := range records {
		maxTimestamp = max(maxTimestamp, records[i].Timestamp)
	}
	clear(records) // do not keep the frame's bytes alive in the caller's scratch
	if maxTimestamp != h.MaxTimestamp {
		return Batch{}, records, errorf(ErrBadRecord, "maxTimestamp %d, records up to %d", h.MaxTimestamp, maxTimestamp)
	}
	return b, records, nil
}
