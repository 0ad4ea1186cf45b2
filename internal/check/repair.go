package check

import (
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/lock"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// RepairOptions configure Repair. The zero value (or nil) plans a repair of every topic on the operating
// system's filesystem without changing anything.
type RepairOptions struct {
	// FS is the filesystem; nil means vfs.Default.
	FS vfs.FS
	// Topic, when set, limits the repair to one topic.
	Topic string
	// Execute carries the plan out. Without it Repair is a dry run: it takes the lock, reads, and says
	// exactly what it would do.
	Execute bool
	// MaxBatchBytes and MaxMessageBytes bound what is read (defaults 16 MiB and 1 MiB).
	MaxBatchBytes   int
	MaxMessageBytes int
}

// PartitionRepair is what Repair does (or would do) to one partition.
type PartitionRepair struct {
	Topic     string
	Partition int32
	*wal.RepairPlan
}

// RepairedGroup is a committed group position that pointed past the end of a log cut by Repair, and is
// moved back to it (group positions never point past the readable end).
type RepairedGroup struct {
	Group     string
	Topic     string
	Partition int32
	From, To  int64
}

// RepairReport is the outcome of Repair.
type RepairReport struct {
	// Verify is the check the plan was made from.
	Verify *VerifyReport
	// Partitions lists the partitions that need (or got) repair.
	Partitions []PartitionRepair
	// GroupsMovedBack lists the group positions moved back to a log's new end.
	GroupsMovedBack []RepairedGroup
	// TopicsRecorded lists the topics found on disk without a config in the index (a lost index), which
	// Repair records with the default settings and the partition count found, so that Open opens them
	// again: Open itself never adopts a directory the index does not know.
	TopicsRecorded []TopicFound
	// LostDir is where cut and moved files go.
	LostDir string
	// Executed is true when the plan was carried out.
	Executed bool
}

// TopicFound is a topic Repair found on disk without a config: its name and partition count.
type TopicFound struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
}

// Empty reports whether there is nothing to repair.
func (r *RepairReport) Empty() bool { return len(r.Partitions) == 0 && len(r.TopicsRecorded) == 0 }

