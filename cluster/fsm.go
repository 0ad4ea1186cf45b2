package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
)

// fsm is the replicated state machine: one for the whole DB. It applies each committed command to the
// local DB, in commit order, on every node alike, so every node's partitions hold the same batches at
// the same offsets and its groups the same offsets. What the DB does not hold (the voters' Kafka
// addresses, the next idempotent producer id) is kept here, in memory: rebuilt at start from the
// snapshot and the entries raft replays after it, like the DB itself (restore.go).
//
// Apply runs on raft's FSM goroutine, one entry at a time; Snapshot too. The mu fields are also read by
// the Node's accessors.
type fsm struct {
	db     *mqlog.DB
	logger *slog.Logger
	// failed is called once with the error of a local failure (a disk error applying an entry): the node
	// can no longer follow the log and stops (fail-stop; a restart rebuilds the DB from the raft log).
	failed func(error)

	mu struct {
		sync.Mutex
		brokers        map[int32]Broker
		nextProducerID int64
		topicIDs       map[string]uint64 // raft index of each topic's creating command
		applied        uint64            // raft index of the last command applied (0 until one is, after a start)
		err            error             // sticky: set by a local failure, returned by every later Apply
	}
}

var _ raft.BatchingFSM = (*fsm)(nil)

// applyResult is what Apply returns to the leader's caller (raft.ApplyFuture.Response).
type applyResult struct {
	value any   // per command: mqlog.AppendResult, []error, mqlog.ProducerID, nil
	err   error // the command's error, the same on every node (or the node's sticky failure)
}

func newFSM(db *mqlog.DB, logger *slog.Logger, failed func(error)) *fsm {
	f := &fsm{db: db, logger: logger, failed: failed}
	f.mu.brokers = map[int32]Broker{}
	f.mu.topicIDs = map[string]uint64{}
	return f
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	res := f.finish(l, f.apply(l))
	f.setApplied(l.Index)
	return res
}

// ApplyBatch implements raft.BatchingFSM: raft hands over the entries committed together. Their appends
// run concurrently, so that they share the DB's group commits (one write and one fsync for many, where
// Apply pays one per entry); the appends to one partition keep their commit order, each starting once
// the one before has its offsets (RawPartition.AppendBatch's ordered hook), so every node assigns the
// same offsets and runs the same sequence checks. Any other command waits for the appends before it and
// runs alone. The applied index moves to the batch's last entry once all of it is applied.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	var wg sync.WaitGroup
	type partitionKey struct {
		topic     string
		partition int32
	}
	queued := map[partitionKey]<-chan struct{}{}
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		var c appendCmd
		var err error
		if len(l.Data) > 0 && opType(l.Data[0]) == opAppend {
			c, err = decodeAppend(l.Data[1:])
		}
		if len(l.Data) == 0 || opType(l.Data[0]) != opAppend || err != nil {
			wg.Wait()
			clear(queued)
			out[i] = f.finish(l, f.apply(l))
			continue
		}
		key := partitionKey{c.topic, c.partition}
		prev := queued[key]
		done := make(chan struct{})
		queued[key] = done
		wg.Add(1)
		go func() {
			defer wg.Done()
			ordered := sync.OnceFunc(func() { close(done) })
			defer ordered()
			if prev != nil {
				<-prev
			}
			out[i] = f.finish(l, f.applyAppend(c, ordered))
		}()
	}
	wg.Wait()
	if len(logs) > 0 {
		f.setApplied(logs[len(logs)-1].Index)
	}
	return out
}

func (f *fsm) setApplied(index uint64) {
	f.mu.Lock()
	f.mu.applied = max(f.mu.applied, index)
	f.mu.Unlock()
}

// finish turns a command's outcome into Apply's result: a local failure (not the command's outcome)
// stops the node, and every later command gets it.
func (f *fsm) finish(l *raft.Log, res applyResult) applyResult {
	if res.err == nil || res.err == f.Err() {
		return res
	}
	f.logger.Debug("mqlog/cluster: command refused", "index", l.Index, "err", res.err)
	if !local(res.err) {
		return res
	}
	err := fmt.Errorf("mqlog/cluster: node stopped applying at raft index %d: %w", l.Index, res.err)
	f.mu.Lock()
	first := f.mu.err == nil
	if first {
		f.mu.err = err
	}
	f.mu.Unlock()
	if first {
		f.logger.Error("mqlog/cluster: local failure applying a committed entry; the node stops", "index", l.Index, "err", res.err)
		f.failed(err)
	}
	res.err = err
	return res
}

