package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// FS is the filesystem; Dir the partition directory.
	FS  vfs.FS
	Dir string
	// StateKnown says that State was read from the index: State is then the saved state blob, or nil when
	// none was ever saved. Without it (no index, or a writer holds it) the segments are checked against each
	// other only, and an invalid frame at the end of the last segment is taken as not yet written.
	StateKnown bool
	State      []byte
	// Entries are the partition's sparse index entries, by offset; checked only when EntriesKnown.
	EntriesKnown bool
	Entries      []IndexEntry
	// Compacted allows gaps between the offsets of successive batches (offsets still strictly increase).
	Compacted bool
	// Limits bound frame sizes.
	Limits segment.Limits
	// IndexIntervalBytes is the spacing of the sparse entries Verify rebuilds (Report.Rebuilt).
	IndexIntervalBytes int
	// Progress, when set, is called after each valid batch with its size in bytes.
	Progress func(bytes int64)
}

// SegmentReport describes one segment file as Verify found it.
type SegmentReport struct {
	Path           string
	BaseOffset     int64 // from the file name
	Size           int64 // bytes in the file
	ValidEnd       int64 // bytes of valid frames from the start
	Batches        int64
	Records        int64
	FirstOffset    int64 // first record's offset, -1 when there are no batches
	LastOffset     int64 // last record's offset, -1 when there are no batches
	FirstTimestamp int64 // smallest batch base timestamp, -1 when there are no batches
	MaxTimestamp   int64 // largest timestamp, -1 when there are no batches
	NextOffset     int64 // offset after the segment's valid records (BaseOffset when empty)
	// Checked is false for a segment Verify did not scan: it comes after the damage, or it is a leftover
	// of an interrupted retention delete (Leftover).
	Checked  bool
	Leftover bool
	// ZeroTail says that the bytes from ValidEnd to Size are zeros (preallocated space).
	ZeroTail bool
}

// Report is what Verify found in one partition.
type Report struct {
	// Segments lists every segment file in order, leftovers included.
	Segments []SegmentReport
	// Batches, Records and Bytes count the valid batches scanned.
	Batches, Records, Bytes int64
	// NextOffset is the offset after the last valid record before any damage: the log is intact below it.
	NextOffset int64
	// MaxTimestamp and MaxEpoch are the largest timestamp and write epoch of the valid batches.
	MaxTimestamp int64
	MaxEpoch     int32
	// Damage is the first damage to durable data, nil when there is none: the log is valid up to it, and
	// repair cuts it there. It names the segment file and byte offset.
	Damage *segment.CorruptionError
	// DamageSegment is the index in Segments of the segment holding Damage (-1 without damage).
	DamageSegment int
	// TornTail is an invalid frame past the durable point, not durable data: the next Open cuts it (without
	// a known state: a frame not yet completely written). Nil when there is none.
	TornTail *segment.CorruptionError
	// TornSegment is the index in Segments of the segment holding TornTail (-1 without one).
	TornSegment int
	// Unexpected lists files in the directory that are not segments (Open rejects them).
	Unexpected []string
	// StateErr is set when the saved state blob could not be decoded.
	StateErr error
	// BadEpochs lists batches in durable data whose epoch is lower than the batch before: a damaged header
	// field that the CRC does not cover. They are not cut (their records are intact); repair raises the field.
	BadEpochs []BadEpoch
	// IndexMismatches describes sparse index entries that do not point at a batch of the log.
	IndexMismatches []string
	// Notes are remarks that are not problems (leftover temporary files, stale index entries past the end
	// of a log that was not closed cleanly).
	Notes []string
	// Rebuilt are the sparse index entries of the valid log, as recovery writes them.
	Rebuilt []IndexEntry

	state    durableState
	hasState bool
}

// Corrupt reports whether the partition has a problem that repair fixes: damaged durable data, an
// unexpected file, an undecodable state or sparse index entries that do not match the log.
func (r *Report) Corrupt() bool {
	return r.Damage != nil || len(r.Unexpected) > 0 || r.StateErr != nil || len(r.IndexMismatches) > 0 || len(r.BadEpochs) > 0
}

// BadEpoch is a batch of durable data whose partitionLeaderEpoch is lower than the batch before it.
type BadEpoch struct {
	Path     string
	Position int64 // byte position of the batch
	Epoch    int32 // the epoch found
	Previous int32 // the highest epoch before it
}

