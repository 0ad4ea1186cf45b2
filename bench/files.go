package bench

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DropPageCache fsyncs every regular file under dir (dirty pages cannot be dropped) and then asks the
// kernel to drop its cached pages with posix_fadvise(POSIX_FADV_DONTNEED), so that the next read of them
// goes to the disk: a cold read without dropping the whole machine's page cache (which needs root).
func DropPageCache(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return err
		}
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return &os.PathError{Op: "fadvise", Path: path, Err: err}
		}
		return nil
	})
}

// DiskUsage returns the bytes allocated to the regular files under dir (st_blocks × 512, as du counts)
// and the sum of their sizes.
func DiskUsage(dir string) (allocated, size int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return &os.PathError{Op: "stat", Path: path, Err: err}
		}
		allocated += st.Blocks * 512
		size += st.Size
		return nil
	})
	return allocated, size, err
}
