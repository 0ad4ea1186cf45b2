package mqlog

import (
	"fmt"
)

// TopicAlteration lists the settings AlterTopic changes; nil fields stay as they are. The partition count
// cannot change (keys would move between partitions).
type TopicAlteration struct {
	SegmentBytes      *int64
	RetentionBytes    *int64 // 0 = unlimited
	RetentionMs       *int64 // 0 = unlimited
	CleanupPolicy     *CleanupPolicy
	DeleteRetentionMs *int64
	RetentionPolicy   *RetentionPolicy
}

// AlterTopic changes a topic's settings, durably, and applies them to its open partitions at once: a new
// segment size from the next roll check, a new cleanup policy and retention limits from the next cleaner
// run (or `mqlog compact`). It returns the new config.
func (db *DB) AlterTopic(name string, alt TopicAlteration) (TopicConfig, error) {
	if db.readOnly {
		return TopicConfig{}, ErrReadOnly
	}
	t, err := db.topic(name)
	if err != nil {
		return TopicConfig{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	cfg := t.config
	setIf(&cfg.SegmentBytes, alt.SegmentBytes)
	setIf(&cfg.RetentionBytes, alt.RetentionBytes)
	setIf(&cfg.RetentionMs, alt.RetentionMs)
	setIf(&cfg.CleanupPolicy, alt.CleanupPolicy)
	setIf(&cfg.DeleteRetentionMs, alt.DeleteRetentionMs)
	setIf(&cfg.RetentionPolicy, alt.RetentionPolicy)
	if alt.SegmentBytes != nil && *alt.SegmentBytes <= 0 {
		return TopicConfig{}, fmt.Errorf("mqlog: segment bytes %d: must be positive", *alt.SegmentBytes)
	}
	if err := cfg.validate(); err != nil {
		return TopicConfig{}, err
	}
	if err := db.store.PutTopic(name, encodeTopicConfig(cfg)); err != nil {
		return TopicConfig{}, err
	}
	t.config = cfg
	for _, l := range t.partitions {
		l.SetSegmentBytes(cfg.SegmentBytes)
		l.SetCompacted(cfg.CleanupPolicy == CleanupCompact)
	}
	return cfg, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// validate checks settings that withDefaults does not fill.
func (c TopicConfig) validate() error {
	if c.CleanupPolicy != CleanupDelete && c.CleanupPolicy != CleanupCompact {
		return fmt.Errorf("mqlog: unknown cleanup policy %q (delete or compact)", c.CleanupPolicy)
	}
	switch c.RetentionPolicy {
	case "", RetentionLimits, RetentionInterest:
	default:
		return fmt.Errorf("mqlog: unknown retention policy %q (limits or interest)", c.RetentionPolicy)
	}
	if c.RetentionBytes < 0 || c.RetentionMs < 0 || c.DeleteRetentionMs < 0 {
		return fmt.Errorf("mqlog: negative retention setting in %+v", c)
	}
	return nil
}

// configOf returns t's current config (AlterTopic may change it at any time).
func (db *DB) configOf(t *topic) TopicConfig {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return t.config
}
