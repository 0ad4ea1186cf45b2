package mqlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCreateOnSmallDisk is issue 14's report on a small real filesystem (a 48 MiB tmpfs, mounted when
// the test runs as root; skipped otherwise): with topic keep on it, a topic of 100 partitions of 16 MiB
// segments is created (before: the preallocation of partition 2 failed with ENOSPC, and keep could no
// longer be written), every partition of both takes appends (the preallocations that find no space fall
// back to growing the file, and are counted), and a reopen finds everything.
func TestCreateOnSmallDisk(t *testing.T) {
	mnt := mountTmpfs(t, "48m")
	dir := filepath.Join(mnt, "data")
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // (before the unmount; the last db opened)
	ctx := context.Background()
	const seg = 16 << 20
	if err := db.CreateTopic("keep", TopicConfig{SegmentBytes: seg}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, "keep", Message{Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("big", TopicConfig{Partitions: 100, SegmentBytes: seg}); err != nil {
		t.Fatalf("create big on a small disk: %v", err)
	}
	for p := range int32(100) {
		if _, err := db.AppendPartition(ctx, "big", p, Message{Value: []byte("m")}); err != nil {
			t.Fatalf("append to big partition %d: %v", p, err)
		}
	}
	if _, err := db.Append(ctx, "keep", Message{Value: []byte("after")}); err != nil {
		t.Fatalf("append to keep after big: %v", err)
	}
	if m := db.Metrics(); m.PreallocFailures == 0 {
		t.Fatalf("no preallocation failed on a disk of 48 MiB for 101 partitions: %+v", m)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Topics(); !slices.Equal(got, []string{"big", "keep"}) {
		t.Fatalf("topics after reopen: %v", got)
	}
	if _, err := db.Append(ctx, "keep", Message{Value: []byte("reopened")}); err != nil {
		t.Fatal(err)
	}
}

// failDirFS fails, with ENOSPC, the creation of any directory or file whose path contains marker.
type failDirFS struct {
	vfs.FS
	marker string
}

func (fs failDirFS) check(name string) error {
	if strings.Contains(name, fs.marker) {
		return &os.PathError{Op: "create", Path: name, Err: syscall.ENOSPC}
	}
	return nil
}

func (fs failDirFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := fs.check(dir); err != nil {
		return err
	}
	return fs.FS.MkdirAll(dir, perm)
}

func (fs failDirFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.check(name); err != nil {
		return nil, err
	}
	return fs.FS.Create(name, c)
}

func (fs failDirFS) Unwrap() vfs.FS { return fs.FS }

// A topic whose partition 28 cannot be created is not created at all: no trace in the index or on disk,
// the other topics stay writable, and a reopen knows only them.
func TestCreateAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	fs := failDirFS{FS: vfs.Default, marker: "big-28"}
	db, err := Open(dir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.CreateTopic("keep", TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	err = db.CreateTopic("big", TopicConfig{Partitions: 100})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create big: %v, want ENOSPC", err)
	}
	if got := db.Topics(); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("topics after the failed create: %v", got)
	}
	if _, err := db.Append(ctx, "keep", Message{Value: []byte("after")}); err != nil {
		t.Fatalf("append to keep: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*", "big-*"))
	if len(left) > 0 {
		t.Fatalf("partition directories left by the failed create: %v", left)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Topics(); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("topics after reopen: %v", got)
	}
	if err := db.CreateTopic("big", TopicConfig{Partitions: 100}); err != nil {
		t.Fatalf("create big again: %v", err)
	}
}
