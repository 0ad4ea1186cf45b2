package catalog

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/fsutil"
)

// partitionDir is an entry of the topics directory named like a partition directory.
type partitionDir struct {
	name      string // the entry's name, <topic>-<partition>
	topic     string
	partition int32
}

// listPartitionDirs lists the entries of topicsDir named like partition directories. An entry named
// otherwise is not an error here: Open reports it as unknown, verify as unexpected.
func listPartitionDirs(fs vfs.FS, topicsDir string) ([]partitionDir, error) {
	names, err := fs.List(topicsDir)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []partitionDir
	for _, n := range names {
		if topic, p, ok := base.ParsePartitionDir(n); ok {
			out = append(out, partitionDir{name: n, topic: topic, partition: p})
		}
	}
	return out, nil
}

// removePartitionDirs removes every partition directory of topic found on disk and its files, then syncs
// the topics directory once. It is used only on directories whose topic is gone from the index (a
// tombstone names it), so no order between the removals matters: whatever a crash leaves is removed by
// the next Open.
func (c *Catalog) removePartitionDirs(topic string) error {
	fs := c.opts.FS
	found, err := listPartitionDirs(fs, c.topicsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	removed := false
	for _, d := range found {
		if d.topic != topic {
			continue
		}
		dir := fs.PathJoin(c.topicsDir(), d.name)
		if err := removeDirContents(fs, dir); err != nil {
			return err
		}
		if err := fs.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mqlog: delete %s: %w", dir, err)
		}
		removed = true
	}
	if !removed {
		return nil
	}
	return fsutil.SyncDir(fs, c.topicsDir())
}

// removeDirContents removes the files of a partition directory. A subdirectory (nothing mqlog writes) is
// removed with what it holds; a symlink is removed, never followed.
func removeDirContents(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, n := range names {
		path := fs.PathJoin(dir, n)
		if err := fs.RemoveAll(path); err != nil {
			return fmt.Errorf("mqlog: delete %s: %w", path, err)
		}
	}
	return nil
}
