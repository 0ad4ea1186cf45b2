package mqlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestConcurrentCrash is TESTING.md item 2: producers append through group commit while a consumer
// commits, and crash images are taken at random instants mid-flight. Each image must hold every message
// acknowledged before it was taken, each producer's messages in its order, no duplicate, and a group
// position no older than the last commit acknowledged before it.
func TestConcurrentCrash(t *testing.T) {
	const producers = 8
	perProducer, images := 300, 40
	if torture() {
		perProducer, images = 2000, 1000
	} else if testing.Short() {
		perProducer, images = 150, 25
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	mem := vfs.NewCrashableMem()
	db, err := Open(crashDir, &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{SegmentBytes: 2048}); err != nil {
		t.Fatal(err)
	}
	var ackedCount [producers]atomic.Int64
	var committed atomic.Int64
	type image struct {
		fs        *vfs.MemFS
		acked     [producers]int64
		committed int64
	}
	var imgs []image
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range perProducer {
				if _, err := db.Append(ctx, "t", Message{Value: fmt.Appendf(nil, "%d/%d", p, s)}); err != nil {
					t.Error(err)
					return
				}
				ackedCount[p].Store(int64(s + 1))
			}
		}()
	}
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		c, err := db.Consumer("t", "g")
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for {
			rec, err := c.Next(ctx)
			if err != nil {
				return
			}
			if rec.Offset%5 == 0 {
				if err := c.Commit(rec); err != nil {
					t.Error(err)
					return
				}
				committed.Store(rec.Offset + 1)
			}
		}
	}()
	producing := make(chan struct{})
	go func() { wg.Wait(); close(producing) }()
	for i := 0; i < images; i++ {
		select {
		case <-producing:
			i = images
		case <-time.After(time.Duration(rng.IntN(300)) * time.Microsecond):
		}
		var img image
		for p := range producers {
			img.acked[p] = ackedCount[p].Load()
		}
		img.committed = committed.Load()
		img.fs = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(2) * 50, RNG: rand.New(rand.NewPCG(rng.Uint64(), 0))})
		imgs = append(imgs, img)
	}
	<-producing
	cancel()
	<-consumerDone
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for n, img := range imgs {
		db, err := Open(crashDir, &Options{FS: img.fs})
		if err != nil {
			t.Fatalf("image %d: open: %v", n, err)
		}
		var next [producers]int64
		total := int64(0)
		if _, err := db.TopicConfig("t"); err == nil {
			for rec, err := range db.Read("t", 0, 0) {
				if err != nil {
					t.Fatalf("image %d: read: %v", n, err)
				}
				var p, s int64
				if _, err := fmt.Sscanf(string(rec.Value), "%d/%d", &p, &s); err != nil || p < 0 || p >= producers {
					t.Fatalf("image %d: bad value %q", n, rec.Value)
				}
				if s != next[p] {
					t.Fatalf("image %d: producer %d message %d at offset %d, expected its message %d (gap, duplicate or reordering)", n, p, s, rec.Offset, next[p])
				}
				next[p]++
				total++
			}
		}
		for p := range producers {
			if next[p] < img.acked[p] {
				t.Fatalf("image %d: producer %d has %d messages, %d were acknowledged", n, p, next[p], img.acked[p])
			}
		}
		if offs, err := db.GroupOffsets("g"); err == nil {
			for _, o := range offs {
				if o.Offset < img.committed || o.Offset > total {
					t.Fatalf("image %d: group position %d, committed %d, log holds %d", n, o.Offset, img.committed, total)
				}
			}
		}
		db.Close()
	}
	t.Logf("%d crash points (concurrent) checked", len(imgs))
}
