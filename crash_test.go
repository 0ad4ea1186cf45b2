package mqlog

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/segment"
)

var crashSeed = flag.Uint64("crash.seed", 0, "seed of the randomized crash tests (0 = fixed default)")

// torture reports whether the long versions of the randomized tests run (make torture).
func torture() bool { return os.Getenv("MQLOG_TORTURE") != "" }

func testSeed(t *testing.T) uint64 {
	seed := *crashSeed
	if seed == 0 {
		seed = 20261129
	}
	t.Logf("seed %d (replay with -crash.seed=%d)", seed, seed)
	return seed
}

// crashPoint is a filesystem image taken just before one write operation, with what had been
// acknowledged at that instant.
type crashPoint struct {
	op        int
	fs        *vfs.MemFS
	acked     int   // messages whose Append had returned
	committed int64 // group position whose Commit had returned
	inFlight  int   // messages queued but not acknowledged at most (0 means 1)
}

const crashDir = "/data"

// crashWorkload appends messages one at a time to a topic with tiny segments (so that segments roll),
// commits a group's position every few messages, and takes a crash image before every write operation on
// the whole engine (segments and Pebble) — TESTING.md item 1. It returns the images. inFlight 1 appends
// with Append; 2 or more with AppendAsync, that many queued at most, each acknowledged once its Wait
// returns.
func crashWorkload(t *testing.T, messages int, unsyncedPercent int, rng *rand.Rand, inFlight int) []crashPoint {
	mem := vfs.NewCrashableMem()
	var acked, committed atomic.Int64
	var mu sync.Mutex
	var points []crashPoint
	var ops atomic.Int64
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent}
		if unsyncedPercent > 0 {
			cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), 0))
		}
		// The counters first, then the image: an append past its sync's hook may be acknowledged while the
		// image is taken (crash_restart_test.go, killWorkload).
		a, c := int(acked.Load()), committed.Load()
		points = append(points, crashPoint{op: int(ops.Add(1)), fs: mem.CrashClone(cfg), acked: a, committed: c, inFlight: inFlight})
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
	var queued []*PendingAppend // AppendAsync's, oldest first
	for i := range messages {
		if inFlight <= 1 {
			if _, err := db.Append(ctx, "t", Message{Value: crashValue(i)}); err != nil {
				t.Fatal(err)
			}
			acked.Store(int64(i + 1))
		} else {
			p, err := db.AppendAsync(ctx, "t", Message{Value: crashValue(i)})
			if err != nil {
				t.Fatal(err)
			}
			queued = append(queued, p)
			for len(queued) == inFlight || (i == messages-1 && len(queued) > 0) {
				pos, err := queued[0].Wait()
				if err != nil {
					t.Fatal(err)
				}
				acked.Store(pos[0].Offset + 1)
				queued = queued[1:]
			}
		}
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

func crashValue(i int) []byte {
	return fmt.Appendf(nil, "message-%04d-%s", i, bytes.Repeat([]byte{'x'}, i%50))
}

// checkRecovered opens a crash image and checks the invariants: the log is the acknowledged prefix plus
// at most the one message in flight, with no gap, duplicate or reordering; the group's position is not
// behind what was committed and not past the durable end; the log takes and returns a new append; and a
// second open gives the same log.
func checkRecovered(t *testing.T, p crashPoint) {
	t.Helper()
	var n int
	for round := range 2 {
		db, err := Open(crashDir, &Options{FS: p.fs})
		if err != nil {
			t.Fatalf("op %d: open after crash (round %d): %v", p.op, round, err)
		}
		got := 0
		if _, err := db.TopicConfig("t"); err == nil {
			for rec, err := range db.Read("t", 0, 0) {
				if err != nil {
					t.Fatalf("op %d: read: %v", p.op, err)
				}
				if rec.Offset != int64(got) || !bytes.Equal(rec.Value, crashValue(got)) {
					t.Fatalf("op %d: record %d is offset %d value %q", p.op, got, rec.Offset, rec.Value)
				}
				got++
			}
		}
		if round == 0 {
			n = got
			if got < p.acked || got > p.acked+max(1, p.inFlight) {
				t.Fatalf("op %d: recovered %d messages, acknowledged %d (at most %d more may be in flight)", p.op, got, p.acked, max(1, p.inFlight))
			}
		} else if got != n+1 {
			t.Fatalf("op %d: second open has %d messages, first had %d plus one appended", p.op, got, n)
		}
		offs, err := db.GroupOffsets("g")
		if err != nil {
			t.Fatal(err)
		}
		var pos int64
		for _, o := range offs {
			pos = o.Offset
		}
		if pos < p.committed || pos > int64(got) {
			t.Fatalf("op %d: group position %d, committed %d, log holds %d", p.op, pos, p.committed, got)
		}
		if round == 0 {
			if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(got)}); err != nil {
				t.Fatalf("op %d: append after recovery: %v", p.op, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCrashAtEveryWriteOp(t *testing.T) {
	messages := 60
	switch {
	case torture():
		messages = 1200
	case testing.Short():
		messages = 24
	}
	for _, inFlight := range []int{1, 2} {
		for _, unsynced := range []int{0, 50} {
			name := fmt.Sprintf("unsynced=%d", unsynced)
			if inFlight > 1 { // AppendAsync, two batches in flight
				name = fmt.Sprintf("async/unsynced=%d", unsynced)
			}
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(testSeed(t), uint64(unsynced)))
				points := crashWorkload(t, messages, unsynced, rng, inFlight)
				t.Logf("%d crash points", len(points))
				for _, p := range points {
					checkRecovered(t, p)
				}
			})
		}
	}
}

// TestTornTail is TESTING.md items 3 and 9: a crash while the last batch was being written leaves a cut,
// zeroed or garbage-filled frame, or an older valid-looking frame, after the acknowledged ones. Every
// acknowledged batch must survive, the torn one must go, stale frames must not come back, both of two
// opens must agree, and the next append must work.
func TestTornTail(t *testing.T) {
	const acked = 5
	base, last, stale, segPath := tornTailImage(t, acked)
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	type variant struct {
		name string
		tail []byte
	}
	var variants []variant
	step := 1
	if testing.Short() {
		step = 3
	}
	for cut := 0; cut < len(last); cut += step {
		garbage := make([]byte, len(last)-cut)
		for i := range garbage {
			garbage[i] = byte(rng.UintN(256))
		}
		garbage[0] = ^last[cut] // the first garbage byte must differ, or the frame could come out whole
		variants = append(variants,
			variant{fmt.Sprintf("cut@%d", cut), last[:cut]},
			variant{fmt.Sprintf("garbage@%d", cut), append(slicesClone(last[:cut]), garbage...)},
			variant{fmt.Sprintf("stale@%d", cut), append(slicesClone(last[:cut]), stale...)},
		)
	}
	for _, sector := range []int{512, 4096} {
		for start := 0; start < len(last); start += 8 {
			z := slicesClone(last)
			clear(z[start:min(start+sector, len(z))])
			if !bytes.Equal(z, last) {
				variants = append(variants, variant{fmt.Sprintf("zero%d@%d", sector, start), z})
			}
		}
	}
	// A frame that is valid in every field but written under an older epoch is stale (item 9).
	variants = append(variants, variant{"older-epoch-valid-frame", stale})
	for _, v := range variants {
		if bytes.HasPrefix(v.tail, last) {
			continue // the bytes after the cut happen to complete the frame: it is whole, not torn
		}
		img := base.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
		writeFile(t, img, segPath, v.tail, true)
		for round := range 2 {
			db, err := Open(crashDir, &Options{FS: img})
			if err != nil {
				t.Fatalf("%s: open %d: %v", v.name, round, err)
			}
			recs := readAll(t, db, "t", 0)
			want := acked + round // round 1 also has the append of round 0
			if len(recs) != want {
				t.Fatalf("%s: open %d read %d records, want %d", v.name, round, len(recs), want)
			}
			for i, r := range recs {
				if r.Offset != int64(i) || !bytes.Equal(r.Value, crashValue(i)) {
					t.Fatalf("%s: record %d = %d %q", v.name, i, r.Offset, r.Value)
				}
			}
			if round == 0 {
				if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(acked)}); err != nil {
					t.Fatalf("%s: append: %v", v.name, err)
				}
			}
			db.Close()
		}
	}
	t.Logf("%d torn-tail variants", len(variants))
}

