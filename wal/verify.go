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
	// NotRegular lists entries named like segments that are not regular files (symbolic links, directories):
	// never followed or read; each error wraps ErrNotRegular and names the path.
	NotRegular []error
	// Unrecorded lists segments that hold data in a partition whose index has no durable state for it (Open
	// refuses them with ErrNoState; repair records a state for what is valid).
	Unrecorded []string
	// CutPending says the saved state records a cut (TruncateFrom, Reset) committed but maybe not finished
	// on disk: Open finishes it, removing the segments after the recorded active one and the bytes past its
	// recorded position, which this report may count as part of the log.
	CutPending bool
	// StateErr is set when the saved state blob could not be decoded.
	StateErr error
	// BadEpochs lists batches whose epoch field is out of order (lower than the batch before, or, in the
	// tail, not the recorded epoch while valid batches of it follow): a damaged header field that the CRC
	// does not cover. Their records are intact and every reader reads them, so this is not corruption:
	// Verify notes them, and repair restores the field.
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
	// compacted is VerifyOptions.Compacted; ackedEnd the end of the offsets the state or the index says
	// were handed out (repair never hands them out again).
	compacted bool
	ackedEnd  int64
}

// Corrupt reports whether the partition has a problem that repair fixes: damaged data, an unexpected file
// or link, segments without a durable state, an undecodable state or sparse index entries that do not match
// the log. (A damaged epoch field is not: the records are intact; see BadEpochs.)
func (r *Report) Corrupt() bool {
	return r.Damage != nil || len(r.Unexpected) > 0 || len(r.NotRegular) > 0 || len(r.Unrecorded) > 0 ||
		r.StateErr != nil || len(r.IndexMismatches) > 0
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

	// lastEpoch is the highest epoch of the durable batches so far: a lower one is a BadEpoch.
	lastEpoch int32
	// paths maps a base offset to the file that holds it: "<base>.log", or the ".cleaned" file of a
	// committed compaction swap that Open will rename over it.
	paths map[int64]string
}

