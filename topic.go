package mqlog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mqlog/mqlog/wal"
)

// MaxTopicNameLength is Kafka's limit on a topic name.
const MaxTopicNameLength = 249

// topic is an open topic: its config and one log per partition.
type topic struct {
	name       string
	config     TopicConfig
	partitions []*wal.Log
	roundRobin atomic.Uint64 // picks the partition of keyless batches
}

// ValidateTopicName reports whether name follows Kafka's rule: 1 to 249 characters of [a-zA-Z0-9._-],
// not "." or "..". Such a name cannot escape the data directory.
func ValidateTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxTopicNameLength {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has %q", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

func partitionDirName(topic string, partition int) string {
	return topic + "-" + strconv.Itoa(partition)
}

// parsePartitionDir splits "<topic>-<partition>" at its last dash.
func parsePartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || ValidateTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], int32(p), true
}

func encodeTopicConfig(c TopicConfig) []byte {
	b, _ := json.Marshal(c) // a struct of numbers and a string cannot fail to marshal
	return b
}

func decodeTopicConfig(b []byte) (TopicConfig, error) {
	var c TopicConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("bad stored config: %w", err)
	}
	if c.Partitions <= 0 || c.Partitions > 1<<20 {
		return c, fmt.Errorf("bad stored config: %d partitions", c.Partitions)
	}
	return c.withDefaults(), nil
}

func (db *DB) openTopic(name string, cfg TopicConfig) (*topic, error) {
	t := &topic{name: name, config: cfg}
	for p := 0; p < cfg.Partitions; p++ {
		opts := wal.Options{
			FS:           db.opts.FS,
			Dir:          db.opts.FS.PathJoin(db.topicsDir(), partitionDirName(name, p)),
			SegmentBytes: cfg.SegmentBytes,
			Sync:         db.opts.Sync,
			SyncInterval: db.opts.SyncInterval,
			Compression:  db.opts.Compression,
			Limits:       db.opts.limits(),
			Compacted:    cfg.CleanupPolicy == CleanupCompact,
			Logger:       db.opts.Logger,
		}
		var l *wal.Log
		var err error
		if db.readOnly {
			l, err = wal.OpenReadOnly(opts)
		} else {
			opts.Index = partitionIndex{store: db.store, topic: name, partition: int32(p)}
			l, err = wal.Open(opts)
		}
		if err != nil {
			for _, open := range t.partitions {
				open.Close()
			}
			return nil, fmt.Errorf("mqlog: open %s partition %d: %w", name, p, err)
		}
		t.partitions = append(t.partitions, l)
	}
	return t, nil
}

// CreateTopic creates a topic with cfg (zero fields take the defaults). Creating a topic that exists with
// the same partition count is not an error; with another, it is ErrTopicExists.
func (db *DB) CreateTopic(name string, cfg TopicConfig) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	_, err := db.createTopic(name, cfg)
	return err
}

func (db *DB) createTopic(name string, cfg TopicConfig) (*topic, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return nil, ErrClosed
	}
	if t, ok := db.mu.topics[name]; ok {
		if t.config.Partitions != cfg.Partitions {
			return nil, fmt.Errorf("%w: %s has %d partitions", ErrTopicExists, name, t.config.Partitions)
		}
		return t, nil
	}
	// The config is recorded first: partition directories without it would be adopted with defaults.
	if err := db.store.PutTopic(name, encodeTopicConfig(cfg)); err != nil {
		return nil, err
	}
	t, err := db.openTopic(name, cfg)
	if err != nil {
		return nil, err
	}
	db.mu.topics[name] = t
	return t, nil
}

// topic returns the open topic name, or ErrTopicNotFound.
func (db *DB) topic(name string) (*topic, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.closed {
		return nil, ErrClosed
	}
	t, ok := db.mu.topics[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	return t, nil
}

func (t *topic) partition(p int32) (*wal.Log, error) {
	if p < 0 || int(p) >= len(t.partitions) {
		return nil, fmt.Errorf("%w: %s has no partition %d", ErrInvalidPartition, t.name, p)
	}
	return t.partitions[p], nil
}

// TopicConfig returns a topic's settings.
func (db *DB) TopicConfig(name string) (TopicConfig, error) {
	t, err := db.topic(name)
	if err != nil {
		return TopicConfig{}, err
	}
	return db.configOf(t), nil
}

// PartitionInfo describes one partition's log.
type PartitionInfo struct {
	Partition     int32
	StartOffset   int64 // first offset held
	HighWatermark int64 // offset after the last readable record
	Segments      []wal.SegmentInfo
}

// Partitions describes each partition of a topic. On a read-only DB it first picks up what a writer in
// another process appended.
func (db *DB) Partitions(name string) ([]PartitionInfo, error) {
	t, err := db.topic(name)
	if err != nil {
		return nil, err
	}
	out := make([]PartitionInfo, len(t.partitions))
	for i, l := range t.partitions {
		if err := l.Refresh(); err != nil {
			return nil, err
		}
		out[i] = PartitionInfo{Partition: int32(i), StartOffset: l.StartOffset(), HighWatermark: l.HighWatermark(), Segments: l.Segments()}
	}
	return out, nil
}