// Error describes the bad epoch as a corruption of its file at its position.
func (b BadEpoch) Error() error {
	return &segment.CorruptionError{Path: b.Path, Offset: b.Position,
		Err: fmt.Errorf("%w: epoch %d after %d in durable data (a header field the CRC does not cover)", segment.ErrBadEpoch, b.Epoch, b.Previous)}
}

// Verify checks one partition's log without writing anything: every frame's length, magic and CRC,
// offsets strictly increasing (and contiguous unless Compacted) within and across segments, each segment's
// name against its first batch, and, when the state is known, the closed segments' sizes and end offsets
// and the active segment's durable position (docs/FORMAT.md "Recovery"), then the sparse index entries.
// It stops at the first damage: the report says how far the log is intact. The error is for I/O failures.
func Verify(opts VerifyOptions) (*Report, error) {
	o := Options{FS: opts.FS, Dir: opts.Dir, Limits: opts.Limits, IndexIntervalBytes: opts.IndexIntervalBytes}
	o = o.withDefaults()
	v := &verifier{opts: opts, interval: int64(o.IndexIntervalBytes), limits: o.Limits}
	v.rep = &Report{DamageSegment: -1, TornSegment: -1, MaxTimestamp: -1, MaxEpoch: -1}
	if err := v.run(); err != nil {
		return nil, err
	}
	return v.rep, nil
}

type verifier struct {
	opts     VerifyOptions
	interval int64
	limits   segment.Limits
	rep      *Report

	nextEntry int   // index of the next sparse entry to match
	lastEntry int64 // position of the last rebuilt entry in the current segment

	position       int64 // the durable position in the segment being scanned, -1 when not the active one
	nextAtPosition int64 // the offset after the batch that ends at position, -1 when none does

	// Epochs: in durable data (before durable) a lower epoch than lastEpoch is a BadEpoch; past it, a frame
	// with an epoch below lastEpoch or tailMinEpoch is stale and ends the log (stale is its error).
	lastEpoch    int32
	durable      int64
	tailMinEpoch int32
	stale        *segment.CorruptionError
}

// errStaleFrame stops a scan at a stale frame; the frame's error is in verifier.stale.
var errStaleFrame = errors.New("stale frame")

