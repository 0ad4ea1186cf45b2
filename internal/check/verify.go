package check

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/lock"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
	"golang.org/x/sys/unix"
)

// VerifyOptions configure Verify. The zero value (or nil) checks every topic on the operating system's
// filesystem.
type VerifyOptions struct {
	// FS is the filesystem; nil means vfs.Default.
	FS vfs.FS
	// Topic, when set, limits the check to one topic.
	Topic string
	// MaxBatchBytes and MaxMessageBytes bound what is read (defaults 16 MiB and 1 MiB).
	MaxBatchBytes   int
	MaxMessageBytes int
	// Progress, when set, is called after each batch with the bytes checked so far and the bytes of all
	// the segments to check.
	Progress func(done, total int64)
}

// Kinds of Problem.
const (
	ProblemDamage     = "damage"     // damaged durable data: a *base.CorruptionError naming file and byte
	ProblemUnexpected = "unexpected" // a file or directory that is not part of the layout
	ProblemState      = "state"      // a durable state record that cannot be decoded
	ProblemIndex      = "index"      // a sparse index entry that does not match the segments
	// ProblemEpoch is no longer reported: a batch whose epoch field is out of order has intact records that
	// every reader reads, so Verify notes it (VerifyReport.Notes) and Repair restores it.
	ProblemEpoch = "epoch"
)

// Problem is one thing Verify found wrong. For ProblemDamage, ProblemUnexpected and ProblemEpoch, Err is a
// *base.CorruptionError naming the file and byte offset.
type Problem struct {
	Kind      string
	Topic     string // empty for a problem outside any partition
	Partition int32
	Err       error
}

// PartitionReport is Verify's finding for one partition.
type PartitionReport struct {
	Topic     string
	Partition int32
	// Compacted is true when the topic allows offset gaps (cleanup policy compact, or a config that could
	// not be read).
	Compacted bool
	*wal.Report
}

// VerifyReport is Verify's finding for a data directory.
type VerifyReport struct {
	Dir        string
	Partitions []PartitionReport
	// Segments, Batches, Records and Bytes count what was checked and found valid.
	Segments, Batches, Records, Bytes int64
	// StateChecked says whether the durable state and the sparse index in Pebble were read. They are not
	// when a writer holds the directory (only Pebble's owner may read it) or when there is no index.
	StateChecked bool
	// Problems lists everything wrong, in the order found; empty when the directory is clean.
	Problems []Problem
	// Notes are remarks that are not problems (why the state was not checked, leftovers the next open
	// removes, a torn tail past the durable point that the next open cuts).
	Notes []string
}

// Corrupt reports whether Verify found any problem.
func (r *VerifyReport) Corrupt() bool { return len(r.Problems) > 0 }

// Err returns the first problem's error (a *base.CorruptionError for damage), or nil when there is none.
func (r *VerifyReport) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0].Err
}

// Verify checks a data directory without the writer's lock, writing and creating nothing (DESIGN.md
// decision 8): every batch's length, magic and CRC-32C, offsets strictly increasing and, unless the topic
// is compacted, contiguous within and across segments, each segment's name against its first batch; and
// when no writer holds the directory, the segments against the durable state in Pebble (closed segments
// and their sizes, the active segment's durable position) and the sparse index entries. It stops each
// partition at its first damage, which it reports as a *base.CorruptionError with the file and byte offset.
//
// While a writer holds the directory, Verify checks the segments only, and treats an invalid frame at the
// end of a partition's last segment as not yet written (as OpenReadOnly does); while Verify reads Pebble
// it holds a shared lock on <dir>/LOCK, so a writer that starts then gets base.ErrLocked.
//
// The error is for what stops the check itself (a missing directory, an I/O error, an unknown topic);
// what is wrong with the data is in the report.
func Verify(dir string, opts *VerifyOptions) (*VerifyReport, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if info, err := o.FS.Stat(dir); err != nil {
		return nil, fmt.Errorf("mqlog: verify %s: %w", dir, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("mqlog: verify %s: not a directory", dir)
	}
	rep := &VerifyReport{Dir: dir}
	store, release, err := openIndexForVerify(o.FS, dir, rep)
	if err != nil {
		return nil, err
	}
	defer release()
	if store != nil {
		defer store.Close()
	}
	if err := verifyWithStore(o, dir, store, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// openIndexForVerify opens the Pebble index read-only when no writer holds the directory. It returns a
// nil store, with a note in rep, when the state cannot be read; release drops the shared lock.
func openIndexForVerify(fs vfs.FS, dir string, rep *VerifyReport) (store *index.Store, release func(), err error) {
	release = func() {}
	indexDir := fs.PathJoin(dir, base.IndexDirName)
	if _, err := fs.Stat(indexDir); errors.Is(err, os.ErrNotExist) {
		rep.Notes = append(rep.Notes, "no index: segments checked against each other only")
		return nil, release, nil
	}
	held, release, err := lock.Shared(fs, dir)
	if err != nil {
		return nil, release, err
	}
	if held {
		rep.Notes = append(rep.Notes, "a writer holds the directory: segments checked against each other only (durable state and index not read; an incomplete last frame is taken as not yet written)")
		return nil, release, nil
	}
	store, err = index.Open(indexDir, index.Options{FS: fs, ReadOnly: true})
	if err != nil && environmentError(err) {
		// Not damage: the index could not be read here (permissions, an I/O error).
		return nil, release, fmt.Errorf("mqlog: verify %s: cannot read the index: %w", dir, err)
	}
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemState, Err: err})
		return nil, release, nil
	}
	rep.StateChecked = true
	return store, release, nil
}

