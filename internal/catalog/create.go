package catalog

import (
	"errors"
	"fmt"

	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/wal"
)

// Create creates a topic with cfg (defaults filled, validated by the caller), all or nothing: when a
// partition cannot be opened, what was created is removed again and the error returned. Creating a topic
// that exists with the same partition count returns it with created false; with another count, it is
// ErrTopicExists.
func (c *Catalog) Create(name string, cfg base.TopicConfig) (t *Topic, created bool, err error) {
	if c.readOnly {
		return nil, false, base.ErrReadOnly
	}
	if err := base.ValidateTopicName(name); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil, false, base.ErrClosed
	}
	if t, ok := c.mu.topics[name]; ok {
		if have := t.Config().Partitions; have != cfg.Partitions {
			return nil, false, fmt.Errorf("%w: %s has %d partitions", base.ErrTopicExists, name, have)
		}
		return t, false, nil
	}
	// Files of an earlier topic of this name whose deletion did not finish go first: the new topic's
	// partitions must start empty.
	if err := c.finishDeleteLocked(name); err != nil {
		return nil, false, err
	}
	inc := c.mu.lastIncarnation + 1
	// The config is recorded first: a crash before every partition is opened leaves a topic whose
	// missing partitions the next Open creates.
	if err := c.opts.Index.CreateTopic(name, base.EncodeTopic(cfg, inc), inc); err != nil {
		return nil, false, err
	}
	c.mu.lastIncarnation = inc
	t, err = c.openTopic(name, inc, cfg)
	if err == nil {
		if err = c.syncIndex(); err != nil { // every partition's state, with one synced commit
			closeLogs(t)
		}
	}
	if err != nil {
		// All or nothing: take the topic back out, as DeleteTopic would.
		if undo := c.removeLocked(newTopic(name, inc, cfg)); undo != nil {
			err = errors.Join(err, fmt.Errorf("mqlog: undo the creation of %s: %w", name, undo))
		}
		return nil, false, err
	}
	c.mu.topics[name] = t
	return t, true, nil
}

// Alteration lists the settings Alter changes; nil fields stay as they are. The partition count cannot
// change (keys would move between partitions).
type Alteration struct {
	SegmentBytes      *int64
	RetentionBytes    *int64 // 0 = unlimited
	RetentionMs       *int64 // 0 = unlimited
	CleanupPolicy     *base.CleanupPolicy
	DeleteRetentionMs *int64
	RetentionPolicy   *base.RetentionPolicy
	SegmentMs         *int64 // 0 = the default, 7 days
	DuplicateWindowMs *int64 // 0 = the default window
}

// Alter changes a topic's settings, durably, and applies them to its open partitions at once: a new
// segment size from the next roll check, a new cleanup policy and retention limits from the next cleaner
// run. It returns the new config.
func (c *Catalog) Alter(name string, alt Alteration) (base.TopicConfig, error) {
	if c.readOnly {
		return base.TopicConfig{}, base.ErrReadOnly
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return base.TopicConfig{}, base.ErrClosed
	}
	t, ok := c.mu.topics[name]
	if !ok {
		return base.TopicConfig{}, fmt.Errorf("%w: %s", base.ErrTopicNotFound, name)
	}
	cfg := t.Config()
	setIf(&cfg.SegmentBytes, alt.SegmentBytes)
	setIf(&cfg.RetentionBytes, alt.RetentionBytes)
	setIf(&cfg.RetentionMs, alt.RetentionMs)
	setIf(&cfg.CleanupPolicy, alt.CleanupPolicy)
	setIf(&cfg.DeleteRetentionMs, alt.DeleteRetentionMs)
	setIf(&cfg.RetentionPolicy, alt.RetentionPolicy)
	setIf(&cfg.SegmentMs, alt.SegmentMs)
	setIf(&cfg.DuplicateWindowMs, alt.DuplicateWindowMs)
	if alt.SegmentBytes != nil && *alt.SegmentBytes <= 0 {
		return base.TopicConfig{}, fmt.Errorf("%w: segment bytes %d: must be positive", base.ErrInvalidConfig, *alt.SegmentBytes)
	}
	if err := cfg.Validate(); err != nil {
		return base.TopicConfig{}, err
	}
	if err := c.opts.Index.PutTopic(name, base.EncodeTopic(cfg, t.incarnation)); err != nil {
		return base.TopicConfig{}, err
	}
	t.config.Store(&cfg)
	for _, l := range t.Logs() {
		l.SetSegmentBytes(cfg.SegmentBytes)
		l.SetCompacted(cfg.Compacted())
	}
	return cfg, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// closeLogs closes every log of t, collecting the errors other than ErrClosed.
func closeLogs(t *Topic) error {
	var errs []error
	for _, l := range t.Logs() {
		if err := l.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PartitionObserver is an Observer that also learns of partitions added to a topic (AddPartitions): t's
// Logs are longer from then on. It is called with the catalog's lock held.
type PartitionObserver interface {
	PartitionsAdded(t base.Topic)
}

// AddPartitions raises a topic's partition count to n, as Kafka's `kafka-topics --alter --partitions`:
// the new partitions start empty, and keyed messages may go to other partitions than before (a key's
// messages are in order only within the partition it maps to). It is all or nothing: the config is
// recorded first (so that a crash leaves a topic whose missing partitions the next Open creates), and a
// partition that cannot be opened takes the config back and removes what was created.
func (c *Catalog) AddPartitions(name string, n int) (base.TopicConfig, error) {
	if c.readOnly {
		return base.TopicConfig{}, base.ErrReadOnly
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return base.TopicConfig{}, base.ErrClosed
	}
	t, ok := c.mu.topics[name]
	if !ok {
		return base.TopicConfig{}, fmt.Errorf("%w: %s", base.ErrTopicNotFound, name)
	}
	old := t.Config()
	if n <= old.Partitions {
		return old, fmt.Errorf("%w: %s has %d partitions; the count can only grow", base.ErrInvalidConfig, name, old.Partitions)
	}
	cfg := old
	cfg.Partitions = n
	if err := cfg.Validate(); err != nil {
		return old, err
	}
	if err := c.opts.Index.PutTopic(name, base.EncodeTopic(cfg, t.incarnation)); err != nil {
		return old, err
	}
	logs := append([]*wal.Log(nil), t.Logs()...)
	err := c.makePartitionDirs(name, old.Partitions, n)
	for p := old.Partitions; p < n; p++ {
		var l *wal.Log
		if err == nil {
			l, err = c.openPartition(name, cfg, p)
		}
		if err == nil && p == n-1 {
			if err = c.syncIndex(); err != nil { // the new partitions' states, with one synced commit
				l.Close()
			}
		}
		if err != nil {
			err = fmt.Errorf("mqlog: open %s partition %d: %w", name, p, err)
			for _, added := range logs[old.Partitions:] {
				added.Close()
			}
			if undo := c.opts.Index.PutTopic(name, base.EncodeTopic(old, t.incarnation)); undo != nil {
				return old, errors.Join(err, undo)
			}
			for q := old.Partitions; q < n; q++ { // (makePartitionDirs made them all)
				if rm := c.opts.FS.RemoveAll(c.partitionDir(name, q)); rm != nil {
					err = errors.Join(err, rm)
				}
			}
			return old, err
		}
		logs = append(logs, l)
	}
	t.config.Store(&cfg)
	t.logs.Store(&logs)
	for _, o := range c.mu.observers {
		if po, ok := o.(PartitionObserver); ok {
			po.PartitionsAdded(t)
		}
	}
	return cfg, nil
}
