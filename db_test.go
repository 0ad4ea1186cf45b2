package mqlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func appendN(t *testing.T, db *DB, topic string, n int) []Position {
	t.Helper()
	var out []Position
	for i := range n {
		pos, err := db.Append(context.Background(), topic, Message{Value: fmt.Appendf(nil, "m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pos...)
	}
	return out
}

func readAll(t *testing.T, db *DB, topic string, partition int32) []Record {
	t.Helper()
	var out []Record
	for rec, err := range db.Read(topic, partition, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func TestAppendReadReopen(t *testing.T) {
	for _, fsName := range []string{"disk", "mem"} {
		t.Run(fsName, func(t *testing.T) {
			dir := t.TempDir()
			var fs vfs.FS = vfs.Default
			if fsName == "mem" {
				fs, dir = vfs.NewMem(), "/data"
			}
			opts := &Options{FS: fs}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTopic("orders", TopicConfig{SegmentBytes: 4096}); err != nil {
				t.Fatal(err)
			}
			pos := appendN(t, db, "orders", 500)
			for i, p := range pos {
				if p.Offset != int64(i) || p.Partition != 0 {
					t.Fatalf("append %d landed at %+v", i, p)
				}
			}
			if m := db.Metrics(); m.Rolls == 0 {
				t.Fatalf("expected segment rolls with 4 KiB segments: %+v", m)
			}
			check := func(db *DB) {
				recs := readAll(t, db, "orders", 0)
				if len(recs) != 500 {
					t.Fatalf("read %d records, want 500", len(recs))
				}
				for i, r := range recs {
					if r.Offset != int64(i) || string(r.Value) != fmt.Sprintf("m%d", i) {
						t.Fatalf("record %d = offset %d value %q", i, r.Offset, r.Value)
					}
				}
			}
			check(db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			check(db)
			// Reads from the middle use the sparse index.
			n := 0
			for rec, err := range db.Read("orders", 0, 321) {
				if err != nil {
					t.Fatal(err)
				}
				if rec.Offset != int64(321+n) {
					t.Fatalf("got offset %d, want %d", rec.Offset, 321+n)
				}
				n++
			}
			if n != 500-321 {
				t.Fatalf("read %d from 321", n)
			}
			// ReadNoCopy gives the same records, valid during their iteration.
			n = 0
			for rec, err := range db.ReadNoCopy("orders", 0, 0) {
				if err != nil || rec.Offset != int64(n) || string(rec.Value) != fmt.Sprintf("m%d", n) {
					t.Fatalf("ReadNoCopy record %d = offset %d value %q, %v", n, rec.Offset, rec.Value, err)
				}
				n++
			}
			if n != 500 {
				t.Fatalf("ReadNoCopy read %d, want 500", n)
			}
		})
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestConsumerCommitResume(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "q", 10)
	c, err := db.Consumer("q", "g")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		rec, err := c.Next(ctx)
		if err != nil || rec.Offset != int64(i) {
			t.Fatalf("Next = %v, %v", rec.Offset, err)
		}
		if err := c.Commit(rec); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err = db.Consumer("q", "g")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Next(ctx)
	if err != nil || rec.Offset != 4 {
		t.Fatalf("after reopen Next = %d, %v; want 4", rec.Offset, err)
	}
	// Next blocks until an append makes a record readable.
	var wg sync.WaitGroup
	wg.Add(1)
	got := make(chan int64, 1)
	go func() {
		defer wg.Done()
		for range 5 {
			c.Next(ctx)
		}
		rec, _ := c.Next(ctx)
		got <- rec.Offset
	}()
	appendN(t, db, "q", 1)
	wg.Wait()
	if off := <-got; off != 10 {
		t.Fatalf("blocked Next returned %d, want 10", off)
	}
}

func TestConcurrentAppend(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const producers, each = 16, 50
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := db.Append(context.Background(), "t", Message{Value: fmt.Appendf(nil, "%d-%d", p, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := readAll(t, db, "t", 0)
	if len(recs) != producers*each {
		t.Fatalf("read %d, want %d", len(recs), producers*each)
	}
	m := db.Metrics()
	t.Logf("appends %d, fsyncs %d, appends per fsync %.1f", m.Appends, m.Syncs, m.AppendsPerSync())
}
