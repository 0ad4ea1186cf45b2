package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// Kinds of RepairAction.
const (
	ActionCut    = "cut"    // copy the file aside, then trim it to Offset bytes (nothing valid after them)
	ActionTrim   = "trim"   // trim preallocated zero bytes past Offset (nothing to save)
	ActionExcise = "excise" // copy the file aside, then drop its bytes [Offset, End): the batches after them stay
	ActionFill   = "fill"   // an empty batch stands for offsets whose records were lost (FromOffset to ToOffset)
	ActionRename = "rename" // give a segment the name of its first batch's base offset (Path: the new name)
	ActionEpoch  = "epoch"  // copy the file aside, then restore the epoch field of the batch at Offset
	ActionMove   = "move"   // move the file aside (rename into the lost+found directory)
	ActionCreate = "create" // create an empty active segment
	ActionState  = "state"  // rewrite the durable state to match what is kept
	ActionIndex  = "index"  // rebuild the sparse index entries from the kept segments
)

// RepairAction is one step of a repair plan.
type RepairAction struct {
	Kind   string // one of the Action constants
	Path   string // the file it applies to (empty for state and index)
	Offset int64  // ActionCut, ActionTrim: bytes kept; ActionExcise: first byte dropped; ActionEpoch: the batch's position
	End    int64  // ActionExcise: the byte after the last one dropped (where the next valid batch starts)
	Epoch  int32  // ActionEpoch: the new epoch
	// FromOffset and ToOffset are the offsets ActionFill's empty batch spans (both included).
	FromOffset, ToOffset int64
	// From is ActionRename's old path.
	From   string
	Detail string // what and why, in words
}

// String describes the action in one line.
func (a RepairAction) String() string {
	switch a.Kind {
	case ActionCut:
		return fmt.Sprintf("cut %s at byte %d (%s)", a.Path, a.Offset, a.Detail)
	case ActionTrim:
		return fmt.Sprintf("trim %s to byte %d (%s)", a.Path, a.Offset, a.Detail)
	case ActionExcise:
		return fmt.Sprintf("drop bytes %d to %d of %s (%s); the batches after them keep their offsets", a.Offset, a.End, a.Path, a.Detail)
	case ActionFill:
		return fmt.Sprintf("put an empty batch for offsets %d to %d in %s (%s)", a.FromOffset, a.ToOffset, a.Path, a.Detail)
	case ActionRename:
		return fmt.Sprintf("rename %s to %s (%s)", a.From, a.Path, a.Detail)
	case ActionEpoch:
		return fmt.Sprintf("set the epoch of the batch at byte %d of %s (%s)", a.Offset, a.Path, a.Detail)
	case ActionMove:
		return fmt.Sprintf("move %s aside (%s)", a.Path, a.Detail)
	case ActionCreate:
		return fmt.Sprintf("create empty segment %s (%s)", a.Path, a.Detail)
	}
	return a.Detail
}

// RepairOptions configure Repair.
type RepairOptions struct {
	// FS and Dir: the partition's directory.
	FS  vfs.FS
	Dir string
	// Index receives the new durable state and sparse entries. Required with Execute.
	Index Index
	// LostDir is where cut and moved files go (created when needed), for example
	// <data>/lost+found/<topic>-<partition>. Nothing is deleted.
	LostDir string
	// Execute carries the plan out; without it Repair only plans.
	Execute bool
	// Limits bound frame sizes.
	Limits segment.Limits
}

// RepairPlan is what Repair does (or did, with Execute) to one partition.
type RepairPlan struct {
	Actions []RepairAction
	// NextOffset is the offset after the last record the log keeps (and the offset the next append gets).
	NextOffset int64
	// Lost is the number of segment bytes moved out of the log (dropped damaged bytes, cut tails, moved
	// segments); copies of the originals are in LostDir.
	Lost int64

	state    durableState
	rebuilt  []IndexEntry
	create   string
	rewrites map[string][]piece // the new content of rewritten segments
	order    []string           // rewritten paths in log order
}

// piece is part of a rewritten segment: the bytes [from, to) of the file src (the segment's own file when
// empty), or an empty batch.
type piece struct {
	src      string
	from, to int64
	empty    []byte
	next     int64 // for an empty batch: the offset after the offsets it spans
}

