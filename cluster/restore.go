package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
)

// Restart and recovery. The raft log is the durable copy of everything replicated; the DB is a state
// derived from it, brought back to a known point at every start so that raft's replay applies each
// entry exactly once:
//
//  1. Start opens the raft store. When raft has no snapshot yet, the DB is emptied (every topic and
//     group deleted): raft replays the whole log from index 1, which holds every entry since the
//     cluster began (raft compacts its log only after a snapshot).
//  2. When there is a snapshot, raft restores it at start (fsm.Restore): each partition of the DB that
//     holds the snapshot's prefix (its batch ending at the snapshot's high watermark has the snapshot's
//     CRC) is cut back to that watermark (RawPartition.TruncateFrom, crash safe by a synced marker);
//     one that does not (behind, or another history) is emptied and given the snapshot's batches at
//     their offsets (RawPartition.AppendStored). Topics and groups follow the snapshot: those it lacks
//     are deleted, the others created and their offsets set to the snapshot's; the work-queue groups'
//     states and scheduled messages are replaced by the snapshot's (with no snapshot, all deleted).
//  3. raft then applies the entries after the snapshot as the commit index becomes known, each one
//     appended again exactly where it was before: the cut removed every batch applied after the
//     snapshot, whatever the crash left of them.
//
// The same install (2) serves a follower that is sent a snapshot because it is too far behind (a new
// node, or one whose entries were compacted away). Idempotent producers' state follows the cuts (it is
// loaded again from the partition), and is rebuilt by the replay.

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<20)
	st, err := readSnapshotHeader(r)
	if err != nil {
		return err
	}
	return f.install(st, &snapshotReader{r: r, maxFrame: segment.DefaultMaxBatchBytes})
}

// emptyState is the state before the first raft entry.
var emptyState = &snapshotState{}

// install makes the DB and the fsm hold st, reading the partitions' batches from sr (nil for emptyState).
func (f *fsm) install(st *snapshotState, sr *snapshotReader) error {
	db := f.db
	keep := map[string]bool{}
	for _, t := range st.Topics {
		keep[t.Name] = true
	}
	for _, name := range db.Topics() {
		if !keep[name] {
			if err := db.DeleteTopic(name); err != nil && !errors.Is(err, mqlog.ErrTopicNotFound) {
				return fmt.Errorf("mqlog/cluster: restore: delete topic %s: %w", name, err)
			}
		}
	}
	for _, t := range st.Topics {
		if err := f.installTopic(t, sr); err != nil {
			return fmt.Errorf("mqlog/cluster: restore: topic %s: %w", t.Name, err)
		}
	}
	groups, err := db.Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := db.DeleteAllGroupOffsets(g); err != nil {
			return fmt.Errorf("mqlog/cluster: restore: group %s: %w", g, err)
		}
	}
	for _, g := range st.Groups {
		if _, err := db.SetGroupOffsets(g.Name, g.Offsets); err != nil {
			return fmt.Errorf("mqlog/cluster: restore: group %s: %w", g.Name, err)
		}
	}
	if err := f.installQueueStates(sr); err != nil {
		return fmt.Errorf("mqlog/cluster: restore: work queues: %w", err)
	}
	f.mu.Lock()
	clear(f.mu.brokers)
	for _, b := range st.Brokers {
		f.mu.brokers[b.ID] = b
	}
	f.mu.nextProducerID = st.NextProducerID
	clear(f.mu.topicIDs)
	for _, t := range st.Topics {
		f.mu.topicIDs[t.Name] = t.ID
	}
	f.mu.Unlock()
	return nil
}

// installQueueStates replaces the DB's work-queue states by the snapshot's records read from sr (none
// when sr is nil: emptyState).
func (f *fsm) installQueueStates(sr *snapshotReader) error {
	if err := f.db.ReplaceQueueStates(nil); err != nil {
		return err
	}
	for sr != nil {
		save, ok, err := sr.nextQueueState()
		if err != nil || !ok {
			return err
		}
		if err := f.db.ApplyQueueState(save); err != nil {
			return fmt.Errorf("group %s in %s partition %d: %w", save.State.Group, save.State.Topic, save.State.Partition, err)
		}
	}
	return nil
}

