package mqlog

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/mqlog/mqlog/internal/fsutil"
	"github.com/mqlog/mqlog/wal"
)

// DeleteTopic deletes a topic: it closes its partitions' logs (appends and reads in flight end with
// ErrClosed), deletes everything the index holds about it (config, log states, sparse entries and every
// group's offsets in it) in one synced batch, then removes its partition directories.
//
// The order is what makes it crash safe. The index goes first: once that batch is synced the topic no
// longer exists for Open, whatever is left on disk. A crash before the directories are gone leaves
// partition directories without a config, which Open adopts as a topic with the default settings and
// recovers from its segments like any log without a saved state; deleting the topic again finishes the
// job. The other order would leave a config whose recorded segments are missing, which Open rejects.
// Within a directory, segments are removed oldest first, so what a crash leaves is a valid log.
func (db *DB) DeleteTopic(name string) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	// Holding mu for the whole deletion keeps Append from re-creating the topic halfway.
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return ErrClosed
	}
	t, ok := db.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	delete(db.mu.topics, name)
	var errs []error
	for _, l := range t.partitions {
		if err := l.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := db.store.DeleteTopic(name); err != nil {
		return errors.Join(append(errs, fmt.Errorf("mqlog: delete topic %s from the index: %w", name, err))...)
	}
	for p := range t.partitions {
		if err := db.removePartitionDir(db.opts.FS.PathJoin(db.topicsDir(), partitionDirName(name, p))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removePartitionDir removes a partition directory's files, oldest segment first, then the directory,
// with directory fsyncs.
func (db *DB) removePartitionDir(dir string) error {
	fs := db.opts.FS
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	slices.Sort(names) // 20-digit segment names sort by base offset
	for _, n := range names {
		if err := fs.Remove(fs.PathJoin(dir, n)); err != nil {
			return fmt.Errorf("mqlog: delete %s: %w", fs.PathJoin(dir, n), err)
		}
	}
	if err := fsutil.SyncDir(fs, dir); err != nil {
		return err
	}
	if err := fs.Remove(dir); err != nil {
		return fmt.Errorf("mqlog: delete %s: %w", dir, err)
	}
	return fsutil.SyncDir(fs, db.topicsDir())
}