// piecesSize returns the bytes pieces make.
func piecesSize(pieces []piece) int64 {
	var n int64
	for _, p := range pieces {
		if p.empty != nil {
			n += int64(len(p.empty))
		} else {
			n += p.to - p.from
		}
	}
	return n
}

// Repair plans, and with Execute carries out, the repair of a partition that Verify reported on (rep must
// come from Verify with the state known). It removes only what is damaged, and never an acknowledged batch
// that is intact: from the first damage on, every segment is read again and, within each, the damaged bytes
// are dropped up to the next valid batch, which keeps its offset; an empty batch (as Kafka's cleaner leaves)
// stands for the offsets whose records were lost, so that offsets stay contiguous and none is handed out
// twice. A segment missing from the middle of the log is replaced by one holding such an empty batch; a
// segment named above its first batch is renamed; an epoch field out of order is restored. What cannot be
// placed (segments that overlap others, unexpected files, links) is moved into LostDir, and every segment
// that is changed is first copied there, with a note (REPAIR-<time>.txt) of what was done. Then the durable
// state is rewritten to describe exactly the kept segments and the sparse index is rebuilt, so that Open
// accepts the directory. A torn tail past the durable point is cut, as Open would. A partition without
// problems gets an empty plan.
//
// Each step is durable before the next (copies fsynced before anything is changed, replacements written
// to a temporary file, fsynced and renamed, the state synced); a crash in between leaves a directory that
// a second Verify and Repair finish.
func Repair(rep *Report, opts RepairOptions) (*RepairPlan, error) {
	if rep.CutPending && opts.Execute {
		return nil, ErrCutPending
	}
	plan, err := planRepair(rep, opts)
	if err != nil || !opts.Execute || len(plan.Actions) == 0 {
		return plan, err
	}
	if opts.Index == nil {
		return nil, errors.New("mqlog/wal: Repair needs Options.Index to execute")
	}
	return plan, executeRepair(plan, rep, opts)
}

// slot is one segment of the log as repair places it: a file Verify listed, or a recorded one that is gone.
type slot struct {
	base    int64
	report  *SegmentReport // nil for a missing segment
	missing bool
}

