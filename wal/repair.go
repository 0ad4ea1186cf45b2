package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/segment"
)

// Kinds of RepairAction.
const (
	ActionCut    = "cut"    // copy the file aside, then trim it to Offset bytes
	ActionTrim   = "trim"   // trim preallocated zero bytes past Offset (nothing to save)
	ActionEpoch  = "epoch"  // copy the file aside, then raise the epoch field of the batch at Offset
	ActionMove   = "move"   // move the file aside (rename into the lost+found directory)
	ActionCreate = "create" // create an empty active segment
	ActionState  = "state"  // rewrite the durable state to match what is kept
	ActionIndex  = "index"  // rebuild the sparse index entries from the kept segments
)

// RepairAction is one step of a repair plan.
type RepairAction struct {
	Kind   string // one of the Action constants
	Path   string // the file it applies to (empty for state and index)
	Offset int64  // ActionCut, ActionTrim: bytes kept; ActionEpoch: the batch's position
	Epoch  int32  // ActionEpoch: the new epoch
	Detail string // what and why, in words
}

// String describes the action in one line.
func (a RepairAction) String() string {
	switch a.Kind {
	case ActionCut:
		return fmt.Sprintf("cut %s at byte %d (%s)", a.Path, a.Offset, a.Detail)
	case ActionTrim:
		return fmt.Sprintf("trim %s to byte %d (%s)", a.Path, a.Offset, a.Detail)
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
}

// RepairPlan is what Repair does (or did, with Execute) to one partition.
type RepairPlan struct {
	Actions []RepairAction
	// NextOffset is the offset after the last record the log keeps.
	NextOffset int64
	// Lost is the number of valid-looking segment bytes moved out of the log (cut tails and moved segments).
	Lost int64

	state   durableState
	rebuilt []IndexEntry
	create  string
}

// Repair plans, and with Execute carries out, the repair of a partition that Verify reported on (rep must
// come from Verify with the state known). Like Kafka, it truncates the log at the first damage: the damaged
// segment is copied into LostDir and cut at its last valid batch, every later segment is moved into
// LostDir, unexpected files are moved there too, and a note (REPAIR-<time>.txt) says what was cut. Then the
// durable state is rewritten to describe exactly the kept segments and the sparse index is rebuilt, so that
// Open accepts the directory. A partition without problems gets an empty plan.
//
// Each step is durable before the next (copies fsynced before the cut, renames with directory fsyncs,
// the state synced); a crash in between leaves a directory that a second Verify and Repair finish.
func Repair(rep *Report, opts RepairOptions) (*RepairPlan, error) {
	plan := planRepair(rep, opts)
	if !opts.Execute || len(plan.Actions) == 0 {
		return plan, nil
	}
	if opts.Index == nil {
		return nil, errors.New("mqlog/wal: Repair needs Options.Index to execute")
	}
	return plan, executeRepair(plan, rep, opts)
}

func planRepair(rep *Report, opts RepairOptions) *RepairPlan {
	plan := &RepairPlan{NextOffset: rep.NextOffset}
	if !rep.Corrupt() && rep.TornTail == nil {
		return plan
	}
	// reason says why, for the segment where the log is cut; short names the damage without its file.
	cutIdx, reason, short := len(rep.Segments), "", ""
	switch {
	case rep.Damage != nil:
		cutIdx, reason, short = rep.DamageSegment, rep.Damage.Error(), rep.Damage.Err.Error()
	case rep.TornTail != nil:
		cutIdx, reason, short = rep.TornSegment, "torn tail: "+rep.TornTail.Error(), "torn tail: "+rep.TornTail.Err.Error()
	}
	var kept []SegmentReport
	firstLive := true
	for i, sr := range rep.Segments {
		switch {
		case sr.Leftover:
			continue
		case i < cutIdx:
			if sr.Checked && sr.ZeroTail {
				plan.Actions = append(plan.Actions, RepairAction{Kind: ActionTrim, Path: sr.Path, Offset: sr.ValidEnd,
					Detail: fmt.Sprintf("%d zero bytes of preallocated space", sr.Size-sr.ValidEnd)})
				sr.Size = sr.ValidEnd
			}
			kept = append(kept, sr)
		case i == cutIdx && (sr.ValidEnd > 0 || firstLive):
			if sr.ValidEnd < sr.Size {
				plan.Actions = append(plan.Actions, RepairAction{Kind: ActionCut, Path: sr.Path, Offset: sr.ValidEnd,
					Detail: fmt.Sprintf("%d bytes from byte %d: %s", sr.Size-sr.ValidEnd, sr.ValidEnd, short)})
				plan.Lost += sr.Size - sr.ValidEnd
			}
			sr.Size = sr.ValidEnd
			kept = append(kept, sr)
		default:
			detail := "after the damage"
			if i == cutIdx {
				detail = reason
			}
			plan.Actions = append(plan.Actions, RepairAction{Kind: ActionMove, Path: sr.Path, Detail: fmt.Sprintf("%d bytes, %s", sr.Size, detail)})
			plan.Lost += sr.Size
		}
		firstLive = false
	}
	for _, b := range rep.BadEpochs {
		for _, k := range kept {
			if k.Path == b.Path && b.Position < k.Size {
				plan.Actions = append(plan.Actions, RepairAction{Kind: ActionEpoch, Path: b.Path, Offset: b.Position, Epoch: b.Previous,
					Detail: fmt.Sprintf("from %d, lower than the %d before it, to %d", b.Epoch, b.Previous, b.Previous)})
			}
		}
	}
	for _, path := range rep.Unexpected {
		plan.Actions = append(plan.Actions, RepairAction{Kind: ActionMove, Path: path, Detail: "not a segment file"})
	}

	// The new durable state describes exactly the kept segments.
	st := durableState{clean: true, epoch: max(rep.state.epoch, rep.MaxEpoch, 0)}
	if len(kept) == 0 {
		base := max(rep.NextOffset, 0)
		plan.create = opts.FS.PathJoin(opts.Dir, segment.FileName(base))
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
	for _, e := range rep.Rebuilt {
		if e.Offset < st.nextOffset {
			plan.rebuilt = append(plan.rebuilt, e)
		}
	}
	plan.Actions = append(plan.Actions,
		RepairAction{Kind: ActionState, Detail: fmt.Sprintf("record the durable state: closed segments %d, active segment %s of %d bytes, next offset %d",
			len(st.closed), segment.FileName(st.activeBase), st.position, st.nextOffset)},
		RepairAction{Kind: ActionIndex, Detail: fmt.Sprintf("rebuild the sparse index (%d %s)", len(plan.rebuilt), map[bool]string{true: "entry", false: "entries"}[len(plan.rebuilt) == 1])})
	return plan
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
	// 1. Copies and moves into LostDir, each durable before anything is cut.
	for _, a := range plan.Actions {
		switch a.Kind {
		case ActionCut, ActionEpoch:
			dst, err := uniquePath(fs, opts.LostDir, fs.PathBase(a.Path))
			if err != nil {
				return err
			}
			if err := copySynced(fs, a.Path, dst); err != nil {
				return err
			}
			fmt.Fprintf(&note, "%s\n  original copied to %s\n", a, dst)
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
		if a.Kind == ActionState || a.Kind == ActionIndex || a.Kind == ActionCreate || a.Kind == ActionTrim {
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
	// 2. The epoch fields, the cuts and the new empty segment.
	for _, a := range plan.Actions {
		if a.Kind == ActionEpoch {
			if err := writeEpoch(fs, a.Path, a.Offset, a.Epoch); err != nil {
				return err
			}
		}
	}
	for _, a := range plan.Actions {
		if a.Kind == ActionCut || a.Kind == ActionTrim {
			if err := fsutil.TrimFile(fs, a.Path, a.Offset); err != nil {
				return fmt.Errorf("mqlog/wal: cut %s: %w", a.Path, err)
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
