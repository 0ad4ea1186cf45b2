package mqlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// killImage returns what a process kill leaves of mem: the page cache survives, so every file holds what
// was written to it, but only what was synced is on disk. The image's files have mem's synced bytes and
// directory entries as their durable state, and mem's current bytes and entries on top, unsynced: a
// CrashClone of the image is then what a power cut after the kill leaves. (A CrashClone of mem itself
// would count the unsynced bytes it keeps as synced once reopened: TESTING.md item 11.)
func killImage(t *testing.T, mem *vfs.MemFS) *vfs.MemFS {
	t.Helper()
	img := mem.CrashClone(vfs.CrashCloneCfg{}) // the disk
	overlayPageCache(t, mem, img, "/")
	return img
}

// overlayPageCache writes, without syncing, mem's view of dir into img. A name that mem has and img has not,
// where img has a name that mem has not with the same bytes (a file) or also a directory (a directory), is
// taken as a rename that was not synced yet and replayed as one (img.Rename keeps the node and what was
// synced in it, as a rename does); other names are created or removed.
func overlayPageCache(t *testing.T, mem, img *vfs.MemFS, dir string) {
	names, err := mem.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	imgNames, err := img.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	inMem, inImg := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		inMem[n] = true
	}
	for _, n := range imgNames {
		inImg[n] = true
	}
	var gone []string // in img only: removed or renamed since the last sync
	for _, n := range imgNames {
		if !inMem[n] {
			gone = append(gone, n)
		}
	}
	for _, n := range names {
		path := mem.PathJoin(dir, n)
		info, err := mem.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !inImg[n] {
			for i, o := range gone {
				old := img.PathJoin(dir, o)
				oldInfo, err := img.Stat(old)
				if err != nil || oldInfo.IsDir() != info.IsDir() ||
					(!info.IsDir() && !bytes.Equal(readFile(t, img, old), readFile(t, mem, path))) {
					continue
				}
				if err := img.Rename(old, path); err != nil {
					t.Fatal(err)
				}
				gone = append(gone[:i], gone[i+1:]...)
				inImg[n] = true
				break
			}
		}
		if info.IsDir() {
			if err := img.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			overlayPageCache(t, mem, img, path)
			continue
		}
		data := readFile(t, mem, path)
		if old, err := img.Stat(path); err == nil && old.Size() <= int64(len(data)) {
			if bytes.Equal(readFile(t, img, path), data) {
				continue
			}
			f, err := img.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
			continue
		}
		f, err := img.Create(path, vfs.WriteCategoryUnspecified) // (a new file, or one cut shorter)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for _, n := range gone {
		if err := img.RemoveAll(img.PathJoin(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// killPoint is the state of the workload when a kill image was taken.
type killPoint struct {
	op        int
	fs        *vfs.MemFS
	acked     int   // messages whose Append had returned
	committed int64 // group position whose Commit had returned
}

// killWorkload is crashWorkload taking kill images instead of crash clones: before every write operation,
// with a topic of tiny segments (so that rolls happen), one message per append, and a group commit every
// few messages.
func killWorkload(t *testing.T, messages int, every int) []killPoint {
	mem := vfs.NewCrashableMem()
	var acked, committed atomic.Int64
	var mu sync.Mutex
	var points []killPoint
	var ops int
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if ops++; ops%every == 0 {
			// The counters are read before the image is taken: only this hook holds mu, and an append
			// past its own sync's hook may finish that sync and be acknowledged while the image is being
			// taken, so a count read after it may name a message the image's disk does not hold yet.
			a, c := int(acked.Load()), committed.Load()
			points = append(points, killPoint{op: ops, fs: killImage(t, mem), acked: a, committed: c})
		}
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 512}); err != nil {
		t.Fatal(err)
	}
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range messages {
		if _, err := db.Append(ctx, "t", Message{Value: crashValue(i)}); err != nil {
			t.Fatal(err)
		}
		acked.Store(int64(i + 1))
		if i%4 == 3 {
			for {
				rec, err := c.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Offset == int64(i) {
					if err := c.Commit(rec); err != nil {
						t.Fatal(err)
					}
					committed.Store(rec.Offset + 1)
					break
				}
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return points
}

// restartPoint is a power cut taken during or after the restart that followed a kill.
type restartPoint struct {
	kill killPoint
	op   int
	fs   *vfs.MemFS
	// mustHave is how many messages the image must hold: what was acknowledged before the kill, or, once
	// the restart's Open had returned, every message its recovery took in (readers may have seen them,
	// groups committed past them), plus the restart's own append once acknowledged.
	mustHave int
	mayHave  int // at most this many (the restart's append in flight)
}

// restartAndCut reopens the kill image k as a writer (the page cache is still there), reads the log,
// appends one message and closes, taking a power-cut image (CrashClone, alternately of synced data only
// and with half of the unsynced blocks) before every write operation of all that.
func restartAndCut(t *testing.T, k killPoint, rng *rand.Rand) []restartPoint {
	t.Helper()
	var out []restartPoint
	var mu sync.Mutex
	var opened atomic.Bool
	var seen, appendAcked atomic.Int64
	seen.Store(-1)
	appendAcked.Store(-1)
	fs := errorfs.Wrap(k.fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		var cfg vfs.CrashCloneCfg
		if len(out)%2 == 1 {
			cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(rng.Uint64(), 0))}
		}
		p := restartPoint{kill: k, op: len(out), mustHave: k.acked, mayHave: k.acked + 1}
		if opened.Load() { // (read before the image is taken, as in killWorkload)
			p.mustHave, p.mayHave = int(seen.Load()), int(seen.Load())+1
			if a := appendAcked.Load(); a >= 0 {
				p.mustHave = int(a) + 1
			}
		}
		p.fs = k.fs.CrashClone(cfg)
		out = append(out, p)
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatalf("kill at op %d: restart: %v", k.op, err)
	}
	n := 0
	if _, err := db.TopicConfig("t"); err == nil {
		n = len(checkedPrefix(t, db, fmt.Sprintf("kill at op %d: restart", k.op)))
	}
	if n < k.acked || n > k.acked+1 {
		t.Fatalf("kill at op %d: restart reads %d messages, %d were acknowledged", k.op, n, k.acked)
	}
	seen.Store(int64(n))
	opened.Store(true)
	if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(n)}); err != nil {
		t.Fatalf("kill at op %d: append after restart: %v", k.op, err)
	}
	appendAcked.Store(int64(n))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkedPrefix reads topic "t" partition 0 and checks that it is crashValue(0), crashValue(1), ... .
func checkedPrefix(t *testing.T, db *DB, what string) []Record {
	t.Helper()
	var recs []Record
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			t.Fatalf("%s: read after %d records: %v", what, len(recs), err)
		}
		if i := len(recs); rec.Offset != int64(i) || !bytes.Equal(rec.Value, crashValue(i)) {
			t.Fatalf("%s: record %d is offset %d value %q", what, i, rec.Offset, rec.Value)
		}
		recs = append(recs, rec)
	}
	return recs
}