func planRepair(rep *Report, opts RepairOptions) (*RepairPlan, error) {
	plan := &RepairPlan{NextOffset: rep.NextOffset, rewrites: map[string][]piece{}}
	if !rep.Corrupt() && rep.TornTail == nil && len(rep.BadEpochs) == 0 {
		return plan, nil
	}
	fs := opts.FS
	zone := len(rep.Segments) // segments from here on are read again
	switch {
	case rep.Damage != nil:
		zone = rep.DamageSegment
	case rep.TornTail != nil:
		zone = rep.TornSegment
	}
	slots := repairSlots(rep)
	zoneStart := int64(math.MaxInt64) // segments named from here on are read again
	if zone < len(rep.Segments) {
		zoneStart = rep.Segments[zone].BaseOffset
	}
	for _, sl := range slots {
		if sl.missing {
			zoneStart = min(zoneStart, sl.base)
		}
	}
	var kept []SegmentReport
	r := &zoneRepair{plan: plan, rep: rep, opts: opts, fs: fs, expect: -1, maxTs: -1, epoch: max(rep.state.epoch, rep.MaxEpoch, 0),
		lastEpoch: max(rep.MaxEpoch, 0)}
	for _, sl := range slots {
		if sl.report != nil && sl.report.Leftover {
			continue
		}
		if sl.base < zoneStart {
			sr := *sl.report
			if sr.Checked && sr.ZeroTail {
				plan.Actions = append(plan.Actions, RepairAction{Kind: ActionTrim, Path: sr.Path, Offset: sr.ValidEnd,
					Detail: fmt.Sprintf("%d zero bytes of preallocated space", sr.Size-sr.ValidEnd)})
				sr.Size = sr.ValidEnd
			}
			kept = append(kept, sr)
			r.expect, r.maxTs, r.last = sr.NextOffset, max(r.maxTs, sr.MaxTimestamp), sr
			continue
		}
		if sr, ok, err := r.place(sl, slots); err != nil {
			return nil, err
		} else if ok {
			kept = append(kept, sr)
			r.last = sr
		}
	}
	r.fillToRecordedEnd(kept)
	// Empty batches added to a segment after it was placed (offsets lost before the next one) change it.
	for i := range kept {
		if pieces := plan.rewrites[kept[i].Path]; pieces != nil {
			kept[i].Size = piecesSize(pieces)
			kept[i].ValidEnd = kept[i].Size
			for _, p := range pieces {
				if p.empty != nil {
					kept[i].NextOffset = max(kept[i].NextOffset, p.next)
				}
			}
		}
	}
	for _, b := range rep.BadEpochs {
		for _, k := range kept {
			if k.Path == b.Path && b.Position < k.Size && plan.rewrites[k.Path] == nil {
				plan.Actions = append(plan.Actions, RepairAction{Kind: ActionEpoch, Path: b.Path, Offset: b.Position, Epoch: b.Previous,
					Detail: fmt.Sprintf("from %d, out of order after %d, to %d", b.Epoch, b.Previous, b.Previous)})
			}
		}
	}
	for _, path := range rep.Unexpected {
		plan.Actions = append(plan.Actions, RepairAction{Kind: ActionMove, Path: path, Detail: "not a segment file"})
	}
	for _, err := range rep.NotRegular {
		path := notRegularPath(err)
		plan.Actions = append(plan.Actions, RepairAction{Kind: ActionMove, Path: path, Detail: "not a regular file (moved, never followed)"})
	}

	// The new durable state describes exactly the kept segments.
	st := durableState{clean: true, epoch: r.epoch}
	if len(kept) == 0 {
		base := max(r.expect, rep.NextOffset, 0)
		plan.create = fs.PathJoin(opts.Dir, segment.FileName(base))
		plan.Actions = append(plan.Actions, RepairAction{Kind: ActionCreate, Path: plan.create, Detail: "no segment is left"})
		kept = append(kept, SegmentReport{Path: plan.create, BaseOffset: base, NextOffset: base, MaxTimestamp: -1})
	}
	maxTs := int64(-1)
	for i, sr := range kept {
		maxTs = max(maxTs, sr.MaxTimestamp)
		if i < len(kept)-1 {
			st.closed = append(st.closed, closedSegment{base: sr.BaseOffset, size: sr.Size, nextOffset: sr.NextOffset, maxTimestamp: maxTs})
			continue
		}
		st.activeBase, st.position, st.nextOffset = sr.BaseOffset, sr.Size, sr.NextOffset
	}
	st.startOffset = min(max(rep.state.startOffset, kept[0].BaseOffset), st.nextOffset)
	plan.state = st
	plan.NextOffset = st.nextOffset
	// Entries of segments that are not rewritten still point at their batches; the others are rebuilt by
	// readers (an entry is a hint) and by the next recovery.
	for _, e := range rep.Rebuilt {
		if e.Offset < st.nextOffset && e.Offset < r.firstRewritten() {
			plan.rebuilt = append(plan.rebuilt, e)
		}
	}
	plan.Actions = append(plan.Actions,
		RepairAction{Kind: ActionState, Detail: fmt.Sprintf("record the durable state: closed segments %d, active segment %s of %d bytes, next offset %d",
			len(st.closed), segment.FileName(st.activeBase), st.position, st.nextOffset)},
		RepairAction{Kind: ActionIndex, Detail: fmt.Sprintf("rebuild the sparse index (%d %s)", len(plan.rebuilt), map[bool]string{true: "entry", false: "entries"}[len(plan.rebuilt) == 1])})
	return plan, nil
}

// pathOf returns the path of a corruption, or "" for nil.
func pathOf(c *segment.CorruptionError) string {
	if c == nil {
		return ""
	}
	return c.Path
}

// notRegularPath returns the path an ErrNotRegular error names (the text before ": not a regular file").
func notRegularPath(err error) string {
	msg := strings.TrimPrefix(err.Error(), "mqlog/wal: segment ")
	if i := strings.Index(msg, ": "+fsutil.ErrNotRegular.Error()); i >= 0 {
		return msg[:i]
	}
	return msg
}

// repairSlots lists the log's segments in order, with the recorded ones that are missing in their place.
func repairSlots(rep *Report) []slot {
	var slots []slot
	have := map[int64]bool{}
	for i := range rep.Segments {
		slots = append(slots, slot{base: rep.Segments[i].BaseOffset, report: &rep.Segments[i]})
		have[rep.Segments[i].BaseOffset] = true
	}
	if rep.hasState {
		recorded := []int64{}
		for _, c := range rep.state.closed {
			recorded = append(recorded, c.base)
		}
		if rep.state.position > 0 || rep.state.nextOffset > rep.state.activeBase {
			recorded = append(recorded, rep.state.activeBase)
		}
		for _, b := range recorded {
			if !have[b] {
				slots = append(slots, slot{base: b, missing: true})
			}
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(a.base, b.base) })
	return slots
}

