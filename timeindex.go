package mqlog

import "time"

// OffsetForTime returns the offset of the first record of a partition whose timestamp is at or after t,
// or the partition's high watermark when there is none (Kafka's offsetsForTimes). It skips the segments
// and the part of a segment that hold only older records, through the segments' greatest timestamps and
// a binary search over the sparse index (whose timestamps never decrease), then reads forward; where
// index entries are missing it reads more, with the same result. It works on a read-only DB too, by
// reading the segments.
func (db *DB) OffsetForTime(topicName string, partition int32, t time.Time) (int64, error) {
	tp, err := db.topic(topicName)
	if err != nil {
		return 0, err
	}
	l, err := tp.partition(partition)
	if err != nil {
		return 0, err
	}
	if err := l.Refresh(); err != nil {
		return 0, err
	}
	return l.OffsetForTime(t.UnixMilli())
}
