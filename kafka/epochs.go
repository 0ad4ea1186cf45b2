package kafka

import (
	"encoding/binary"

	"github.com/mqlog/mqlog"
)

// Leader epochs. Every stored batch carries the partition leader epoch it was written in: the log's
// write epoch, raised at every open of the DB and never lowered, so the epochs of a partition's batches
// never decrease along its offsets. That is the whole epoch history a Kafka leader keeps in its
// leader-epoch-checkpoint file, read from the batches themselves: the epoch of offset o is the epoch of
// the batch that holds it, and an epoch's end offset is the base offset of the first batch of a later
// epoch. epochEnd finds it by a binary search over offsets, reading one batch header per step (about 30
// reads for a billion offsets), which is cheap for a request a consumer sends once per assignment or
// error.

// batchEpoch returns the partition leader epoch and base offset of the stored batch that holds offset
// (or, in a compacted log's gap, the first batch after it).
// buf is reused from call to call.
func batchEpoch(p *mqlog.RawPartition, buf *[]byte, offset int64) (epoch int32, base int64, err error) {
	frame, err := p.ReadBatches((*buf)[:0], offset, 1)
	if err != nil {
		return 0, 0, err
	}
	*buf = frame
	if len(frame) < 16 { // ReadBatches returns whole verified batches: only at the high watermark is it empty
		return 0, 0, mqlog.ErrOutOfRange
	}
	return int32(binary.BigEndian.Uint32(frame[12:16])), int64(binary.BigEndian.Uint64(frame[0:8])), nil
}

// epochEnd answers OffsetForLeaderEpoch for one partition, as Kafka's LeaderEpochFileCache.endOffsetFor
// does: for the current epoch (or, when no batch of a later epoch exists, any epoch at or below the
// current one), the high watermark; for an earlier epoch, the start of the first later epoch with
// records and the largest epoch at or below the one asked that has records (the epoch asked when none
// has); for -1 or an epoch above the current one, UNDEFINED (-1, -1).
func epochEnd(p *mqlog.RawPartition, epoch int32) (leaderEpoch int32, endOffset int64, err error) {
	current, hw := p.Epoch(), p.HighWatermark()
	if epoch < 0 || epoch > current {
		return -1, -1, nil
	}
	if epoch == current {
		return current, hw, nil
	}
	// The first offset in [start, hw) whose batch has an epoch above epoch: "epoch above" is false, then
	// true, along the offsets.
	var buf []byte
	lo, hi := p.StartOffset(), hw
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, base, err := batchEpoch(p, &buf, mid)
		if err != nil {
			return -1, -1, err
		}
		if e > epoch {
			hi = min(mid, max(base, lo)) // the batch starts at base: no earlier offset of it is below
		} else {
			lo = mid + 1
		}
	}
	end := lo
	if end == p.StartOffset() {
		return epoch, end, nil // no record of epoch or earlier is left: Kafka's "requested epoch" answer
	}
	if end == hw {
		// No batch of a later epoch: the later epochs (up to the current one) have no records, and the
		// epoch's records end at the high watermark.
		floor, _, err := batchEpoch(p, &buf, end-1)
		if err != nil {
			return -1, -1, err
		}
		return min(floor, epoch), hw, nil
	}
	floor, _, err := batchEpoch(p, &buf, end-1)
	if err != nil {
		return -1, -1, err
	}
	return min(floor, epoch), end, nil // (end-1 in a compacted log's gap reads the batch after it)
}