// environmentError reports whether err comes from the environment rather than from the data: a permission
// denied, a read-only or full filesystem, an I/O error.
func environmentError(err error) bool {
	for _, e := range []error{unix.EACCES, unix.EPERM, unix.EROFS, unix.EIO, unix.ENOSPC, unix.EMFILE, unix.ENFILE} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// verifyWithStore checks every partition; store is nil when the durable state cannot be read.
func verifyWithStore(o VerifyOptions, dir string, store *index.Store, rep *VerifyReport) error {
	fs := o.FS
	parts, err := partitionsToVerify(fs, dir, store, o.Topic, rep)
	if err != nil {
		return err
	}
	var total, done int64
	if o.Progress != nil {
		for _, p := range parts {
			total += segmentBytes(fs, p.dir)
		}
	}
	limits := segment.Limits{MaxBatchBytes: o.MaxBatchBytes, MaxMessageBytes: o.MaxMessageBytes}
	for _, p := range parts {
		wo := wal.VerifyOptions{FS: fs, Dir: p.dir, Compacted: p.compacted, Limits: limits}
		if o.Progress != nil {
			wo.Progress = func(n int64) {
				done += n
				o.Progress(done, total)
			}
		}
		if store != nil {
			wo.StateKnown, wo.EntriesKnown = true, true
			if wo.State, err = store.LogState(p.topic, p.partition); err != nil {
				return err
			}
			entries, err := store.Entries(p.topic, p.partition)
			if err != nil {
				return err
			}
			for _, e := range entries {
				wo.Entries = append(wo.Entries, wal.IndexEntry{Offset: e.Offset, Position: e.Position, Timestamp: e.Timestamp})
			}
		}
		wr, err := wal.Verify(wo)
		if err != nil {
			return err
		}
		rep.add(PartitionReport{Topic: p.topic, Partition: p.partition, Compacted: p.compacted, Report: wr})
	}
	return nil
}

// add records one partition's report and its problems.
func (r *VerifyReport) add(p PartitionReport) {
	r.Partitions = append(r.Partitions, p)
	for _, s := range p.Segments {
		if s.Checked {
			r.Segments++
		}
	}
	r.Batches += p.Batches
	r.Records += p.Records
	r.Bytes += p.Bytes
	problem := func(kind string, err error) {
		r.Problems = append(r.Problems, Problem{Kind: kind, Topic: p.Topic, Partition: p.Partition, Err: err})
	}
	if p.Damage != nil {
		problem(ProblemDamage, p.Damage)
	}
	for _, path := range p.Unexpected {
		problem(ProblemUnexpected, &base.CorruptionError{Path: path, Err: wal.ErrUnexpectedFile})
	}
	if p.StateErr != nil {
		problem(ProblemState, fmt.Errorf("%s partition %d: %w", p.Topic, p.Partition, p.StateErr))
	}
	for _, err := range p.NotRegular {
		problem(ProblemUnexpected, err)
	}
	for _, path := range p.Unrecorded {
		problem(ProblemState, &base.CorruptionError{Path: path, Err: wal.ErrNoState})
	}
	for _, m := range p.IndexMismatches {
		problem(ProblemIndex, fmt.Errorf("%s partition %d: %s", p.Topic, p.Partition, m))
	}
	prefix := fmt.Sprintf("%s partition %d: ", p.Topic, p.Partition)
	if p.TornTail != nil && p.StateErr == nil && len(p.Unrecorded) == 0 { // without a state Open touches nothing

		r.Notes = append(r.Notes, prefix+"incomplete last batch past the durable point (the next open cuts it): "+p.TornTail.Error())
	}
	for _, n := range p.Notes {
		r.Notes = append(r.Notes, prefix+n)
	}
}

// partitionToVerify is one partition directory and how to check it.
type partitionToVerify struct {
	topic     string
	partition int32
	dir       string
	compacted bool
}

// partitionsToVerify lists the partitions found on disk and, when the index is readable, those its topic
// configs declare (a missing partition directory then shows as missing segments).
func partitionsToVerify(fs vfs.FS, dir string, store *index.Store, only string, rep *VerifyReport) ([]partitionToVerify, error) {
	topicsDir := fs.PathJoin(dir, base.TopicsDirName)
	counts := map[string]int{}
	names, err := fs.List(topicsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, n := range names {
		name, p, ok := base.ParsePartitionDir(n)
		if !ok {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemUnexpected,
				Err: &base.CorruptionError{Path: fs.PathJoin(topicsDir, n), Err: fmt.Errorf("not a partition directory (<topic>-<partition>)")}})
			continue
		}
		counts[name] = max(counts[name], int(p)+1)
	}
	configs := map[string]base.TopicConfig{}
	if store != nil {
		topics, err := store.Topics()
		if err != nil {
			return nil, err
		}
		for _, name := range topics {
			raw, _, err := store.Topic(name)
			if err != nil {
				return nil, err
			}
			cfg, _, err := base.DecodeTopic(raw)
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemState, Topic: name, Err: fmt.Errorf("topic %s: %w", name, err)})
				continue
			}
			configs[name] = cfg
			counts[name] = max(counts[name], cfg.Partitions)
		}
	}
	if only != "" {
		if _, ok := counts[only]; !ok {
			return nil, fmt.Errorf("%w: %s", base.ErrTopicNotFound, only)
		}
		counts = map[string]int{only: counts[only]}
	}
	if store == nil && len(counts) > 0 {
		rep.Notes = append(rep.Notes, "topic configs not read: offset gaps between batches allowed (offsets must still increase)")
	}
	topics := make([]string, 0, len(counts))
	for name := range counts {
		topics = append(topics, name)
	}
	sort.Strings(topics)
	var out []partitionToVerify
	for _, name := range topics {
		// Without the index the config is unknown: gaps are allowed, offsets must still increase.
		compacted := configs[name].CleanupPolicy == base.CleanupCompact || store == nil
		for p := 0; p < counts[name]; p++ {
			out = append(out, partitionToVerify{topic: name, partition: int32(p), compacted: compacted,
				dir: fs.PathJoin(topicsDir, base.PartitionDirName(name, p))})
		}
	}
	return out, nil
}

