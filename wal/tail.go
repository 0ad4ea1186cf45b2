package wal

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/mqlog/mqlog/segment"
)

// The tail of a log is what lies past its recorded durable point: frames that were written, and maybe
// fsynced, after the state was last saved. Recovery, Verify and a read-only opener read it with tailScan,
// which tells the end of what was written (a torn write: cut it, or take it as not yet written) from damage
// to written data (report it, never cut), by the rule of DESIGN.md decision 6 (docs/FORMAT.md "Recovery"):
//
//   - Before the durable point, a bad frame is damage.
//   - Past it, a torn write can only be the end of what was written: a bad frame is the end of the log when
//     no valid frame of the tail's epoch with continuing offsets follows it, or when what lies between
//     them is the trace of lost unsynced writes (segment.LooksLikeLostWrite: a crash may keep a later
//     block of the write in flight and lose an earlier one). A bad frame followed by valid frames is
//     otherwise damage.
//   - A frame that is valid in every field but its epoch (not covered by the CRC) is stale, the end of the
//     log, when its epoch is older and nothing valid of the tail's epoch follows it. Otherwise it is data
//     whose epoch field is damaged: it is kept, and reported (BadEpoch).

// tailOptions configure tailScan.
type tailOptions struct {
	path   string
	limits segment.Limits
	// nextOffset is the offset the first frame must start at (-1: any); contiguous forbids gaps.
	nextOffset int64
	contiguous bool
	// epoch is the epoch the tail's frames were written under (the recorded one); anyEpoch when it is not
	// known (a read-only opener): then the highest epoch seen so far in the scan stands for it.
	epoch int32
	// lastEpoch is the highest epoch of the frames before pos, for anyEpoch (anyEpoch when unknown).
	lastEpoch int32
	// ignoreEpochs reads through every epoch (a read-only opener: without the recorded epoch, a stale
	// frame and a damaged epoch field look alike, and readers read through damaged fields).
	ignoreEpochs bool
	// durable is the byte up to which the frames are known durable (they were acknowledged as fsynced):
	// a bad frame that starts before it is damage, whatever follows.
	durable int64
	// onBatch is called for each frame taken as part of the log.
	onBatch func(pos int64, h segment.BatchHeader) error
}

// anyEpoch marks an unknown tail epoch.
const anyEpoch = math.MinInt32

// tailResult is what tailScan found.
type tailResult struct {
	validEnd     int64
	batches      int
	records      int64
	firstOffset  int64 // -1 without batches
	lastOffset   int64 // -1 without batches
	lastEpoch    int32 // highest epoch of the kept frames, anyEpoch without batches
	maxTimestamp int64 // -1 without batches
	// zeroTail says that the bytes from validEnd to the end are zeros (preallocated space).
	zeroTail bool
	// end, when not nil, is the frame at validEnd that ends the log: a torn write or a stale frame.
	end *segment.CorruptionError
	// damage, when not nil, is damage at validEnd: the scan stopped there and nothing may be cut.
	damage *segment.CorruptionError
	// badEpochs are kept frames whose epoch field is out of order.
	badEpochs []BadEpoch
}

// errOddEpoch stops a segment.Scan at a frame whose epoch is not the tail's.
var errOddEpoch = errors.New("frame of another epoch")

// tailScan reads r from pos to end and classifies where its valid frames stop (see above).
func tailScan(r io.ReaderAt, pos, end int64, o tailOptions) (tailResult, error) {
	res := tailResult{validEnd: pos, firstOffset: -1, lastOffset: -1, lastEpoch: anyEpoch, maxTimestamp: -1}
	if o.epoch == anyEpoch && o.lastEpoch != 0 {
		res.lastEpoch = o.lastEpoch
	}
	next, epoch := o.nextOffset, o.epoch
	for {
		var odd segment.BatchHeader
		var oddPos int64
		sr, err := segment.Scan(r, pos, end, segment.ScanOptions{
			Path: o.path, Limits: o.limits, NextOffset: next, Contiguous: o.contiguous, IgnoreEpochs: true,
		}, func(p int64, h segment.BatchHeader) error {
			if e := h.PartitionLeaderEpoch; !o.ignoreEpochs && ((epoch != anyEpoch && e != epoch) || (epoch == anyEpoch && e < res.lastEpoch)) {
				odd, oddPos = h, p
				return errOddEpoch
			}
			return res.keep(p, h, o, true)
		})
		res.validEnd = max(res.validEnd, sr.ValidEnd)
		if errors.Is(err, errOddEpoch) {
			keep, err := res.oddEpochIsData(r, oddPos, end, &odd, epoch, o)
			if err != nil {
				return res, err
			}
			want := epoch
			if want == anyEpoch {
				want = res.lastEpoch
			}
			if !keep {
				res.end = &segment.CorruptionError{Path: o.path, Offset: oddPos,
					Err: fmt.Errorf("%w: stale frame of epoch %d past the durable point (epoch %d)", segment.ErrBadEpoch, odd.PartitionLeaderEpoch, want)}
				return res, nil
			}
			res.badEpochs = append(res.badEpochs, BadEpoch{Path: o.path, Position: oddPos, Epoch: odd.PartitionLeaderEpoch, Previous: want})
			if err := res.keep(oddPos, odd, o, false); err != nil { // (its epoch does not raise the bar)
				return res, err
			}
			pos, next = oddPos+odd.FrameSize(), odd.LastOffset()+1
			res.validEnd = pos
			continue
		}
		if err != nil {
			return res, err
		}
		switch {
		case sr.Stop == nil:
			return res, nil
		case errors.Is(sr.Stop, segment.ErrZeroTail):
			res.zeroTail = true
			return res, nil
		}
		bad := sr.Stop.(*segment.CorruptionError)
		if bad.Offset < o.durable {
			res.damage = bad
			return res, nil
		}
		damage, err := followedByData(r, bad, end, epoch, res.lastEpoch, res.lastOffset, o)
		if err != nil {
			return res, err
		}
		if damage != nil {
			res.damage = damage
		} else {
			res.end = bad
		}
		return res, nil
	}
}