// zoneRepair places the segments from the first damage on.
type zoneRepair struct {
	plan      *RepairPlan
	rep       *Report
	opts      RepairOptions
	fs        vfs.FS
	expect    int64 // the offset the next kept batch continues from; -1 before any
	maxTs     int64
	epoch     int32 // the epoch of empty batches
	lastEpoch int32
	renamed   map[int64]bool
	first     int64         // first offset of the first rewritten segment, -1 before any
	last      SegmentReport // the last segment kept so far
}

func (r *zoneRepair) firstRewritten() int64 {
	if len(r.plan.order) == 0 {
		return math.MaxInt64
	}
	return r.first
}

// place decides about one slot: the segment kept as it is or rewritten (ok), or moved aside.
func (r *zoneRepair) place(sl slot, slots []slot) (SegmentReport, bool, error) {
	fs, dir := r.fs, r.opts.Dir
	if sl.missing {
		if r.renamed[sl.base] {
			return SegmentReport{}, false, nil
		}
		// A file named above its first batch may be this segment, renamed.
		for _, other := range slots {
			if other.report == nil || other.base <= sl.base || other.report.Leftover {
				continue
			}
			if first, ok := firstBaseOf(fs, other.report.Path); ok && first == sl.base {
				newPath := fs.PathJoin(dir, segment.FileName(sl.base))
				r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionRename, Path: newPath, From: other.report.Path,
					Detail: fmt.Sprintf("its first batch starts at offset %d", first)})
				if r.renamed == nil {
					r.renamed = map[int64]bool{}
				}
				r.renamed[other.base] = true
				moved := *other.report
				moved.Path, moved.BaseOffset = newPath, sl.base
				return r.rewrite(moved, other.report.Path)
			}
			break
		}
		// Recorded, gone: an empty batch stands for its offsets, up to the next segment's name.
		next := int64(-1)
		for _, other := range slots {
			if other.base > sl.base {
				next = other.base
				break
			}
		}
		if next < 0 {
			next = max(r.rep.state.nextOffset, sl.base+1)
		}
		path := fs.PathJoin(dir, segment.FileName(sl.base))
		from := max(sl.base, r.expect)
		pieces := []piece{}
		if next > from {
			pieces = append(pieces, r.empty(from, next-1, path, "the segment was missing"))
		}
		r.plan.rewrites[path] = pieces
		r.noteRewrite(path, sl.base)
		size := int64(segment.HeaderSize * len(pieces))
		r.expect = max(r.expect, next)
		return SegmentReport{Path: path, BaseOffset: sl.base, Size: size, ValidEnd: size, NextOffset: r.expect, MaxTimestamp: r.maxTs, Checked: true}, true, nil
	}
	if r.renamed[sl.base] {
		return SegmentReport{}, false, nil
	}
	sr := *sl.report
	if r.expect >= 0 && sl.base < r.expect {
		r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionMove, Path: sr.Path,
			Detail: fmt.Sprintf("%d bytes; named %d, it overlaps the offsets before it (the log is at %d)", sr.Size, sl.base, r.expect)})
		r.plan.Lost += sr.Size
		return SegmentReport{}, false, nil
	}
	return r.rewrite(sr, sr.Path)
}