// Repair checks a data directory as Verify does, with the writer's lock held (base.ErrLocked if a writer has
// it), and plans what makes it a directory that Open accepts again; with Execute it carries the plan out.
//
// It removes only what is damaged and never an acknowledged, intact message: from a partition's first
// damage on, its segments are read again and the damaged bytes are dropped up to the next valid batch,
// which keeps its offset; an empty batch (as Kafka's log cleaner leaves) stands for the offsets whose
// records were lost, so the log's end does not move and no offset is handed out twice. A missing segment is
// replaced by one holding such an empty batch, a segment named above its first batch is renamed, an epoch
// field out of order is restored. Every file it changes is first copied into
// <dir>/lost+found/<topic>-<partition>/, with a note (REPAIR-<time>.txt) of what was done; unexpected files,
// links and segments that overlap others are moved there. Nothing is deleted. A torn tail past the durable
// point is cut, as the next Open would. The durable state in Pebble is rewritten to describe exactly the
// kept segments, the sparse index is rebuilt, and group positions past a log's new end (if it moved back)
// are moved back to it. Without Execute nothing is changed and no directory is created.
func Repair(dir string, opts *RepairOptions) (*RepairReport, error) {
	var o RepairOptions
	if opts != nil {
		o = *opts
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	fs := o.FS
	if info, err := fs.Stat(dir); err != nil {
		return nil, fmt.Errorf("mqlog: repair %s: %w", dir, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("mqlog: repair %s: not a directory", dir)
	}
	held, err := lock.Exclusive(fs, dir)
	if err != nil {
		return nil, err
	}
	defer held.Close()
	// The index is opened for writing only to execute: a dry run must not create or change anything, so
	// without an index it plans from the segments alone.
	var store *index.Store
	indexDir := fs.PathJoin(dir, base.IndexDirName)
	if _, err := fs.Stat(indexDir); o.Execute || err == nil {
		store, err = index.Open(indexDir, index.Options{FS: fs, ReadOnly: !o.Execute})
		if err != nil {
			return nil, fmt.Errorf("mqlog: open index: %w", err)
		}
		defer store.Close()
	}

	rep := &RepairReport{Verify: &VerifyReport{Dir: dir, StateChecked: store != nil}, LostDir: fs.PathJoin(dir, base.LostFoundDirName), Executed: o.Execute}
	vo := VerifyOptions{FS: fs, Topic: o.Topic, MaxBatchBytes: o.MaxBatchBytes, MaxMessageBytes: o.MaxMessageBytes}
	if err := verifyWithStore(vo, dir, store, rep.Verify); err != nil {
		return nil, err
	}
	for _, p := range rep.Verify.Partitions {
		plan, err := wal.Repair(p.Report, wal.RepairOptions{
			FS: fs, Dir: fs.PathJoin(dir, base.TopicsDirName, base.PartitionDirName(p.Topic, int(p.Partition))),
			Index:   base.PartitionIndex{Store: store, Topic: p.Topic, Partition: p.Partition},
			LostDir: fs.PathJoin(rep.LostDir, base.PartitionDirName(p.Topic, int(p.Partition))),
			Execute: o.Execute,
			Limits:  segment.Limits{MaxBatchBytes: o.MaxBatchBytes, MaxMessageBytes: o.MaxMessageBytes},
		})
		if err != nil {
			return rep, fmt.Errorf("mqlog: repair %s partition %d: %w", p.Topic, p.Partition, err)
		}
		if len(plan.Actions) > 0 {
			rep.Partitions = append(rep.Partitions, PartitionRepair{Topic: p.Topic, Partition: p.Partition, RepairPlan: plan})
		}
	}
	if err := rep.resetGroups(store, o.Execute); err != nil {
		return rep, err
	}
	if err := rep.recordTopics(store, o.Execute); err != nil {
		return rep, err
	}
	return rep, nil
}

// recordTopics records, with the default settings, the topics whose partition directories have no config
// in the index: partitions 0 to n-1, where each directory exists.
func (r *RepairReport) recordTopics(store *index.Store, execute bool) error {
	found := map[string]map[int32]bool{}
	for _, p := range r.Verify.Partitions {
		if found[p.Topic] == nil {
			found[p.Topic] = map[int32]bool{}
		}
		found[p.Topic][p.Partition] = true
	}
	names := make([]string, 0, len(found))
	for name := range found {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if store != nil {
			if _, ok, err := store.Topic(name); err != nil {
				return err
			} else if ok {
				continue
			}
		}
		n := 0
		for found[name][int32(n)] {
			n++
		}
		if n == 0 {
			continue
		}
		r.TopicsRecorded = append(r.TopicsRecorded, TopicFound{Topic: name, Partitions: n})
		if !execute {
			continue
		}
		last, err := store.LastIncarnation()
		if err != nil {
			return err
		}
		cfg := base.TopicConfig{Partitions: n}.WithDefaults()
		if err := store.CreateTopic(name, base.EncodeTopic(cfg, last+1), last+1); err != nil {
			return fmt.Errorf("mqlog: record topic %s: %w", name, err)
		}
	}
	return nil
}

// resetGroups moves group positions past a repaired log's new end back to it.
func (r *RepairReport) resetGroups(store *index.Store, execute bool) error {
	if len(r.Partitions) == 0 || store == nil {
		return nil
	}
	ends := map[string]map[int32]int64{}
	for _, p := range r.Partitions {
		if ends[p.Topic] == nil {
			ends[p.Topic] = map[int32]int64{}
		}
		ends[p.Topic][p.Partition] = p.NextOffset
	}
	groups, err := store.Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		offsets, err := store.GroupOffsets(g)
		if err != nil {
			return err
		}
		var reset []index.GroupOffset
		for _, o := range offsets {
			end, ok := ends[o.Topic][o.Partition]
			if !ok || o.Offset <= end {
				continue
			}
			r.GroupsMovedBack = append(r.GroupsMovedBack, RepairedGroup{Group: g, Topic: o.Topic, Partition: o.Partition, From: o.Offset, To: end})
			o.Offset = end // its leader epoch and metadata stay
			reset = append(reset, o)
		}
		if execute && len(reset) > 0 {
			if err := store.CommitOffsets(g, reset); err != nil {
				return fmt.Errorf("mqlog: reset group %s: %w", g, err)
			}
		}
	}
	return nil
}