func (v *verifier) run() error {
	fs, rep := v.opts.FS, v.rep
	bases, cleaned, err := v.list()
	if err != nil {
		return err
	}
	if v.opts.StateKnown && v.opts.State != nil {
		rep.state, rep.StateErr = decodeState(v.opts.State)
		rep.hasState = rep.StateErr == nil
		rep.CutPending = rep.hasState && rep.state.cutPending
	}
	st := &rep.state
	bases = v.pendingSwap(bases, cleaned)
	if v.opts.StateKnown && v.opts.State == nil {
		for _, b := range bases {
			if v.hasData(b) {
				rep.Unrecorded = append(rep.Unrecorded, v.path(b))
			}
		}
	}
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
	mark := v.durableMark(chain)
	rep.compacted = v.opts.Compacted
	if rep.hasState {
		rep.ackedEnd = st.nextOffset
		if mark.segment >= 0 {
			rep.ackedEnd = max(rep.ackedEnd, mark.offset+1)
		}
	}
	expect := int64(-1) // offset the next segment must start at; -1 before the first
	v.lastEpoch = math.MinInt32
	rep.NextOffset = -1
	for i, base := range chain {
		path := v.path(base)
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
				if rep.TornTail != nil && rep.Damage == nil && !v.hasData(base) {
					rep.Notes = append(rep.Notes, fmt.Sprintf("empty segment %s after the end of the log (the next open removes it)", path))
				}
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
				next := v.path(chain[i+1])
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
			if !v.hasData(base) && i > lastData {
				// A blank segment past the end of the log: recovery removes it.
				rep.Notes = append(rep.Notes, fmt.Sprintf("empty segment %s after the end of the log (the next open removes it)", path))
				v.appendUnchecked(&sr)
				continue
			}
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
		// The part of the segment recovery trusts without reading (durable data), and where its tail starts.
		tailFrom, tailEpoch := int64(-1), int32(anyEpoch)
		switch {
		case rep.hasState && isClosed:
		case rep.hasState && base == st.activeBase:
			tailFrom, tailEpoch = st.position, st.epoch
		case rep.hasState && base > st.activeBase:
			tailFrom, tailEpoch = 0, st.epoch // a roll whose state was not saved yet
		case !rep.hasState && !dataAfter:
			tailFrom = 0 // without a state: the last segment with data may end in a frame not yet written
		}
		v.position, v.nextAtPosition = -1, -1
		if rep.hasState && base == st.activeBase {
			v.position = st.position
		}
		scan, err := v.scan(&sr, tailFrom, tailEpoch, mark.in(i-mark.first))
		if err != nil {
			return err
		}
		rep.MaxEpoch = max(rep.MaxEpoch, v.lastEpoch)
		rep.NextOffset = sr.NextOffset
		expect = sr.NextOffset
		if isClosed && v.opts.Compacted && rec.nextOffset > expect {
			expect = rec.nextOffset // compaction may have removed the segment's last records
		}
		damage := scan.damage
		if damage == nil && sr.ZeroTail && rep.hasState && isClosed {
			damage = &segment.CorruptionError{Path: path, Offset: sr.ValidEnd, Err: fmt.Errorf("%w: zero bytes in a closed segment", segment.ErrBadLength)}
		}
		if scan.end != nil {
			if dataAfter || i < mark.segment {
				damage = scan.end
			} else {
				rep.TornTail = scan.end
				rep.TornSegment = len(rep.Segments)
			}
		}
		if damage == nil && i == mark.segment && sr.ValidEnd <= mark.position {
			damage = &segment.CorruptionError{Path: path, Offset: sr.ValidEnd, Err: fmt.Errorf(
				"%w: valid data ends at byte %d, but the batch of offset %d at byte %d was recorded durable", segment.ErrTruncated, sr.ValidEnd, mark.offset, mark.position)}
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
	for _, b := range rep.BadEpochs {
		rep.Notes = append(rep.Notes, fmt.Sprintf("batch at byte %d of %s has epoch %d after %d: a damaged header field that the CRC does not cover; its records are intact and read (repair restores the field)", b.Position, b.Path, b.Epoch, b.Previous))
	}
	v.checkRemainingEntries()
	return nil
}

// list reads the partition directory: the bases of the segment files (regular files only; links and
// directories named like segments go to NotRegular), the ".cleaned" files by base, and what else is there.
func (v *verifier) list() (bases []int64, cleaned map[int64]string, err error) {
	fs, dir, rep := v.opts.FS, v.opts.Dir, v.rep
	names, err := fs.List(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("mqlog/wal: list %s: %w", dir, err)
	}
	cleaned = map[int64]string{}
	v.paths = map[int64]string{}
	for _, name := range names {
		path := fs.PathJoin(dir, name)
		if base, ok := segment.ParseFileName(strings.TrimSuffix(name, cleanedSuffix)); ok && strings.HasSuffix(name, cleanedSuffix) {
			cleaned[base] = path
			continue
		}
		switch base, ok := segment.ParseFileName(name); {
		case ok:
			if _, err := fsutil.CheckRegular(fs, path); errors.Is(err, fsutil.ErrNotRegular) {
				rep.NotRegular = append(rep.NotRegular, fmt.Errorf("mqlog/wal: segment %w", err))
				continue
			} else if err != nil {
				return nil, nil, err
			}
			bases = append(bases, base)
			v.paths[base] = path
		case strings.HasSuffix(name, fsutil.TempSuffix):
			rep.Notes = append(rep.Notes, fmt.Sprintf("leftover temporary file %s (the next open removes it)", path))
		default:
			rep.Unexpected = append(rep.Unexpected, path)
		}
	}
	slices.Sort(bases)
	return bases, cleaned, nil
}

// pendingSwap applies a compaction swap that the state records as committed, as Open would finish it: a
// ".cleaned" file that is still there stands for its segment, and a segment still there that the swap
// removes is left out. Other ".cleaned" files are the output of a swap never committed (Open removes
// them). Both are pending recovery, noted, not problems.
func (v *verifier) pendingSwap(bases []int64, cleaned map[int64]string) []int64 {
	rep := v.rep
	p := rep.state.swap
	if rep.hasState && !p.empty() {
		renamed := 0
		for _, b := range p.renamed {
			if path, ok := cleaned[b]; ok {
				v.paths[b] = path
				delete(cleaned, b)
				if !slices.Contains(bases, b) {
					bases = append(bases, b)
				}
				renamed++
			}
		}
		removed := 0
		for _, b := range p.removed {
			if i := slices.Index(bases, b); i >= 0 {
				bases = slices.Delete(bases, i, i+1)
				removed++
			}
		}
		slices.Sort(bases)
		if renamed+removed > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("a compaction's segment replacement is committed but not finished: the next open renames %d .cleaned file(s) into place and removes %d replaced segment(s) (checked as they will be)", renamed, removed))
		}
	}
	for _, path := range cleaned {
		rep.Notes = append(rep.Notes, fmt.Sprintf("leftover %s of a compaction that was interrupted before its commit (the next open removes it)", path))
	}
	return bases
}