// rewrite reads the segment at src again, as the segment sr describes (its name, where it will live),
// dropping damaged bytes up to the next valid batch and putting empty batches where offsets were lost.
func (r *zoneRepair) rewrite(sr SegmentReport, src string) (SegmentReport, bool, error) {
	f, err := fsutil.OpenRegular(r.fs, src)
	if err != nil {
		return SegmentReport{}, false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return SegmentReport{}, false, err
	}
	size := info.Size()
	if r.expect < 0 {
		r.expect = sr.BaseOffset
	}
	compacted := r.rep.compacted
	if !compacted && sr.BaseOffset > r.expect {
		// The segment starts after where the log is: the offsets in between were lost.
		if prev := r.last; prev.Path != "" {
			if r.plan.rewrites[prev.Path] == nil {
				r.plan.rewrites[prev.Path] = []piece{{from: 0, to: prev.Size}}
				r.noteRewrite(prev.Path, prev.BaseOffset)
			}
			r.plan.rewrites[prev.Path] = append(r.plan.rewrites[prev.Path], r.empty(r.expect, sr.BaseOffset-1, prev.Path, "records lost before the next segment"))
		}
		r.expect = sr.BaseOffset
	}
	var pieces []piece
	changed := false
	pos, runStart := int64(0), int64(0)
	torn := r.rep.TornTail
	for {
		var last int64 = -1
		res, err := segment.Scan(f, pos, size, segment.ScanOptions{Path: src, Limits: r.opts.Limits, NextOffset: r.expect, Contiguous: !compacted, IgnoreEpochs: true},
			func(p int64, h segment.BatchHeader) error {
				r.maxTs = max(r.maxTs, h.MaxTimestamp)
				r.lastEpoch = max(r.lastEpoch, h.PartitionLeaderEpoch)
				last = h.LastOffset()
				return nil
			})
		if err != nil {
			return SegmentReport{}, false, err
		}
		if last >= 0 {
			r.expect = last + 1
		}
		if res.Stop == nil || errors.Is(res.Stop, segment.ErrZeroTail) {
			pieces = append(pieces, piece{from: runStart, to: res.ValidEnd})
			if res.ValidEnd < size {
				changed = true
				if res.Stop == nil {
					break
				}
				r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionTrim, Path: sr.Path, Offset: res.ValidEnd,
					Detail: fmt.Sprintf("%d zero bytes of preallocated space", size-res.ValidEnd)})
			}
			break
		}
		bad := res.ValidEnd
		pieces = append(pieces, piece{from: runStart, to: bad})
		changed = true
		reason := res.Stop.(*segment.CorruptionError).Err.Error()
		var next int64
		found := false
		if torn == nil || torn.Path != src || torn.Offset != bad {
			next, _, found, err = segment.FindFrame(f, bad+1, size, segment.FindOptions{Limits: r.opts.Limits,
				Accept: func(h *segment.BatchHeader) bool { return h.BaseOffset >= r.expect }})
			if err != nil && !errors.Is(err, segment.ErrSearchBudget) {
				return SegmentReport{}, false, err
			}
		} else {
			reason = "torn tail past the durable point: " + reason
		}
		if !found {
			r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionCut, Path: sr.Path, Offset: bad,
				Detail: fmt.Sprintf("%d bytes from byte %d: %s", size-bad, bad, reason)})
			r.plan.Lost += size - bad
			break
		}
		r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionExcise, Path: sr.Path, Offset: bad, End: next, Detail: reason})
		r.plan.Lost += next - bad
		h, _ := headerAt(f, next)
		if h.BaseOffset > r.expect {
			pieces = append(pieces, r.empty(r.expect, h.BaseOffset-1, sr.Path, "records lost with the dropped bytes"))
			r.expect = h.BaseOffset
		}
		pos, runStart = next, next
	}
	if src != sr.Path {
		changed = true
	}
	newSize := piecesSize(pieces)
	if changed {
		r.plan.rewrites[sr.Path] = retarget(pieces, src)
		r.noteRewrite(sr.Path, sr.BaseOffset)
	}
	sr.Size, sr.ValidEnd, sr.NextOffset, sr.MaxTimestamp, sr.Checked, sr.ZeroTail = newSize, newSize, r.expect, r.maxTs, true, false
	return sr, true, nil
}

// retarget marks pieces copied from a file other than the one rewritten (a renamed segment).
func retarget(pieces []piece, src string) []piece {
	for i := range pieces {
		if pieces[i].empty == nil {
			pieces[i].src = src
		}
	}
	return pieces
}

// empty returns an empty batch for offsets from to to (both included) and records the action.
func (r *zoneRepair) empty(from, to int64, path, why string) piece {
	r.plan.Actions = append(r.plan.Actions, RepairAction{Kind: ActionFill, Path: path, FromOffset: from, ToOffset: to, Detail: why})
	var b []byte
	for at := from; at <= to; { // (an empty batch spans at most 2^31 offsets)
		n := min(to-at, math.MaxInt32-1)
		b = segment.AppendEmptyBatch(b, at, int32(n), max(r.lastEpoch, 0), max(r.maxTs, 0))
		at += n + 1
	}
	return piece{empty: b, next: to + 1}
}