func (v *verifier) run() error {
	fs, dir, rep := v.opts.FS, v.opts.Dir, v.rep
	names, err := fs.List(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mqlog/wal: list %s: %w", dir, err)
	}
	var bases []int64
	for _, name := range names {
		switch base, ok := segment.ParseFileName(name); {
		case ok:
			bases = append(bases, base)
		case strings.HasSuffix(name, fsutil.TempSuffix):
			rep.Notes = append(rep.Notes, fmt.Sprintf("leftover temporary file %s (the next open removes it)", fs.PathJoin(dir, name)))
		default:
			rep.Unexpected = append(rep.Unexpected, fs.PathJoin(dir, name))
		}
	}
	slices.Sort(bases)
	if v.opts.StateKnown && v.opts.State != nil {
		rep.state, rep.StateErr = decodeState(v.opts.State)
		rep.hasState = rep.StateErr == nil
	}
	st := &rep.state
	recordedClosed := map[int64]closedSegment{}
	if rep.hasState {
		for _, c := range st.closed {
			recordedClosed[c.base] = c
		}
	}
	// The chain of segments to check: present files plus recorded ones that are missing, in order.
	chain := slices.Clone(bases)
	if rep.hasState {
		for _, c := range st.closed {
			chain = append(chain, c.base)
		}
		if st.position > 0 || st.nextOffset > st.activeBase {
			chain = append(chain, st.activeBase)
		}
		slices.Sort(chain)
		chain = slices.Compact(chain)
	}
	present := map[int64]bool{}
	for _, b := range bases {
		present[b] = true
	}
	first := int64(math.MinInt64)
	if rep.hasState {
		first = st.activeBase
		if len(st.closed) > 0 {
			first = st.closed[0].base
		}
	}
	// The last segment holding data: an invalid frame before it is damage, not a torn tail.
	lastData := -1
	for i := len(chain) - 1; i >= 0 && lastData < 0; i-- {
		if present[chain[i]] && v.hasData(chain[i]) {
			lastData = i
		}
	}
	expect := int64(-1) // offset the next segment must start at; -1 before the first
	v.lastEpoch = math.MinInt32
	rep.NextOffset = -1
	for i, base := range chain {
		path := fs.PathJoin(dir, segment.FileName(base))
		sr := SegmentReport{Path: path, BaseOffset: base, FirstOffset: -1, LastOffset: -1, FirstTimestamp: -1, MaxTimestamp: -1, NextOffset: base}
		if base < first {
			sr.Leftover = true
			if info, err := fs.Stat(path); err == nil {
				sr.Size = info.Size()
			}
			rep.Segments = append(rep.Segments, sr)
			rep.Notes = append(rep.Notes, fmt.Sprintf("segment %s is older than the log's first recorded segment: left by an interrupted retention delete (the next open removes it)", path))
			continue
		}
		if rep.Damage != nil || rep.TornTail != nil {
			if present[base] {
				info, err := fs.Stat(path)
				if err != nil {
					return err
				}
				sr.Size = info.Size()
				rep.Segments = append(rep.Segments, sr)
			}
			continue
		}
		if !present[base] {
			if rep.NextOffset < 0 {
				rep.NextOffset = base
			}
			rep.Damage = &segment.CorruptionError{Path: path, Offset: 0, Err: fmt.Errorf("%w: recorded in the durable state", ErrMissingSegment)}
			rep.DamageSegment = len(rep.Segments) // the next present segment, if any, is where repair cuts
			if i+1 < len(chain) && present[chain[i+1]] {
				// A file renamed above its first batch looks like a missing segment and an unknown one.
				next := fs.PathJoin(dir, segment.FileName(chain[i+1]))
				if first, ok := v.firstBase(next); ok && first == base {
					rep.Damage = &segment.CorruptionError{Path: next, Offset: 0, Err: fmt.Errorf(
						"%w: file name %d is greater than its first batch's base offset %d", segment.ErrBadOffset, chain[i+1], first)}
				}
			}
			continue
		}
		if rep.NextOffset < 0 {
			rep.NextOffset = base
		}
		if expect >= 0 && (base < expect || !v.opts.Compacted && base != expect) {
			err := fmt.Errorf("%w: segment named %d follows a segment that ends at offset %d (a segment is missing before it)", segment.ErrBadOffset, base, expect)
			if base < expect {
				err = fmt.Errorf("%w: segment named %d overlaps the segment before, which ends at offset %d", segment.ErrBadOffset, base, expect)
			} else if first, ok := v.firstBase(path); ok && first < base {
				err = fmt.Errorf("%w: file name %d is greater than its first batch's base offset %d", segment.ErrBadOffset, base, first)
			}
			rep.Damage = &segment.CorruptionError{Path: path, Offset: 0, Err: err}
			rep.DamageSegment = len(rep.Segments)
			v.appendUnchecked(&sr)
			continue
		}
		dataAfter := lastData > i
		rec, isClosed := recordedClosed[base]
		durable := int64(0) // bytes of this segment that are durable: damage before it is corruption
		switch {
		case rep.hasState && isClosed:
			durable = rec.size
		case rep.hasState && base == st.activeBase:
			durable = st.position
		case rep.hasState && base > st.activeBase:
			durable = 0 // a roll whose state was not saved yet
		case !rep.hasState && dataAfter:
			durable = math.MaxInt64 // a closed segment
		}
		v.position, v.nextAtPosition = -1, -1
		if rep.hasState && base == st.activeBase {
			v.position = st.position
		}
		v.durable, v.tailMinEpoch = durable, math.MinInt32
		if rep.hasState && base >= st.activeBase {
			v.tailMinEpoch = st.epoch // frames past the durable point were written under the recorded epoch
		}
		res, err := v.scan(&sr)
		if err != nil {
			return err
		}
		rep.MaxEpoch = max(rep.MaxEpoch, v.lastEpoch)
		rep.NextOffset = sr.NextOffset
		expect = sr.NextOffset
		if isClosed && v.opts.Compacted && rec.nextOffset > expect {
			expect = rec.nextOffset // compaction may have removed the segment's last records
		}
		stop := res.Stop
		if errors.Is(stop, segment.ErrZeroTail) {
			stop, sr.ZeroTail = nil, true
			if rep.hasState && isClosed {
				stop = &segment.CorruptionError{Path: path, Offset: sr.ValidEnd, Err: fmt.Errorf("%w: zero bytes in a closed segment", segment.ErrBadLength)}
			}
		}
		var damage *segment.CorruptionError
		if stop != nil {
			corrupt := stop.(*segment.CorruptionError)
			if corrupt.Offset < durable || dataAfter {
				damage = corrupt
			} else {
				rep.TornTail = corrupt
				rep.TornSegment = len(rep.Segments)
			}
		}
		if damage == nil && rep.hasState {
			damage = v.checkAgainstState(&sr, isClosed, rec)
		}
		if damage != nil {
			rep.Damage = damage
			rep.DamageSegment = len(rep.Segments)
		}
		rep.Segments = append(rep.Segments, sr)
	}
	if rep.NextOffset < 0 {
		rep.NextOffset = 0
		if rep.hasState {
			rep.NextOffset = st.nextOffset
		}
	}
	v.checkRemainingEntries()
	return nil
}

