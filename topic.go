package mqlog

// CreateTopic creates a topic with cfg (zero fields take the defaults), all or nothing. Creating a topic
// that exists with the same partition count is not an error; with another, it is ErrTopicExists.
func (db *DB) CreateTopic(name string, cfg TopicConfig) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	_, _, err := db.catalog.Create(name, cfg)
	return facade(err)
}

// AlterTopic changes a topic's settings, durably, and applies them to its open partitions at once: a new
// segment size from the next roll check, a new cleanup policy and retention limits from the next cleaner
// run (or `mqlog compact`). It returns the new config.
func (db *DB) AlterTopic(name string, alt TopicAlteration) (TopicConfig, error) {
	if err := db.writable(); err != nil {
		return TopicConfig{}, err
	}
	cfg, err := db.catalog.Alter(name, alt)
	return cfg, facade(err)
}

// AddPartitions raises a topic's partition count to n, as Kafka's `kafka-topics --alter --partitions`. The
// new partitions start empty; consumer groups reading the topic rebalance, and open work-queue groups take
// the new partitions in. As in Kafka, keyed messages may then go to other partitions than before: a key's
// messages stay in order only within the partition it maps to, so the order of a key across the change
// is not kept. The count can only grow (ErrInvalidConfig).
func (db *DB) AddPartitions(topic string, n int) (TopicConfig, error) {
	if err := db.writable(); err != nil {
		return TopicConfig{}, err
	}
	cfg, err := db.catalog.AddPartitions(topic, n)
	return cfg, facade(err)
}

// DeleteTopic deletes a topic: it closes its partitions' logs (appends and reads in flight end with
// ErrClosed), deletes everything the index holds about it (config, log states, sparse entries, every
// group's offsets and every work-queue group's acks in it) together with a tombstone in one synced batch,
// then removes its partition directories and the tombstone. Consumers and queues of the topic get
// ErrTopicNotFound from then on, and their commits and acks are refused; a topic created again under the
// name is a new incarnation that none of the old state applies to.
//
// It is crash safe: once the batch is synced the topic is gone for Open, which removes whatever files the
// tombstone names before it opens anything else.
func (db *DB) DeleteTopic(name string) error {
	if err := db.writable(); err != nil {
		return err
	}
	return facade(db.catalog.Delete(name))
}

// Topics returns the names of the topics, sorted.
func (db *DB) Topics() []string { return db.catalog.TopicNames() }

// TopicConfig returns a topic's settings.
func (db *DB) TopicConfig(name string) (TopicConfig, error) {
	t, err := db.catalog.Get(name)
	if err != nil {
		return TopicConfig{}, err
	}
	return t.Config(), nil
}

// Partitions describes each partition of a topic. On a read-only DB it first picks up what a writer in
// another process appended.
func (db *DB) Partitions(name string) ([]PartitionInfo, error) {
	t, err := db.catalog.Get(name)
	if err != nil {
		return nil, err
	}
	logs := t.Logs()
	out := make([]PartitionInfo, len(logs))
	for i, l := range logs {
		if err := l.Refresh(); err != nil {
			return nil, facade(err)
		}
		out[i] = PartitionInfo{Partition: int32(i), StartOffset: l.StartOffset(), HighWatermark: l.HighWatermark(), Segments: l.Segments()}
	}
	return out, nil
}

// UnknownEntries returns the entries of the topics directory, found when db was opened, that belong to no
// topic: not named like a partition directory, of a topic the index does not know, or beyond the topic's
// partition count. They are left as they are: never adopted as a topic, changed or cut. `mqlog verify`
// reports them, and `mqlog repair --execute` records the topics of a lost index.
func (db *DB) UnknownEntries() []string { return db.catalog.Unknown() }
