package cluster

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
)

// Snapshots by stored batches. A snapshot is the whole replicated state at one raft index: the topic
// catalog, every partition's stored batches up to its high watermark at that index (the sealed segments'
// batches as they are on disk, the active segment's up to the watermark), every group's committed
// offsets, every work-queue group's state and scheduled messages (queues.go), the voters' Kafka addresses
// and the next producer id. Its stream (docs/FORMAT.md "Raft
// snapshots"):
//
//	magic "MQLOGSN1"
//	header length uint32 BE | header JSON (snapshotState)
//	for each topic of the header, for each of its partitions, in order:
//	    frame length uint32 BE | RecordBatch v2 frame   ... repeated
//	    0 uint32                                         (end of the partition)
//	record length uint32 BE | work-queue record JSON    ... repeated (mqlog.QueueStateSave: one
//	                                                     partition's state and up to 4096 of its timers)
//	0 uint32                                             (end of the work-queue records)
//
// Snapshot (on raft's FSM goroutine, between two applies) records the header; Persist (on raft's
// snapshot goroutine, while applies go on) streams the batches below each recorded watermark, so it is
// consistent without stopping the writes. Restore installs a snapshot (restore.go).

const snapshotMagic = "MQLOGSN1"

// maxHeaderBytes bounds the snapshot header a Restore reads (a damaged length never allocates more).
const maxHeaderBytes = 256 << 20

// snapshotState is a snapshot's header.
type snapshotState struct {
	Topics         []snapTopic `json:"topics"`
	Groups         []snapGroup `json:"groups"`
	Brokers        []Broker    `json:"brokers"`
	NextProducerID int64       `json:"next_producer_id"`
}

type snapTopic struct {
	Name       string            `json:"name"`
	ID         uint64            `json:"id"` // the replicated incarnation (Node.TopicIncarnation)
	Config     mqlog.TopicConfig `json:"config"`
	Partitions []snapPartition   `json:"partitions"`
}

// snapPartition is one partition at the snapshot: [Start, End) is what it held; LastCRC is the CRC of the
// batch that ends at End-1 (when End > Start), by which a node tells whether its own copy holds the same
// prefix.
type snapPartition struct {
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
	LastCRC uint32 `json:"last_crc,omitempty"`
}

type snapGroup struct {
	Name    string                    `json:"name"`
	Offsets []mqlog.GroupOffsetCommit `json:"offsets"`
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Err(); err != nil {
		return nil, err
	}
	st := &snapshotState{}
	for _, name := range f.db.Topics() {
		cfg, err := f.db.TopicConfig(name)
		if err != nil {
			return nil, err
		}
		parts, err := f.db.Partitions(name)
		if err != nil {
			return nil, err
		}
		id, _ := f.topicID(name)
		t := snapTopic{Name: name, ID: id, Config: cfg}
		for _, p := range parts {
			sp := snapPartition{Start: p.StartOffset, End: p.HighWatermark}
			if sp.End > sp.Start {
				raw, err := f.db.RawPartition(name, p.Partition)
				if err != nil {
					return nil, err
				}
				h, ok, err := raw.BatchBefore(sp.End)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, fmt.Errorf("mqlog/cluster: snapshot: %s partition %d holds no batch ending at %d", name, p.Partition, sp.End-1)
				}
				sp.LastCRC = h.CRC
			}
			t.Partitions = append(t.Partitions, sp)
		}
		st.Topics = append(st.Topics, t)
	}
	groups, err := f.db.Groups()
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		offs, err := f.db.GroupOffsets(g)
		if err != nil {
			return nil, err
		}
		sg := snapGroup{Name: g}
		for _, o := range offs {
			sg.Offsets = append(sg.Offsets, mqlog.GroupOffsetCommit{Topic: o.Topic, Partition: o.Partition, Offset: o.Committed, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata})
		}
		st.Groups = append(st.Groups, sg)
	}
	queues, err := f.db.QueueStates() // (now: the index moves on while Persist streams)
	if err != nil {
		return nil, err
	}
	for i := range queues {
		queues[i].State.Incarnation = 0 // (each node installs it into its own incarnation)
	}
	f.mu.Lock()
	for _, b := range f.mu.brokers {
		st.Brokers = append(st.Brokers, b)
	}
	st.NextProducerID = f.mu.nextProducerID
	f.mu.Unlock()
	return &dbSnapshot{db: f.db, state: st, queues: queues}, nil
}

// dbSnapshot is a snapshot being persisted.
type dbSnapshot struct {
	db     *mqlog.DB
	state  *snapshotState
	queues []mqlog.QueueStateSave // the work-queue states at the snapshot, each with its timers
}