// local reports whether err is this node's own failure (its disk, its DB closed) rather than the
// command's outcome, which every node meets alike.
func local(err error) bool {
	var errno syscall.Errno
	var pathErr *fs.PathError
	return errors.Is(err, mqlog.ErrClosed) || errors.Is(err, mqlog.ErrFailStop) || errors.As(err, &errno) || errors.As(err, &pathErr)
}

func (f *fsm) apply(l *raft.Log) applyResult {
	if err := f.Err(); err != nil {
		return applyResult{err: err}
	}
	if len(l.Data) == 0 {
		return applyResult{err: fmt.Errorf("%w: empty entry %d", ErrBadCommand, l.Index)}
	}
	op, body := opType(l.Data[0]), l.Data[1:]
	switch op {
	case opAppend:
		c, err := decodeAppend(body)
		if err != nil {
			return applyResult{err: err}
		}
		return f.applyAppend(c, nil)
	case opCreateTopic:
		var c createTopicCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		_, existed := f.db.TopicConfig(c.Name)
		err := f.db.CreateTopic(c.Name, c.Config)
		if err == nil && existed != nil {
			f.mu.Lock()
			f.mu.topicIDs[c.Name] = l.Index
			f.mu.Unlock()
		}
		return applyResult{err: err}
	case opDeleteTopic:
		var c nameCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		err := f.db.DeleteTopic(c.Name)
		if err == nil {
			f.mu.Lock()
			delete(f.mu.topicIDs, c.Name)
			f.mu.Unlock()
		}
		return applyResult{err: err}
	case opAddPartitions:
		var c addPartitionsCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		cfg, err := f.db.AddPartitions(c.Topic, c.Count)
		return applyResult{value: cfg, err: err}
	case opSetOffsets:
		var c setOffsetsCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		errs, err := f.db.SetGroupOffsets(c.Group, c.Offsets)
		return applyResult{value: errs, err: err}
	case opDeleteGroup:
		var c nameCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		// The group's work-queue state goes with its offsets, as DB.DeleteGroup deletes both.
		if err := f.db.DeleteAllGroupOffsets(c.Name); err != nil {
			return applyResult{err: err}
		}
		return applyResult{err: f.db.DeleteQueueState(c.Name)}
	case opQueueState:
		var c queueStateCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		return f.applyQueueState(c, l.Term)
	case opSetBroker:
		var b Broker
		if err := decodeJSON(body, &b); err != nil {
			return applyResult{err: err}
		}
		f.mu.Lock()
		f.mu.brokers[b.ID] = b
		f.mu.Unlock()
		return applyResult{}
	case opRemoveBroker:
		var c idCmd
		if err := decodeJSON(body, &c); err != nil {
			return applyResult{err: err}
		}
		f.mu.Lock()
		delete(f.mu.brokers, c.ID)
		f.mu.Unlock()
		return applyResult{}
	case opProducerID:
		f.mu.Lock()
		id := f.mu.nextProducerID
		f.mu.nextProducerID++
		f.mu.Unlock()
		return applyResult{value: mqlog.ProducerID{ID: id}}
	}
	return applyResult{err: fmt.Errorf("%w: unknown type %d in entry %d", ErrBadCommand, op, l.Index)}
}

// applyAppend appends an append command's batch to its partition; ordered (when not nil) is called once
// the batch's place in the partition is decided.
func (f *fsm) applyAppend(c appendCmd, ordered func()) applyResult {
	if err := f.Err(); err != nil {
		return applyResult{err: err}
	}
	p, err := f.db.RawPartition(c.topic, c.partition)
	if err != nil {
		return applyResult{err: err}
	}
	// A copy: the log patches the frame's base offset and epoch in place, and the entry's Data is raft's
	// own (the leader may be sending it to a follower at the same time).
	res, err := p.AppendBatch(context.Background(), bytes.Clone(c.frame), ordered)
	if err != nil && p.Err() != nil {
		err = errors.Join(err, mqlog.ErrFailStop)
	}
	return applyResult{value: res, err: err}
}

// broker returns the replicated Kafka address of voter id.
func (f *fsm) broker(id int32) (Broker, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.mu.brokers[id]
	return b, ok
}

// topicID returns the replicated incarnation of a topic (the raft index that created it).
func (f *fsm) topicID(name string) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.mu.topicIDs[name]
	return id, ok
}

// appliedIndex returns the raft index of the last command applied to the DB.
func (f *fsm) appliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.applied
}

// Err returns the sticky local failure, or nil.
func (f *fsm) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.err
}
