package wal

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// readOnlyAll opens dir read-only and reads it from its start: the records read and the error that ended
// the read (nil at the high watermark).
func readOnlyAll(t *testing.T, fs vfs.FS, dir string) (*Log, []int64, error) {
	t.Helper()
	l, err := OpenReadOnly(Options{FS: fs, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.NewReader(l.StartOffset(), false)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return l, offs, nil
		}
		if err != nil {
			return l, offs, err
		}
		offs = append(offs, rec.Offset)
	}
}

// TestReadOnlyEmptyLastSegment is issue 11 item 3: when the last segment holds no valid batch yet (a roll
// that met ENOSPC, a kill between a roll and its first write), a read-only opener used to publish a high
// watermark of 0 and read nothing; it reads every record of the segments before it.
func TestReadOnlyEmptyLastSegment(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 1024)
	for i := range 40 {
		if _, err := l.Append([]segment.Record{{Value: value(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	writeAllFile(t, fs, "/p/"+segment.FileName(40), nil)
	ro, offs, err := readOnlyAll(t, fs, "/p")
	defer ro.Close()
	if err != nil || len(offs) != 40 || ro.HighWatermark() != 40 {
		t.Fatalf("read %d records (err %v), high watermark %d; want 40", len(offs), err, ro.HighWatermark())
	}
	// A last segment whose name leaves a gap after the records before it: the records in between are gone.
	fs.Remove("/p/" + segment.FileName(40))
	writeAllFile(t, fs, "/p/"+segment.FileName(45), nil)
	ro2, offs, err := readOnlyAll(t, fs, "/p")
	defer ro2.Close()
	var ce *segment.CorruptionError
	if len(offs) != 40 || !errors.As(err, &ce) || ce.Path != "/p/"+segment.FileName(45) {
		t.Fatalf("read %d records, then %v; want 40 and the gap before %s", len(offs), err, segment.FileName(45))
	}
}

// TestReadOnlyDamageInLastSegment: damage in the last segment, followed by valid batches, is not taken as a
// batch not yet written (the read-only opener used to stop there in silence, hiding what follows): the
// reader reads up to it and then gets the *segment.CorruptionError.
func TestReadOnlyDamageInLastSegment(t *testing.T) {
	const n = 30
	img, _, pos := killedLog(t, n, 100)
	path := "/p/" + segment.FileName(0)
	data := readAllFile(t, img, path)
	data[pos[n/2]+segment.HeaderSize+3] ^= 0x40
	writeAllFile(t, img, path, data)
	l, offs, err := readOnlyAll(t, img, "/p")
	defer l.Close()
	var ce *segment.CorruptionError
	if len(offs) != n/2 || !errors.As(err, &ce) || ce.Offset != pos[n/2] {
		t.Fatalf("read %d records, then %v; want %d and the damage at byte %d", len(offs), err, n/2, pos[n/2])
	}

	// A damaged epoch field is no reason to stop: the records are intact (CRC-checked).
	data[pos[n/2]+segment.HeaderSize+3] ^= 0x40
	segment.SetEpoch(data[pos[n/3]:], 0)
	writeAllFile(t, img, path, data)
	l2, offs, err := readOnlyAll(t, img, "/p")
	defer l2.Close()
	if err != nil || len(offs) != n {
		t.Fatalf("with a damaged epoch field: read %d records, %v; want all %d", len(offs), err, n)
	}
}