// keep accounts for a frame taken as part of the log; withEpoch says whether its epoch counts as the
// highest seen (not for a frame whose epoch field is damaged).
func (res *tailResult) keep(p int64, h segment.BatchHeader, o tailOptions, withEpoch bool) error {
	if o.onBatch != nil {
		if err := o.onBatch(p, h); err != nil {
			return err
		}
	}
	res.validEnd = p + h.FrameSize()
	res.batches++
	res.records += int64(h.NumRecords)
	if res.firstOffset < 0 {
		res.firstOffset = h.BaseOffset
	}
	res.lastOffset = h.LastOffset()
	if withEpoch {
		res.lastEpoch = max(res.lastEpoch, h.PartitionLeaderEpoch)
	}
	res.maxTimestamp = max(res.maxTimestamp, h.MaxTimestamp)
	return nil
}

// oddEpochIsData decides about a frame at pos that is valid but for its epoch: it is data (keep) when it is
// durable, when its epoch is newer than the tail's (a stale frame is older), or when a valid frame of the
// tail's epoch follows it; otherwise it is stale.
func (res *tailResult) oddEpochIsData(r io.ReaderAt, pos, end int64, h *segment.BatchHeader, epoch int32, o tailOptions) (bool, error) {
	want := epoch
	if want == anyEpoch {
		want = res.lastEpoch
	}
	if pos < o.durable || h.PartitionLeaderEpoch > want {
		return true, nil
	}
	_, _, found, err := segment.FindFrame(r, pos+h.FrameSize(), end, segment.FindOptions{
		Limits: o.limits, StopAtZeroSector: true,
		Accept: func(c *segment.BatchHeader) bool {
			return c.PartitionLeaderEpoch >= want && c.BaseOffset > h.LastOffset()
		},
	})
	if errors.Is(err, segment.ErrSearchBudget) {
		return true, nil // cannot tell: keep, never cut
	}
	return found, err
}

// followedByData returns damage when a valid frame of the tail's epoch, with an offset after the last
// valid one, follows the bad frame bad, and what lies between them is not the trace of lost writes; nil
// when bad may be the end of what was written.
func followedByData(r io.ReaderAt, bad *segment.CorruptionError, end int64, epoch, lastEpoch int32, lastOffset int64, o tailOptions) (*segment.CorruptionError, error) {
	want := epoch
	if want == anyEpoch {
		want = lastEpoch // (anyEpoch without batches: any epoch)
	}
	if o.ignoreEpochs {
		want = anyEpoch
	}
	pos, h, found, err := segment.FindFrame(r, bad.Offset+1, end, segment.FindOptions{
		Limits: o.limits, StopAtZeroSector: true,
		Accept: func(c *segment.BatchHeader) bool {
			return c.PartitionLeaderEpoch >= want && c.BaseOffset > lastOffset &&
				(o.nextOffset < 0 || lastOffset >= 0 || c.BaseOffset >= o.nextOffset)
		},
	})
	switch {
	case errors.Is(err, segment.ErrSearchBudget):
		return &segment.CorruptionError{Path: bad.Path, Offset: bad.Offset,
			Err: fmt.Errorf("%w (the bytes after it are too irregular to tell a torn write from damage)", bad.Err)}, nil
	case err != nil:
		return nil, err
	case !found:
		return nil, nil
	}
	lost, err := segment.LooksLikeLostWrite(r, bad.Offset, pos)
	if err != nil || lost {
		return nil, err
	}
	return &segment.CorruptionError{Path: bad.Path, Offset: bad.Offset,
		Err: fmt.Errorf("%w; a valid batch follows at byte %d (offset %d): damage, not a torn write", bad.Err, pos, h.BaseOffset)}, nil
}