// Persist implements raft.FSMSnapshot.
func (s *dbSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("mqlog/cluster: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *dbSnapshot) Release() {}

func (s *dbSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	header, err := json.Marshal(s.state)
	if err != nil {
		return err
	}
	bw.WriteString(snapshotMagic)
	bw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(header))))
	bw.Write(header)
	var buf []byte
	for _, t := range s.state.Topics {
		for i, sp := range t.Partitions {
			p, err := s.db.RawPartition(t.Name, int32(i))
			if err != nil {
				return err
			}
			if buf, err = writePartition(bw, p, sp, buf); err != nil {
				return fmt.Errorf("%s partition %d: %w", t.Name, i, err)
			}
		}
	}
	if err := writeQueueStates(bw, s.queues); err != nil {
		return err
	}
	return bw.Flush()
}

// queueTimersPerRecord is how many scheduled messages one work-queue record of a snapshot carries at
// most: a partition with more is written as several records with the same state.
const queueTimersPerRecord = 4096

// writeQueueStates streams the work-queue states, each as records of its state and at most
// queueTimersPerRecord of its timers, then the end marker.
func writeQueueStates(w *bufio.Writer, saves []mqlog.QueueStateSave) error {
	for _, save := range saves {
		timers := save.Timers
		for first := true; first || len(timers) > 0; first = false {
			rec := mqlog.QueueStateSave{State: save.State, Timers: timers[:min(len(timers), queueTimersPerRecord)]}
			timers = timers[len(rec.Timers):]
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
			w.Write(b)
		}
	}
	_, err := w.Write([]byte{0, 0, 0, 0})
	return err
}

// writePartition streams the stored batches of p that begin below sp.End, from the one holding sp.Start,
// then the end marker.
func writePartition(w *bufio.Writer, p *mqlog.RawPartition, sp snapPartition, buf []byte) ([]byte, error) {
	for from := sp.Start; from < sp.End; {
		var err error
		buf, err = p.ReadBatches(buf[:0], from, 1<<20)
		if err != nil {
			return buf, err
		}
		if len(buf) == 0 {
			return buf, fmt.Errorf("partition ends at %d, snapshot at %d", from, sp.End)
		}
		for b := buf; len(b) > 0 && from < sp.End; {
			h, err := segment.ParseHeader(b)
			if err != nil {
				return buf, err
			}
			size := h.FrameSize()
			if size > int64(len(b)) {
				return buf, fmt.Errorf("%w: batch at offset %d", segment.ErrTruncated, h.BaseOffset)
			}
			w.Write(binary.BigEndian.AppendUint32(nil, uint32(size)))
			w.Write(b[:size])
			b, from = b[size:], h.LastOffset()+1
		}
	}
	_, err := w.Write([]byte{0, 0, 0, 0})
	return buf, err
}

// snapshotReader reads a snapshot stream, bounded: a length past the limits is an error, never an
// allocation.
type snapshotReader struct {
	r         *bufio.Reader
	maxFrame  int
	frame     []byte
	partition string // for errors
}

func readSnapshotHeader(r *bufio.Reader) (*snapshotState, error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("%w: snapshot header: %v", ErrBadSnapshot, err)
	}
	if string(head[:8]) != snapshotMagic {
		return nil, fmt.Errorf("%w: magic %q", ErrBadSnapshot, head[:8])
	}
	n := binary.BigEndian.Uint32(head[8:])
	if n > maxHeaderBytes {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrBadSnapshot, n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	st := &snapshotState{}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	return st, nil
}

// next returns the next frame of the current partition, or nil at its end marker. The frame is reused by
// the next call.
func (s *snapshotReader) next() ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadSnapshot, s.partition, err)
	}
	n := int(binary.BigEndian.Uint32(l[:]))
	if n == 0 {
		return nil, nil
	}
	if n > s.maxFrame {
		return nil, fmt.Errorf("%w: %s: batch of %d bytes, limit %d", ErrBadSnapshot, s.partition, n, s.maxFrame)
	}
	if cap(s.frame) < n {
		s.frame = make([]byte, n)
	}
	s.frame = s.frame[:n]
	if _, err := io.ReadFull(s.r, s.frame); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadSnapshot, s.partition, err)
	}
	return s.frame, nil
}

// nextQueueState returns the next work-queue record, or ok false at the end marker, or at the end of a
// stream written before snapshots had work-queue records.
func (s *snapshotReader) nextQueueState() (save mqlog.QueueStateSave, ok bool, err error) {
	s.partition = "work-queue states"
	s.maxFrame = max(s.maxFrame, MaxCommandBytes+1<<20) // (a record is a state that fit in a command, and timers)
	if _, err := s.r.Peek(1); errors.Is(err, io.EOF) {
		return save, false, nil
	}
	b, err := s.next()
	if err != nil || b == nil {
		return save, false, err
	}
	if err := json.Unmarshal(b, &save); err != nil {
		return save, false, fmt.Errorf("%w: work-queue state: %v", ErrBadSnapshot, err)
	}
	return save, true, nil
}

// skip reads the current partition's frames to its end marker.
func (s *snapshotReader) skip() error {
	for {
		f, err := s.next()
		if err != nil || f == nil {
			return err
		}
	}
}

// ErrBadSnapshot is a snapshot stream that does not decode (damaged, or not this package's).
var ErrBadSnapshot = errors.New("mqlog/cluster: bad snapshot")
