package mqlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// damage changes the bytes of a durable segment. It returns the byte offset the corruption must be
// reported at (-1: anywhere in that file) and the sentinel it must wrap (nil: any).
type damage struct {
	name  string
	apply func(data []byte, frames []int64) (out []byte, at int64, want error)
	// intact is set for damage that must not be reported: the log reads in full.
	intact bool
}

var durableDamage = []damage{
	{name: "bit-flip-in-records", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		d[fr[1]+segment.HeaderSize+2] ^= 0x04
		return d, fr[1], segment.ErrBadCRC
	}},
	{name: "bit-flip-in-crc", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		d[fr[1]+17] ^= 0x80
		return d, fr[1], segment.ErrBadCRC
	}},
	{name: "zeroed-512B-sector", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		clear(d[fr[1]:min(fr[1]+512, int64(len(d)))])
		return d, fr[1], nil
	}},
	{name: "garbage-frame", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		for i := fr[1]; i < fr[2]; i++ {
			d[i] = byte(i*7 + 3)
		}
		return d, fr[1], nil
	}},
	{name: "huge-length-field", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		binary.BigEndian.PutUint32(d[fr[1]+8:], 0x7fffffff)
		return d, fr[1], nil
	}},
	{name: "name-above-first-offset", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		for _, pos := range fr {
			h := headerAt(d, pos)
			segment.SetBaseOffset(d[pos:], h.BaseOffset-3) // the CRC does not cover the base offset
		}
		return d, 0, segment.ErrBadOffset
	}},
	{name: "offset-goes-backwards", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		segment.SetBaseOffset(d[fr[2]:], headerAt(d, fr[1]).BaseOffset-1)
		return d, fr[2], segment.ErrBadOffset
	}},
	{name: "offsets-overlap", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		segment.SetBaseOffset(d[fr[2]:], headerAt(d, fr[1]).BaseOffset)
		return d, fr[2], segment.ErrBadOffset
	}},
	{name: "offset-skips-ahead", apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		segment.SetBaseOffset(d[fr[2]:], headerAt(d, fr[2]).BaseOffset+1)
		return d, fr[2], segment.ErrBadOffset
	}},
	{name: "flipped-epoch", intact: true, apply: func(d []byte, fr []int64) ([]byte, int64, error) {
		// The epoch is one of the 21 bytes the CRC does not cover; in durable data it is not checked, and a
		// changed epoch must not cut the log (TESTING.md item 4).
		segment.SetEpoch(d[fr[1]:], 0x5a5a5a5a)
		return d, 0, nil
	}},
}

func headerAt(d []byte, pos int64) segment.BatchHeader {
	var h segment.BatchHeader
	segment.Scan(bytes.NewReader(d), pos, int64(len(d)), segment.ScanOptions{NextOffset: -1},
		func(p int64, bh segment.BatchHeader) error {
			h = bh
			return errStopScan
		})
	return h
}

var errStopScan = errors.New("stop")

// framePositions returns the byte position of every frame of a valid segment.
func framePositions(t *testing.T, data []byte) []int64 {
	t.Helper()
	var out []int64
	res, err := segment.Scan(bytes.NewReader(data), 0, int64(len(data)), segment.ScanOptions{NextOffset: -1},
		func(pos int64, h segment.BatchHeader) error { out = append(out, pos); return nil })
	if err != nil || res.Stop != nil || len(out) < 4 {
		t.Fatalf("scan: %d frames, %v %v", len(out), err, res.Stop)
	}
	return out
}

// TestCorruptionInDurableData is TESTING.md item 4: damage before the recorded durable point (here in a
// closed segment in the middle of the log) is reported as a *CorruptionError naming the file and the byte
// offset, by the writer's Open or its reads and by a read-only opener; the records before the damage read in
// order; reading never allocates more than a small bound; and nothing is cut: after two opens every segment
// file still has the bytes it had.
func TestCorruptionInDurableData(t *testing.T) {
	for _, dm := range durableDamage {
		t.Run(dm.name, func(t *testing.T) {
			fs, dir := badInputDB(t)
			segs := segmentPaths(t, fs, dir)
			data := readFile(t, fs, segs[1])
			damaged, at, want := dm.apply(slicesClone(data), framePositions(t, data))
			writeFile(t, fs, segs[1], damaged, false)
			before := snapshotSegments(t, fs, segs)

			for round := range 2 {
				db, err := Open(crashDir, &Options{FS: fs})
				if err != nil {
					checkCorruption(t, err, segs[1], at, want)
					break
				}
				n, readErr := readUntilError(t, db)
				db.Close()
				if dm.intact {
					if readErr != nil || n != 60 {
						t.Fatalf("round %d: read %d records, err %v; want all 60", round, n, readErr)
					}
					continue
				}
				checkCorruption(t, readErr, segs[1], at, want)
				if n == 0 {
					t.Fatalf("round %d: nothing read before the damage", round)
				}
			}

			ro, err := OpenReadOnly(crashDir, &Options{FS: fs})
			if err != nil {
				checkCorruption(t, err, segs[1], at, want)
			} else {
				n, readErr := readUntilError(t, ro)
				ro.Close()
				if dm.intact {
					if readErr != nil || n != 60 {
						t.Fatalf("read-only: read %d records, err %v; want all 60", n, readErr)
					}
				} else {
					checkCorruption(t, readErr, segs[1], at, want)
					if n == 0 {
						t.Fatal("read-only: nothing read before the damage")
					}
				}
			}
			if after := snapshotSegments(t, fs, segs); after != before {
				t.Fatal("the segment files changed: damaged data was cut or rewritten without repair")
			}
		})
	}
}

// readUntilError reads partition 0 of topic t from the start, checking order, and returns how many records
// it read and the error that ended it. It fails the test if reading allocated more than 16 MiB.
func readUntilError(t *testing.T, db *DB) (int, error) {
	t.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start := ms.TotalAlloc
	n := 0
	var readErr error
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			readErr = err
			break
		}
		if rec.Offset != int64(n) || !bytes.Equal(rec.Value, crashValue(n)) {
			t.Fatalf("record %d is offset %d %q", n, rec.Offset, rec.Value)
		}
		n++
	}
	runtime.ReadMemStats(&ms)
	if alloc := ms.TotalAlloc - start; alloc > 16<<20 {
		t.Fatalf("reading a 60-record log allocated %d bytes", alloc)
	}
	return n, readErr
}

func checkCorruption(t *testing.T, err error, path string, at int64, want error) {
	t.Helper()
	ce := wantCorruption(t, err, path)
	if at >= 0 && ce.Offset != at {
		t.Fatalf("corruption reported at byte %d, want %d: %v", ce.Offset, at, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func snapshotSegments(t *testing.T, fs vfs.FS, paths []string) string {
	t.Helper()
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s:%x\n", p, readFile(t, fs, p))
	}
	return b.String()
}