// path returns the file that holds the segment named base.
func (v *verifier) path(base int64) string {
	if p, ok := v.paths[base]; ok {
		return p
	}
	return v.opts.FS.PathJoin(v.opts.Dir, segment.FileName(base))
}

// durableMark finds, as recovery does, the last sparse entry past the recorded durable point: the batch it
// names was fsynced (entries are stored after the fsync that covers them). first is the index in chain of
// the state's active segment, from which mark.segment counts.
func (v *verifier) durableMark(chain []int64) chainMark {
	rep := v.rep
	m := chainMark{durableMark: durableMark{segment: -1}}
	if !rep.hasState || !v.opts.EntriesKnown || len(v.opts.Entries) == 0 {
		return m
	}
	m.first = slices.Index(chain, rep.state.activeBase)
	e := v.opts.Entries[len(v.opts.Entries)-1]
	if m.first < 0 || e.Offset < rep.state.nextOffset {
		return m
	}
	for i := m.first; i < len(chain); i++ {
		if chain[i] <= e.Offset {
			m.segment = i
		}
	}
	if m.segment == m.first && e.Position < rep.state.position {
		m.segment = -1
		return m
	}
	m.position, m.offset = e.Position, e.Offset
	return m
}

// chainMark is a durableMark whose segment is an index in the chain of segments (first: the active one).
type chainMark struct {
	durableMark
	first int
}

// in returns the byte of the i-th segment of the chain (counted from first) before which a bad frame is
// damage; segments before first are durable as a whole anyway.
func (m chainMark) in(i int) int64 {
	if m.segment < 0 {
		return 0
	}
	return durableMark{segment: m.segment - m.first, position: m.position}.in(i)
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
	blank, err := l.isBlank(v.path(base))
	return err == nil && !blank
}

// segmentScan is how one segment's scan ended: damage (nothing may be cut), or the end of what was
// written in its tail (a torn or stale frame the next open cuts).
type segmentScan struct {
	damage *segment.CorruptionError
	end    *segment.CorruptionError
}