// segmentBytes sums the sizes of the segment files in a partition directory.
func segmentBytes(fs vfs.FS, dir string) int64 {
	names, _ := fs.List(dir)
	var n int64
	for _, name := range names {
		if _, ok := segment.ParseFileName(name); ok {
			if info, err := fs.Stat(fs.PathJoin(dir, name)); err == nil {
				n += info.Size()
			}
		}
	}
	return n
}

// IndexSnapshot is what the index holds about topics and consumer groups.
type IndexSnapshot struct {
	// Topics maps each topic with a stored config to it.
	Topics map[string]base.TopicConfig
	// Groups maps each consumer group to its committed positions (Lag is not computed: zero).
	Groups map[string][]base.GroupOffset
}

// ReadIndex reads the topic configs and group positions of a data directory without the writer's lock,
// writing and creating nothing, as Verify reads the durable state. It returns base.ErrLocked when a writer holds
// the directory (only the writer may read Pebble then) and an error wrapping os.ErrNotExist when there is
// no index.
func ReadIndex(dir string, fs vfs.FS) (*IndexSnapshot, error) {
	if fs == nil {
		fs = vfs.Default
	}
	indexDir := fs.PathJoin(dir, base.IndexDirName)
	if _, err := fs.Stat(indexDir); err != nil {
		return nil, fmt.Errorf("mqlog: read index: %w", err)
	}
	held, release, err := lock.Shared(fs, dir)
	if err != nil {
		return nil, err
	}
	defer release()
	if held {
		return nil, fmt.Errorf("%w: %s", base.ErrLocked, dir)
	}
	store, err := index.Open(indexDir, index.Options{FS: fs, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	snap := &IndexSnapshot{Topics: map[string]base.TopicConfig{}, Groups: map[string][]base.GroupOffset{}}
	topics, err := store.Topics()
	if err != nil {
		return nil, err
	}
	for _, name := range topics {
		raw, _, err := store.Topic(name)
		if err != nil {
			return nil, err
		}
		cfg, _, err := base.DecodeTopic(raw)
		if err != nil {
			return nil, fmt.Errorf("mqlog: topic %s: %w", name, err)
		}
		snap.Topics[name] = cfg
	}
	groups, err := store.Groups()
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		offsets, err := store.GroupOffsets(g)
		if err != nil {
			return nil, err
		}
		for _, o := range offsets {
			snap.Groups[g] = append(snap.Groups[g], base.GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset})
		}
	}
	return snap, nil
}