// firstBase returns the base offset field of the first frame of the file at path (not CRC-covered: a
// diagnosis only).
func (v *verifier) firstBase(path string) (int64, bool) {
	f, err := v.opts.FS.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:])), true
}

// appendUnchecked adds a segment that is not scanned because the damage is at its start.
func (v *verifier) appendUnchecked(sr *SegmentReport) {
	if info, err := v.opts.FS.Stat(sr.Path); err == nil {
		sr.Size = info.Size()
	}
	v.rep.Segments = append(v.rep.Segments, *sr)
}

// checkAgainstState compares a cleanly scanned segment with the durable state: a closed segment's size and
// end offset, the active segment's durable position.
func (v *verifier) checkAgainstState(sr *SegmentReport, isClosed bool, rec closedSegment) *segment.CorruptionError {
	st := &v.rep.state
	switch {
	case isClosed && sr.Size != rec.size:
		return &segment.CorruptionError{Path: sr.Path, Offset: min(sr.Size, rec.size),
			Err: fmt.Errorf("%w: closed segment is %d bytes, recorded %d", segment.ErrTruncated, sr.Size, rec.size)}
	case isClosed && (sr.NextOffset > rec.nextOffset || !v.opts.Compacted && sr.NextOffset != rec.nextOffset):
		return &segment.CorruptionError{Path: sr.Path, Offset: sr.ValidEnd,
			Err: fmt.Errorf("%w: closed segment ends at offset %d, recorded %d", segment.ErrBadOffset, sr.NextOffset, rec.nextOffset)}
	case sr.BaseOffset == st.activeBase && sr.ValidEnd < st.position:
		return &segment.CorruptionError{Path: sr.Path, Offset: sr.ValidEnd,
			Err: fmt.Errorf("%w: valid data ends at byte %d, recorded durable up to byte %d", segment.ErrTruncated, sr.ValidEnd, st.position)}
	case sr.BaseOffset == st.activeBase && st.position > 0 && v.nextAtPosition < 0:
		return &segment.CorruptionError{Path: sr.Path, Offset: st.position,
			Err: fmt.Errorf("%w: recorded durable position %d is not at a batch boundary", segment.ErrBadLength, st.position)}
	case sr.BaseOffset == st.activeBase && st.position > 0 && v.nextAtPosition != st.nextOffset:
		return &segment.CorruptionError{Path: sr.Path, Offset: st.position,
			Err: fmt.Errorf("%w: offset %d at the recorded durable position, recorded %d", segment.ErrBadOffset, v.nextAtPosition, st.nextOffset)}
	}
	return nil
}

// hasData reports whether the segment named base holds a byte that is not zero.
func (v *verifier) hasData(base int64) bool {
	l := &Log{opts: Options{FS: v.opts.FS}}
	blank, err := l.isBlank(v.opts.FS.PathJoin(v.opts.Dir, segment.FileName(base)))
	return err == nil && !blank
}