func (r *zoneRepair) noteRewrite(path string, base int64) {
	if len(r.plan.order) == 0 {
		r.first = base
	}
	if !slices.Contains(r.plan.order, path) {
		r.plan.order = append(r.plan.order, path)
	}
}

// fillToRecordedEnd keeps the offsets the log had handed out: when what is kept ends before the end the
// durable state (or the index) recorded, an empty batch at the end of the last segment stands for the
// offsets in between, so that no offset is handed out twice.
func (r *zoneRepair) fillToRecordedEnd(kept []SegmentReport) {
	end := r.rep.ackedEnd
	if len(kept) == 0 || r.rep.compacted || end <= r.expect || r.rep.TornTail != nil && r.rep.Damage == nil {
		return
	}
	last := &kept[len(kept)-1]
	if r.plan.rewrites[last.Path] == nil {
		r.plan.rewrites[last.Path] = []piece{{from: 0, to: last.Size}}
		r.noteRewrite(last.Path, last.BaseOffset)
	}
	p := r.empty(r.expect, end-1, last.Path, "offsets handed out before the damage, whose records were lost")
	r.plan.rewrites[last.Path] = append(r.plan.rewrites[last.Path], p)
	r.expect = end
}

// headerAt parses the header of the frame at pos of f.
func headerAt(f io.ReaderAt, pos int64) (segment.BatchHeader, error) {
	b := make([]byte, segment.HeaderSize)
	if _, err := f.ReadAt(b, pos); err != nil {
		return segment.BatchHeader{}, err
	}
	return segment.ParseHeader(b)
}

