package catalog

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mqlog/mqlog/internal/base"
)

// tombstone is the index's record of a deleted topic whose files may remain.
type tombstone struct {
	Incarnation base.Incarnation `json:"incarnation"`
	Partitions  int              `json:"partitions"`
}

// Delete deletes a topic (see the package doc for the order that makes it crash safe): its logs are
// closed (appends and reads in flight end with ErrClosed), its state leaves the index with a tombstone in
// one synced batch, the observers learn of it, then its files are removed and the tombstone dropped.
func (c *Catalog) Delete(name string) error {
	if c.readOnly {
		return base.ErrReadOnly
	}
	if err := base.ValidateTopicName(name); err != nil {
		return err
	}
	// Holding mu for the whole deletion keeps Append from re-creating the topic halfway.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return base.ErrClosed
	}
	t, ok := c.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: %s", base.ErrTopicNotFound, name)
	}
	delete(c.mu.topics, name)
	close(t.deleted)
	closeErr := closeLogs(t)
	if err := c.removeLocked(t); err != nil {
		return errors.Join(closeErr, err)
	}
	return closeErr
}

// removeLocked takes t out of the index (with a tombstone), tells the observers, removes its files and
// drops the tombstone. t's logs are closed.
func (c *Catalog) removeLocked(t *Topic) error {
	tomb, _ := json.Marshal(tombstone{Incarnation: t.incarnation, Partitions: t.Config().Partitions})
	if err := c.opts.Index.DeleteTopic(t.name, tomb); err != nil {
		return fmt.Errorf("mqlog: delete topic %s from the index: %w", t.name, err)
	}
	for _, o := range c.mu.observers {
		o.TopicDeleted(t)
	}
	return c.finishDeleteLocked(t.name)
}

// finishDeleteLocked removes the files a tombstone of name stands for, then the tombstone. Without a
// tombstone it does nothing.
func (c *Catalog) finishDeleteLocked(name string) error {
	tombs, err := c.opts.Index.Tombstones()
	if err != nil {
		return err
	}
	if _, ok := tombs[name]; !ok {
		return nil
	}
	if err := c.removePartitionDirs(name); err != nil {
		return fmt.Errorf("mqlog: remove the files of deleted topic %s: %w", name, err)
	}
	return c.opts.Index.DeleteTombstone(name)
}

// finishDeletes completes, at Open, every deletion a crash interrupted.
func (c *Catalog) finishDeletes() error {
	tombs, err := c.opts.Index.Tombstones()
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(tombs) {
		c.opts.Logger.Info("mqlog: finishing the deletion of a topic", "topic", name)
		if err := c.finishDeleteLocked(name); err != nil {
			return err
		}
	}
	return nil
}