// checkAfterPowerCut opens a power-cut image and checks that it holds what it must, that the group's
// position is not behind the last acknowledged commit nor past the end, and that it takes an append.
func checkAfterPowerCut(t *testing.T, p restartPoint) {
	t.Helper()
	what := fmt.Sprintf("kill at op %d, power cut at op %d of the restart", p.kill.op, p.op)
	db, err := Open(crashDir, &Options{FS: p.fs})
	if err != nil {
		t.Fatalf("%s: open: %v", what, err)
	}
	defer db.Close()
	n := 0
	if _, err := db.TopicConfig("t"); err == nil {
		n = len(checkedPrefix(t, db, what))
	} else if !errors.Is(err, ErrTopicNotFound) {
		t.Fatal(err)
	}
	if n < p.mustHave || n > p.mayHave {
		t.Fatalf("%s: %d messages, want %d to %d", what, n, p.mustHave, p.mayHave)
	}
	offs, err := db.GroupOffsets("g")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offs {
		if o.Offset < p.kill.committed || o.Offset > int64(n) {
			t.Fatalf("%s: group position %d, committed %d, log holds %d", what, o.Offset, p.kill.committed, n)
		}
	}
	if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(n)}); err != nil {
		t.Fatalf("%s: append: %v", what, err)
	}
}

// TestCrashRestartPowerCut is TESTING.md item 11: a kill keeps the page cache, so a writer that restarts
// finds bytes that were written but never fsynced, and its recovery takes them in. A power cut at any
// write operation of that restart, or after it, must leave a directory that opens with everything that
// was acknowledged before the kill and everything that the restart's recovery took in once Open
// returned (issue 11 item 1: recovery fsyncs what it adopts before recording it as durable).
func TestCrashRestartPowerCut(t *testing.T) {
	messages, every := 40, 1
	switch {
	case torture():
		messages = 400
	case testing.Short():
		messages, every = 16, 5
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 13))
	kills := killWorkload(t, messages, every)
	var cuts int
	for _, k := range kills {
		for _, p := range restartAndCut(t, k, rng) {
			checkAfterPowerCut(t, p)
			cuts++
		}
	}
	t.Logf("%d crash points: %d kills, each followed by a power cut at every write op of the restart (p=0 and p=50 alternately)", cuts, len(kills))
}