// scan validates one segment from its start, filling sr, and matches and rebuilds sparse entries. The bytes
// before tailFrom (all of them when it is -1) are durable data: any invalid frame there is damage, and an
// epoch that goes backwards is a BadEpoch. From tailFrom on, the frames are judged as recovery judges a
// tail (tailScan), with tailEpoch as the recorded epoch and durable as the known durable point.
func (v *verifier) scan(sr *SegmentReport, tailFrom int64, tailEpoch int32, durable int64) (segmentScan, error) {
	var out segmentScan
	f, err := fsutil.OpenRegular(v.opts.FS, sr.Path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return out, err
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
	// Epochs of durable data are judged here: a lower epoch is a damaged header field to report and fix,
	// not the end of the log; one above the recorded epoch is the damaged field itself. The first batch at
	// or past tailFrom stops this scan: the tail is judged by tailScan.
	tailAt := int64(-1)
	opts := segment.ScanOptions{Path: sr.Path, Limits: v.limits, NextOffset: sr.BaseOffset, Contiguous: !v.opts.Compacted, IgnoreEpochs: true}
	res, err := segment.Scan(f, 0, sr.Size, opts, func(pos int64, h segment.BatchHeader) error {
		if tailFrom >= 0 && pos >= tailFrom {
			tailAt = pos
			return errTailReached
		}
		switch epoch := h.PartitionLeaderEpoch; {
		case rep.hasState && epoch > rep.state.epoch:
			rep.BadEpochs = append(rep.BadEpochs, BadEpoch{Path: sr.Path, Position: pos, Epoch: epoch, Previous: max(v.lastEpoch, 0)})
		case epoch < v.lastEpoch:
			rep.BadEpochs = append(rep.BadEpochs, BadEpoch{Path: sr.Path, Position: pos, Epoch: epoch, Previous: v.lastEpoch})
		default:
			v.lastEpoch = epoch
		}
		v.account(sr, pos, h)
		return nil
	})
	if err != nil && !errors.Is(err, errTailReached) {
		return out, fmt.Errorf("mqlog/wal: verify %s: %w", sr.Path, err)
	}
	v.fill(sr, res.ValidEnd, res.Batches, res.Records, res.FirstOffset, res.LastOffset, res.MaxTimestamp)
	switch {
	case tailAt >= 0:
	case tailFrom >= 0 && res.Stop != nil && res.ValidEnd >= tailFrom:
		tailAt = res.ValidEnd // the tail starts with a bad frame or zeros: tailScan judges them
	case errors.Is(res.Stop, segment.ErrZeroTail):
		sr.ZeroTail = true
		return out, nil
	case res.Stop != nil:
		out.damage = res.Stop.(*segment.CorruptionError)
		return out, nil
	default:
		return out, nil
	}
	tailFrom = tailAt
	expect := sr.NextOffset
	if res.Batches == 0 {
		expect = sr.BaseOffset
	}
	tail, err := tailScan(f, tailFrom, sr.Size, tailOptions{
		path: sr.Path, limits: v.limits, nextOffset: expect, contiguous: !v.opts.Compacted,
		epoch: tailEpoch, lastEpoch: v.lastEpoch, durable: durable,
		onBatch: func(pos int64, h segment.BatchHeader) error {
			v.account(sr, pos, h)
			return nil
		},
	})
	if err != nil {
		return out, fmt.Errorf("mqlog/wal: verify %s: %w", sr.Path, err)
	}
	if tail.batches > 0 {
		v.lastEpoch = max(v.lastEpoch, tail.lastEpoch)
		first := sr.FirstOffset
		if first < 0 {
			first = tail.firstOffset
		}
		v.fill(sr, tail.validEnd, res.Batches+tail.batches, res.Records+tail.records, first, tail.lastOffset, max(res.MaxTimestamp, tail.maxTimestamp))
	}
	rep.BadEpochs = append(rep.BadEpochs, tail.badEpochs...)
	sr.ZeroTail = tail.zeroTail
	out.damage, out.end = tail.damage, tail.end
	return out, nil
}

// errTailReached stops the scan of durable data at the first batch of the tail.
var errTailReached = errors.New("tail reached")

// fill sets what the scan of a segment found.
func (v *verifier) fill(sr *SegmentReport, validEnd int64, batches int, records, first, last, maxTs int64) {
	sr.ValidEnd = validEnd
	sr.Batches = int64(batches)
	sr.Records = records
	sr.FirstOffset, sr.LastOffset, sr.MaxTimestamp = first, last, maxTs
	if batches > 0 {
		sr.NextOffset = last + 1
	}
}

// account adds a valid batch to the report: counts, timestamps, rebuilt and matched sparse entries.
func (v *verifier) account(sr *SegmentReport, pos int64, h segment.BatchHeader) {
	rep := v.rep
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