// installTopic creates t when it is missing (or has more partitions than the snapshot, which only a
// deletion and a re-creation after the snapshot can give), then installs each partition.
func (f *fsm) installTopic(t snapTopic, sr *snapshotReader) error {
	db := f.db
	cfg, err := db.TopicConfig(t.Name)
	switch {
	case errors.Is(err, mqlog.ErrTopicNotFound):
	case err != nil:
		return err
	case cfg.Partitions > len(t.Partitions):
		if err := db.DeleteTopic(t.Name); err != nil {
			return err
		}
	case cfg.Partitions < len(t.Partitions):
		if _, err := db.AddPartitions(t.Name, len(t.Partitions)); err != nil {
			return err
		}
	}
	want := t.Config
	want.Partitions = len(t.Partitions)
	if err := db.CreateTopic(t.Name, want); err != nil {
		return err
	}
	for i, sp := range t.Partitions {
		p, err := db.RawPartition(t.Name, int32(i))
		if err != nil {
			return err
		}
		sr.partition = fmt.Sprintf("%s partition %d", t.Name, i)
		if err := installPartition(p, sp, sr); err != nil {
			return fmt.Errorf("partition %d: %w", i, err)
		}
	}
	return nil
}

// installPartition cuts p back to sp.End when it holds the snapshot's prefix, and otherwise empties it
// and appends the snapshot's batches.
func installPartition(p *mqlog.RawPartition, sp snapPartition, sr *snapshotReader) error {
	if holdsPrefix(p, sp) {
		if err := sr.skip(); err != nil {
			return err
		}
		if p.HighWatermark() > sp.End {
			return p.TruncateFrom(sp.End)
		}
		return nil
	}
	frame, err := sr.next()
	if err != nil {
		return err
	}
	start := sp.End
	if frame != nil {
		h, err := segment.ParseHeader(frame)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadSnapshot, sr.partition, err)
		}
		start = h.BaseOffset
	}
	if err := p.Reset(start); err != nil {
		return err
	}
	for ; frame != nil; frame, err = sr.next() {
		if err := p.AppendStored(frame); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if hw := p.HighWatermark(); hw != sp.End {
		return fmt.Errorf("%w: %s: installed up to offset %d, snapshot says %d", ErrBadSnapshot, sr.partition, hw, sp.End)
	}
	return nil
}

// holdsPrefix reports whether p holds the snapshot's partition up to sp.End: its batch ending at
// sp.End-1 is the snapshot's (same CRC), or the snapshot's partition is empty at an offset p holds.
func holdsPrefix(p *mqlog.RawPartition, sp snapPartition) bool {
	if sp.End < p.StartOffset() || sp.End > p.HighWatermark() {
		return false
	}
	if sp.End == sp.Start {
		return true
	}
	h, ok, err := p.BatchBefore(sp.End)
	return err == nil && ok && h.CRC == sp.LastCRC
}

// prepareDB brings the DB to the state raft will replay onto (see the top of this file): a new node's
// DB must be empty; a restarted node's DB is emptied when raft has no snapshot (with one, raft's
// restore at start cuts it back).
func (n *Node) prepareDB(existing bool) error {
	if !existing {
		if topics := n.db.Topics(); len(topics) > 0 {
			return fmt.Errorf("%w: it holds topics %s", ErrNotEmpty, shortList(topics))
		}
		return nil
	}
	snaps, err := n.snaps.List()
	if err != nil {
		return err
	}
	if len(snaps) > 0 {
		return nil
	}
	n.cfg.Logger.Info("mqlog/cluster: no raft snapshot: the DB is rebuilt from the raft log", "dir", n.cfg.Dir)
	return n.fsm.install(emptyState, nil)
}

func shortList(s []string) string {
	s = slices.Clone(s)
	if len(s) > 5 {
		s = append(s[:5], "...")
	}
	var b bytes.Buffer
	for i, v := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v)
	}
	return b.String()
}