// scan validates one segment from its start, filling sr, and matches and rebuilds sparse entries.
func (v *verifier) scan(sr *SegmentReport) (segment.ScanResult, error) {
	f, err := v.opts.FS.Open(sr.Path)
	if err != nil {
		return segment.ScanResult{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return segment.ScanResult{}, err
	}
	sr.Size = info.Size()
	sr.Checked = true
	rep := v.rep
	v.lastEntry = -v.interval
	if rep.Batches == 0 && v.opts.EntriesKnown {
		// Entries below the first segment describe segments that retention deleted.
		for v.nextEntry < len(v.opts.Entries) && v.opts.Entries[v.nextEntry].Offset < sr.BaseOffset {
			v.nextEntry++
		}
	}
	// Epochs are judged by Verify itself: a lower epoch in durable data is a damaged header field to report
	// and fix, not the end of the log.
	opts := segment.ScanOptions{Path: sr.Path, Limits: v.limits, NextOffset: sr.BaseOffset, Contiguous: !v.opts.Compacted, IgnoreEpochs: true}
	res, err := segment.Scan(f, 0, sr.Size, opts, func(pos int64, h segment.BatchHeader) error {
		switch epoch := h.PartitionLeaderEpoch; {
		case pos >= v.durable && epoch < max(v.lastEpoch, v.tailMinEpoch):
			v.stale = &segment.CorruptionError{Path: sr.Path, Offset: pos,
				Err: fmt.Errorf("%w: epoch %d after %d", segment.ErrBadEpoch, epoch, max(v.lastEpoch, v.tailMinEpoch))}
			return errStaleFrame
		case epoch < v.lastEpoch:
			rep.BadEpochs = append(rep.BadEpochs, BadEpoch{Path: sr.Path, Position: pos, Epoch: epoch, Previous: v.lastEpoch})
		default:
			v.lastEpoch = epoch
		}
		rep.MaxTimestamp = max(rep.MaxTimestamp, h.MaxTimestamp)
		if pos-v.lastEntry >= v.interval {
			rep.Rebuilt = append(rep.Rebuilt, IndexEntry{Offset: h.BaseOffset, Position: pos, Timestamp: rep.MaxTimestamp})
			v.lastEntry = pos
		}
		v.matchEntries(sr.Path, pos, h.BaseOffset)
		if pos+h.FrameSize() == v.position {
			v.nextAtPosition = h.LastOffset() + 1
		}
		if sr.FirstTimestamp < 0 || h.BaseTimestamp < sr.FirstTimestamp {
			sr.FirstTimestamp = h.BaseTimestamp
		}
		rep.Batches++
		rep.Records += int64(h.NumRecords)
		rep.Bytes += h.FrameSize()
		if v.opts.Progress != nil {
			v.opts.Progress(h.FrameSize())
		}
		return nil
	})
	if errors.Is(err, errStaleFrame) {
		err, res.Stop = nil, v.stale
	}
	if err != nil {
		return res, fmt.Errorf("mqlog/wal: verify %s: %w", sr.Path, err)
	}
	sr.ValidEnd = res.ValidEnd
	sr.Batches = int64(res.Batches)
	sr.Records = res.Records
	sr.FirstOffset, sr.LastOffset, sr.MaxTimestamp = res.FirstOffset, res.LastOffset, res.MaxTimestamp
	if res.Batches > 0 {
		sr.NextOffset = res.LastOffset + 1
	}
	return res, nil
}

// matchEntries checks the sparse entries up to the batch at pos in path whose base offset is base.
func (v *verifier) matchEntries(path string, pos, base int64) {
	if !v.opts.EntriesKnown {
		return
	}
	es := v.opts.Entries
	for ; v.nextEntry < len(es) && es[v.nextEntry].Offset <= base; v.nextEntry++ {
		e := es[v.nextEntry]
		switch {
		case e.Offset < base:
			v.rep.IndexMismatches = append(v.rep.IndexMismatches,
				fmt.Sprintf("sparse entry for offset %d (byte %d): no batch starts at that offset", e.Offset, e.Position))
		case e.Position != pos:
			v.rep.IndexMismatches = append(v.rep.IndexMismatches,
				fmt.Sprintf("sparse entry for offset %d points at byte %d; the batch is at byte %d of %s", e.Offset, e.Position, pos, path))
		}
	}
}

// checkRemainingEntries looks at the entries past the last valid batch.
func (v *verifier) checkRemainingEntries() {
	if !v.opts.EntriesKnown {
		return
	}
	rep := v.rep
	stale := 0
	for _, e := range v.opts.Entries[v.nextEntry:] {
		if e.Offset < rep.NextOffset {
			rep.IndexMismatches = append(rep.IndexMismatches,
				fmt.Sprintf("sparse entry for offset %d (byte %d): no batch starts at that offset", e.Offset, e.Position))
			continue
		}
		stale++
	}
	switch {
	case stale == 0, rep.Damage != nil:
		// Past damage, repair rebuilds the index anyway.
	case rep.hasState && rep.state.clean && rep.TornTail == nil:
		rep.IndexMismatches = append(rep.IndexMismatches,
			fmt.Sprintf("%d sparse entries past the end of the log (offset %d)", stale, rep.NextOffset))
	default:
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d sparse entries past the end of the log (offset %d); the next open deletes them", stale, rep.NextOffset))
	}
}
