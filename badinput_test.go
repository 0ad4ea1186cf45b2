package mqlog

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// badInputDB builds a data directory on an in-memory filesystem with topic "t" in segments of about 1 KiB,
// closed cleanly, and returns the filesystem and the partition directory.
func badInputDB(t *testing.T) (vfs.FS, string) {
	t.Helper()
	fs := vfs.NewMem()
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, 60)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return fs, fs.PathJoin(crashDir, TopicsDirName, "t-0")
}

func segmentPaths(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if _, ok := segment.ParseFileName(n); ok {
			out = append(out, fs.PathJoin(dir, n))
		}
	}
	if len(out) < 3 {
		t.Fatalf("want several segments, have %v", out)
	}
	slices.Sort(out)
	return out
}

func wantCorruption(t *testing.T, err error, path string) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *CorruptionError", err)
	}
	if ce.Path != path {
		t.Fatalf("corruption names %s, want %s", ce.Path, path)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("message %q does not name the file", err)
	}
	return ce
}

func TestGarbageFileInPartitionDir(t *testing.T) {
	fs, dir := badInputDB(t)
	writeFile(t, fs, fs.PathJoin(dir, "notes.txt"), []byte("hello"), false)
	_, err := Open(crashDir, &Options{FS: fs})
	if !errors.Is(err, wal.ErrUnexpectedFile) || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("Open = %v, want ErrUnexpectedFile naming notes.txt", err)
	}
}

func TestTruncatedClosedSegment(t *testing.T) {
	fs, dir := badInputDB(t)
	segs := segmentPaths(t, fs, dir)
	data := readFile(t, fs, segs[1])
	writeFile(t, fs, segs[1], data[:len(data)/2], false)
	_, err := Open(crashDir, &Options{FS: fs})
	ce := wantCorruption(t, err, segs[1])
	if ce.Offset != int64(len(data)/2) {
		t.Fatalf("corruption at byte %d, want %d (where the file now ends)", ce.Offset, len(data)/2)
	}
}

func TestMissingSegment(t *testing.T) {
	fs, dir := badInputDB(t)
	segs := segmentPaths(t, fs, dir)
	if err := fs.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	_, err := Open(crashDir, &Options{FS: fs})
	ce := wantCorruption(t, err, segs[1])
	if !errors.Is(ce, wal.ErrMissingSegment) {
		t.Fatalf("got %v, want ErrMissingSegment", err)
	}
}

// A bit flip in durable data is reported when read, with file and offset; the records before it still read,
// and nothing is cut: the log keeps every record after a reopen.
func TestCorruptBatchInDurableData(t *testing.T) {
	fs, dir := badInputDB(t)
	segs := segmentPaths(t, fs, dir)
	data := readFile(t, fs, segs[1])
	var second int64
	res, err := segment.Scan(strings.NewReader(string(data)), 0, int64(len(data)), segment.ScanOptions{NextOffset: -1},
		func(pos int64, h segment.BatchHeader) error {
			if second == 0 && pos > 0 {
				second = pos
			}
			return nil
		})
	if err != nil || res.Stop != nil || second == 0 {
		t.Fatalf("scan: %v %v", err, res.Stop)
	}
	flipped := append([]byte(nil), data...)
	flipped[second+segment.HeaderSize+3] ^= 0x10 // inside the records, covered by the CRC
	writeFile(t, fs, segs[1], flipped, false)

	for range 2 {
		db, err := Open(crashDir, &Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var readErr error
		for rec, err := range db.Read("t", 0, 0) {
			if err != nil {
				readErr = err
				break
			}
			if rec.Offset != int64(n) {
				t.Fatalf("record %d has offset %d", n, rec.Offset)
			}
			n++
		}
		ce := wantCorruption(t, readErr, segs[1])
		if ce.Offset != second || !errors.Is(readErr, segment.ErrBadCRC) {
			t.Fatalf("corruption %v at %d, want ErrBadCRC at %d", readErr, ce.Offset, second)
		}
		if n == 0 {
			t.Fatal("no record read before the damage")
		}
		// Reading past the damaged batch still works.
		infos, _ := db.Partitions("t")
		if hw := infos[0].HighWatermark; hw != 60 {
			t.Fatalf("high watermark %d after reopen, want 60: the log was cut", hw)
		}
		db.Close()
	}
}

func TestGarbageNamedLikeASegment(t *testing.T) {
	fs, dir := badInputDB(t)
	path := fs.PathJoin(dir, segment.FileName(1_000_000))
	writeFile(t, fs, path, []byte(strings.Repeat("garbage!", 100)), false)
	_, err := Open(crashDir, &Options{FS: fs})
	wantCorruption(t, err, path)
}

func TestInvalidTopicNames(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"", ".", "..", "../etc", "a/b", "a\x00b", strings.Repeat("x", 250), "sp ace"} {
		if err := db.CreateTopic(name, TopicConfig{}); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("CreateTopic(%q) = %v, want ErrInvalidTopic", name, err)
		}
	}
}