// tornTailImage builds a crash image whose topic "t" holds acked acknowledged single-message batches, with
// the recorded durable point at the segment's start (as after a crash: the state saved when the topic was
// created), so recovery re-validates every frame. It returns the image, the frame of one more batch (the
// one being written at the crash), a stale frame (valid CRC, the next offset, but an older epoch), and the
// segment's path.
func tornTailImage(t *testing.T, acked int) (img *vfs.MemFS, last, stale []byte, segPath string) {
	mem := vfs.NewCrashableMem()
	db, err := Open(crashDir, &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	appendValues(t, db, 0, acked+1)
	img = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
	db.Close()
	segPath = mem.PathJoin(crashDir, TopicsDirName, "t-0", segment.FileName(0))
	full := readFile(t, img, segPath)
	var ends []int64
	res, err := segment.Scan(bytes.NewReader(full), 0, int64(len(full)), segment.ScanOptions{NextOffset: 0, Contiguous: true},
		func(pos int64, h segment.BatchHeader) error { ends = append(ends, pos+h.FrameSize()); return nil })
	if err != nil || res.Stop != nil || len(ends) != acked+1 {
		t.Fatalf("scan of the built segment: %d frames, stop %v, err %v", len(ends), res.Stop, err)
	}
	last = slicesClone(full[ends[acked-1]:])
	stale = slicesClone(last)
	segment.SetEpoch(stale, 0)
	writeFile(t, img, segPath, full[:ends[acked-1]], false)
	return img, last, stale, segPath
}

func appendValues(t *testing.T, db *DB, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := db.Append(context.Background(), "t", Message{Value: crashValue(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func readFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, fs vfs.FS, path string, data []byte, appendTo bool) {
	t.Helper()
	var prefix []byte
	if appendTo {
		prefix = readFile(t, fs, path)
	}
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(prefix, data...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestCrashInsideRecovery is TESTING.md item 10 for Open: recovery itself writes (Pebble's own recovery, the
// new epoch, a cut torn tail, removed blank segments, the saved state). Starting from crash images of the
// workload, a second crash is taken at every write operation of Open, reads and Close; each of those images
// must recover with the same invariants as the first: recovery is idempotent and loses nothing.
func TestCrashInsideRecovery(t *testing.T) {
	messages, every := 60, 5
	switch {
	case torture():
		messages, every = 200, 2
	case testing.Short():
		messages, every = 24, 7
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	points := crashWorkload(t, messages, 50, rng, 1)
	var nested int
	for i, p := range points {
		if i%every != 0 {
			continue
		}
		for _, q := range crashDuringOpen(t, p) {
			checkRecovered(t, q)
			nested++
		}
	}
	t.Logf("%d crash points inside recovery, from %d of %d first crashes", nested, (len(points)+every-1)/every, len(points))
}

// crashDuringOpen opens the image of p, reads the log and closes it, taking a crash image before every
// write operation; the images carry p's acknowledged counts.

func crashDuringOpen(t *testing.T, p crashPoint) []crashPoint {
	t.Helper()
	var out []crashPoint
	var mu sync.Mutex
	fs := errorfs.Wrap(p.fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		var cfg vfs.CrashCloneCfg // alternately only what was synced, and half of what was not
		if len(out)%2 == 1 {
			cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(p.op), uint64(len(out))))}
		}
		out = append(out, crashPoint{op: p.op*1000 + len(out), fs: p.fs.CrashClone(cfg), acked: p.acked, committed: p.committed})
		return nil
	}))
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatalf("op %d: open after crash: %v", p.op, err)
	}
	if _, err := db.TopicConfig("t"); err == nil {
		for _, err := range db.Read("t", 0, 0) {
			if err != nil {
				t.Fatalf("op %d: read: %v", p.op, err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