// firstBaseOf returns the base offset field of the first frame of the file at path.
func firstBaseOf(fs vfs.FS, path string) (int64, bool) {
	f, err := fsutil.OpenRegular(fs, path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	h, err := headerAt(f, 0)
	return h.BaseOffset, err == nil
}

func executeRepair(plan *RepairPlan, rep *Report, opts RepairOptions) error {
	fs := opts.FS
	if err := fsutil.MkdirAllSynced(fs, opts.LostDir, 0o755); err != nil {
		return fmt.Errorf("mqlog/wal: create %s: %w", opts.LostDir, err)
	}
	var note strings.Builder
	fmt.Fprintf(&note, "mqlog repair of %s at %s\n\n", opts.Dir, time.Now().UTC().Format(time.RFC3339))
	if rep.Damage != nil {
		fmt.Fprintf(&note, "damage: %v\n", rep.Damage)
	}
	if rep.TornTail != nil {
		fmt.Fprintf(&note, "torn tail: %v\n", rep.TornTail)
	}
	fmt.Fprintf(&note, "the log now ends at offset %d\n\n", plan.NextOffset)
	// 1. Copies of everything that changes, and moves, into LostDir, each durable before anything changes.
	copied := map[string]bool{}
	keep := func(path string) error {
		if copied[path] {
			return nil
		}
		copied[path] = true
		if _, err := fs.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil // (a missing segment: nothing to keep)
		}
		dst, err := uniquePath(fs, opts.LostDir, fs.PathBase(path))
		if err != nil {
			return err
		}
		if err := copySynced(fs, path, dst); err != nil {
			return err
		}
		fmt.Fprintf(&note, "original %s copied to %s\n", path, dst)
		return nil
	}
	for _, a := range plan.Actions {
		switch a.Kind {
		case ActionCut, ActionExcise, ActionEpoch:
			if err := keep(a.Path); err != nil {
				return err
			}
		case ActionRename:
			if err := keep(a.From); err != nil {
				return err
			}
		case ActionMove:
			dst, err := uniquePath(fs, opts.LostDir, fs.PathBase(a.Path))
			if err != nil {
				return err
			}
			if err := fs.Rename(a.Path, dst); err != nil {
				return fmt.Errorf("mqlog/wal: move %s aside: %w", a.Path, err)
			}
			if err := fsutil.SyncDir(fs, opts.LostDir); err != nil {
				return err
			}
			if err := fsutil.SyncDir(fs, opts.Dir); err != nil {
				return err
			}
			fmt.Fprintf(&note, "%s\n  moved to %s\n", a, dst)
		}
	}
	for _, a := range plan.Actions {
		if a.Kind != ActionMove {
			fmt.Fprintf(&note, "%s\n", a)
		}
	}
	notePath, err := uniquePath(fs, opts.LostDir, "REPAIR-"+time.Now().UTC().Format("20060102T150405Z")+".txt")
	if err != nil {
		return err
	}
	if err := writeSynced(fs, notePath, []byte(note.String())); err != nil {
		return err
	}
	// 2. The epoch fields, the trims, the rewritten segments and the new empty segment.
	for _, a := range plan.Actions {
		if a.Kind == ActionEpoch {
			if err := writeEpoch(fs, a.Path, a.Offset, a.Epoch); err != nil {
				return err
			}
		}
	}
	for _, a := range plan.Actions {
		if a.Kind == ActionTrim && plan.rewrites[a.Path] == nil {
			if err := fsutil.TrimFile(fs, a.Path, a.Offset); err != nil {
				return fmt.Errorf("mqlog/wal: trim %s: %w", a.Path, err)
			}
		}
	}
	for _, path := range plan.order {
		if err := rewriteSegment(fs, path, plan.rewrites[path]); err != nil {
			return err
		}
	}
	for _, a := range plan.Actions {
		if a.Kind == ActionRename {
			if err := fsutil.RemoveSynced(fs, a.From); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if plan.create != "" {
		if err := writeSynced(fs, plan.create, nil); err != nil {
			return err
		}
	}
	// 3. The durable state, then the derived index.
	if err := opts.Index.SaveState(plan.state.encode()); err != nil {
		return fmt.Errorf("mqlog/wal: save state of %s: %w", opts.Dir, err)
	}
	if err := opts.Index.DeleteEntriesFrom(0); err != nil {
		return err
	}
	return opts.Index.AddEntries(plan.rebuilt)
}

// rewriteSegment writes the segment at path anew from pieces (of its old self, or of the file it is renamed
// from, and empty batches): into path+".tmp", fsynced, renamed over path, the directory fsynced.
func rewriteSegment(fs vfs.FS, path string, pieces []piece) error {
	tmp := path + fsutil.TempSuffix
	out, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	write := func() error {
		for _, p := range pieces {
			if p.empty != nil {
				if _, err := out.Write(p.empty); err != nil {
					return err
				}
				continue
			}
			src := p.src
			if src == "" {
				src = path
			}
			in, err := fsutil.OpenRegular(fs, src)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, io.NewSectionReader(in, p.from, p.to-p.from))
			in.Close()
			if err != nil {
				return err
			}
		}
		return out.Sync()
	}
	if err := write(); err != nil {
		out.Close()
		return fmt.Errorf("mqlog/wal: rewrite %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	return fsutil.SyncDir(fs, fs.PathDir(path))
}

// uniquePath returns dir/name, or dir/name.N for the first N that does not exist yet.
func uniquePath(fs vfs.FS, dir, name string) (string, error) {
	path := fs.PathJoin(dir, name)
	for n := 1; ; n++ {
		if _, err := fs.Stat(path); errors.Is(err, os.ErrNotExist) {
			return path, nil
		} else if err != nil {
			return "", err
		}
		path = fs.PathJoin(dir, fmt.Sprintf("%s.%d", name, n))
	}
}

// copySynced copies src to the new file dst, fsyncs it and its directory.
func copySynced(fs vfs.FS, src, dst string) error {
	in, err := fs.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fs.Create(dst, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("mqlog/wal: copy %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return fsutil.SyncDir(fs, fs.PathDir(dst))
}

// writeSynced creates path with data, fsyncs it and its directory.
func writeSynced(fs vfs.FS, path string, data []byte) error {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsutil.SyncDir(fs, fs.PathDir(path))
}

// writeEpoch sets the partitionLeaderEpoch field of the batch at pos in the file at path, and fsyncs it.
func writeEpoch(fs vfs.FS, path string, pos int64, epoch int32) error {
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	header := make([]byte, segment.HeaderSize)
	if _, err := f.ReadAt(header, pos); err != nil {
		f.Close()
		return fmt.Errorf("mqlog/wal: read %s at %d: %w", path, pos, err)
	}
	segment.SetEpoch(header, epoch)
	if _, err := f.WriteAt(header[epochField:epochField+4], pos+epochField); err != nil {
		f.Close()
		return fmt.Errorf("mqlog/wal: write %s at %d: %w", path, pos, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// epochField is the byte offset of partitionLeaderEpoch in a batch (docs/FORMAT.md).
const epochField = 12
