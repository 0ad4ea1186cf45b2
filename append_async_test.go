package mqlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/internal/catalog"
)

// asyncCases are the three ways an AppendAsync is carried out: one batch in one partition, messages
// spread over several partitions (a batch in each), and messages with ids (deduplicated). Each appends
// two messages to topic "t", created by the case's setup.
var asyncCases = []struct {
	name       string
	partitions int
	msgs       func(i int) []Message
}{
	{"one-partition", 1, func(i int) []Message {
		return []Message{{Value: fmt.Appendf(nil, "a%d", i)}, {Value: fmt.Appendf(nil, "b%d", i)}}
	}},
	{"two-partitions", 2, func(i int) []Message {
		k := keysOfTwoPartitions()
		return []Message{{Key: k[0], Value: fmt.Appendf(nil, "a%d", i)}, {Key: k[1], Value: fmt.Appendf(nil, "b%d", i)}}
	}},
	{"ids", 1, func(i int) []Message {
		return []Message{{ID: fmt.Sprintf("a%d", i), Value: fmt.Appendf(nil, "a%d", i)}, {ID: fmt.Sprintf("b%d", i), Value: fmt.Appendf(nil, "b%d", i)}}
	}},
}

// keysOfTwoPartitions returns a key of partition 0 and one of partition 1 of a topic of two partitions.
func keysOfTwoPartitions() [2][]byte {
	var k [2][]byte
	for i := 0; k[0] == nil || k[1] == nil; i++ {
		key := fmt.Appendf(nil, "k%d", i)
		k[catalog.PartitionForKey(key, 2)] = key
	}
	return k
}

// syncGate is a filesystem that, once armed, holds every fsync of a segment file until released: what a
// slow disk does to a commit.
type syncGate struct {
	armed   atomic.Bool
	entered chan struct{} // one value per fsync held
	release chan struct{} // closed by open to let the held fsyncs run
	once    sync.Once
}

// open disarms the gate and lets the fsyncs it holds run.
func (g *syncGate) open() {
	g.armed.Store(false)
	g.once.Do(func() { close(g.release) })
}

func newSyncGate(mem vfs.FS) (*syncGate, vfs.FS) {
	g := &syncGate{entered: make(chan struct{}, 100), release: make(chan struct{})}
	return g, errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		default:
			return nil
		}
		if g.armed.Load() && strings.Contains(op.Path, TopicsDirName) && strings.HasSuffix(op.Path, ".log") {
			g.entered <- struct{}{}
			<-g.release
		}
		return nil
	}))
}

// An AppendAsync is neither done nor readable before the fsync that covers it returns, in each of the
// three cases; once Wait returns, its messages are readable, found by time, and (with ids) known to the
// duplicate table.
func TestAppendAsyncNotDurableBeforeSync(t *testing.T) {
	for _, tc := range asyncCases {
		t.Run(tc.name, func(t *testing.T) {
			gate, fs := newSyncGate(vfs.NewMem())
			db, err := Open(crashDir, &Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			t.Cleanup(gate.open) // first, so that a failed test's Close is not held
			if err := db.CreateTopic("t", TopicConfig{Partitions: tc.partitions}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := db.Append(ctx, "t", tc.msgs(0)...); err != nil { // the segments exist, preallocated
				t.Fatal(err)
			}
			hw := func() (n int64) {
				for p := range int32(tc.partitions) {
					rp, err := db.RawPartition("t", p)
					if err != nil {
						t.Fatal(err)
					}
					n += rp.HighWatermark()
				}
				return n
			}
			before := hw()
			gate.armed.Store(true)
			ts := time.UnixMilli(time.Now().UnixMilli() + 60_000) // later than anything appended before
			msgs1, msgs2 := tc.msgs(1), tc.msgs(2)
			msgs1[0].Timestamp = ts
			p1, err := db.AppendAsync(ctx, "t", msgs1...)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := db.AppendAsync(ctx, "t", msgs2...)
			if err != nil {
				t.Fatal(err)
			}
			<-gate.entered
			time.Sleep(20 * time.Millisecond) // time for a Done closed too early to show
			for i, p := range []*PendingAppend{p1, p2} {
				select {
				case <-p.Done():
					t.Fatalf("append %d done while its fsync is held", i+1)
				default:
				}
			}
			if got := hw(); got != before {
				t.Fatalf("high watermarks sum to %d while the fsync is held, want %d", got, before)
			}
			gate.open()
			pos1, err := p1.Wait()
			if err != nil {
				t.Fatal(err)
			}
			pos2, err := p2.Wait()
			if err != nil {
				t.Fatal(err)
			}
			<-p1.Done()
			if hw() != before+4 {
				t.Fatalf("high watermarks sum to %d after Wait, want %d", hw(), before+4)
			}
			for i, pos := range [][]Position{pos1, pos2} {
				msgs := tc.msgs(i + 1)
				for j, ps := range pos {
					rec := readOne(t, db, "t", ps)
					if !bytes.Equal(rec.Value, msgs[j].Value) || ps.Duplicate {
						t.Fatalf("append %d message %d at %+v reads %q", i+1, j, ps, rec.Value)
					}
				}
			}
			off, err := db.OffsetForTime("t", pos1[0].Partition, ts)
			if err != nil || off != pos1[0].Offset {
				t.Fatalf("OffsetForTime = %d, %v, want %d", off, err, pos1[0].Offset)
			}
			if tc.name == "ids" {
				again, err := db.Append(ctx, "t", tc.msgs(2)...)
				if err != nil {
					t.Fatal(err)
				}
				for j := range again {
					if !again[j].Duplicate || again[j].Offset != pos2[j].Offset {
						t.Fatalf("Append of the ids again = %+v, want duplicates of %+v", again, pos2)
					}
				}
			}
		})
	}
}

// readOne returns the record at pos.
func readOne(t *testing.T, db *DB, topic string, pos Position) Record {
	t.Helper()
	for rec, err := range db.Read(topic, pos.Partition, pos.Offset) {
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	t.Fatalf("nothing at %+v", pos)
	return Record{}
}

// One goroutine's AppendAsync calls get increasing offsets, contiguous within a partition, and the log
// reads back in the order they were queued; AppendPartitionAsync and Append interleave with them. Several
// producers do so at once (run with -race).
func TestAppendAsyncOrder(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const producers, batches = 3, 40
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for pr := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var queued []*PendingAppend
			last := int64(-1)
			check := func(pos []Position) error {
				for _, ps := range pos {
					if ps.Offset <= last {
						return fmt.Errorf("producer %d: offset %d after %d", pr, ps.Offset, last)
					}
					last = ps.Offset
				}
				return nil
			}
			for i := range batches {
				msgs := make([]Message, 1+i%5)
				for j := range msgs {
					msgs[j].Value = fmt.Appendf(nil, "%d-%d-%d", pr, i, j)
				}
				var p *PendingAppend
				var err error
				switch i % 4 {
				case 3: // a synchronous Append between two pipelined ones
					for _, q := range queued {
						pos, err := q.Wait()
						if err == nil {
							err = check(pos)
						}
						if err != nil {
							errs <- err
							return
						}
					}
					queued = queued[:0]
					pos, err := db.Append(ctx, "t", msgs...)
					if err == nil {
						err = check(pos)
					}
					if err != nil {
						errs <- err
						return
					}
					continue
				case 2:
					p, err = db.AppendPartitionAsync(ctx, "t", 0, msgs...)
				default:
					p, err = db.AppendAsync(ctx, "t", msgs...)
				}
				if err != nil {
					errs <- err
					return
				}
				queued = append(queued, p)
				if len(queued) == 2 {
					pos, err := queued[0].Wait()
					if err == nil {
						err = check(pos)
					}
					if err != nil {
						errs <- err
						return
					}
					queued = queued[1:]
				}
			}
			for _, q := range queued {
				pos, err := q.Wait()
				if err == nil {
					err = check(pos)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Each producer's messages read back in the order it queued them, with no gap in the offsets.
	next := make([][2]int, producers) // the batch and message index each producer is at
	var off int64
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset != off {
			t.Fatalf("offset %d after %d", rec.Offset, off-1)
		}
		off++
		var pr, i, j int
		if _, err := fmt.Sscanf(string(rec.Value), "%d-%d-%d", &pr, &i, &j); err != nil {
			t.Fatal(err)
		}
		at := next[pr]
		if j == 0 && at[1] == 0 || j == 0 && at[1] == 1+at[0]%5 { // a new batch
			if i < at[0] || (at[1] != 0 && i == at[0]) {
				t.Fatalf("producer %d: batch %d after batch %d", pr, i, at[0])
			}
			at = [2]int{i, 0}
		}
		if i != at[0] || j != at[1] {
			t.Fatalf("producer %d: message %d-%d where %d-%d was next", pr, i, j, at[0], at[1])
		}
		next[pr] = [2]int{i, j + 1}
	}
	if want := int64(producers * batches * 3); off != want { // 1+i%5 over 40 batches: 120 messages each
		t.Fatalf("read %d messages, want %d", off, want)
	}
}

// AppendAsync refuses what Append refuses, with the same errors, and then queues nothing; a batch spread
// over partitions where one part is refused ends as Append's *AppendError.
func TestAppendAsyncErrors(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoAutoCreateTopics: true, MaxMessageBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	big := Message{Value: make([]byte, 101)}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name  string
		async func() (*PendingAppend, error)
		sync  func() ([]Position, error)
		want  error
	}{
		{"too-large", func() (*PendingAppend, error) { return db.AppendAsync(ctx, "t", big) },
			func() ([]Position, error) { return db.Append(ctx, "t", big) }, ErrTooLarge},
		{"no-topic", func() (*PendingAppend, error) { return db.AppendAsync(ctx, "none", Message{}) },
			func() ([]Position, error) { return db.Append(ctx, "none", Message{}) }, ErrTopicNotFound},
		{"no-partition", func() (*PendingAppend, error) { return db.AppendPartitionAsync(ctx, "t", 2, Message{}) },
			func() ([]Position, error) { return db.AppendPartition(ctx, "t", 2, Message{}) }, ErrInvalidPartition},
		{"canceled", func() (*PendingAppend, error) { return db.AppendAsync(canceled, "t", Message{}) },
			func() ([]Position, error) { return db.Append(canceled, "t", Message{}) }, context.Canceled},
		{"id-too-large", func() (*PendingAppend, error) { return db.AppendAsync(ctx, "t", Message{ID: "x", Value: big.Value}) },
			func() ([]Position, error) { return db.Append(ctx, "t", Message{ID: "x", Value: big.Value}) }, ErrTooLarge},
	} {
		p, err := tc.async()
		if !errors.Is(err, tc.want) || p != nil {
			t.Errorf("%s: AppendAsync = %v, %v; want %v", tc.name, p, err, tc.want)
		}
		if _, serr := tc.sync(); !errors.Is(serr, tc.want) || serr.Error() != err.Error() {
			t.Errorf("%s: Append = %v, AppendAsync %v: want the same error", tc.name, serr, err)
		}
	}
	// Nothing was appended by any of them.
	for p := range int32(2) {
		if rp, _ := db.RawPartition("t", p); rp.HighWatermark() != 0 {
			t.Fatalf("partition %d has %d records", p, rp.HighWatermark())
		}
	}
	// The id refused above was released: a good message with it is appended.
	if pos, err := db.Append(ctx, "t", Message{ID: "x", Value: []byte("ok")}); err != nil || pos[0].Duplicate {
		t.Fatalf("Append of the refused id = %+v, %v", pos, err)
	}

	// Spread over both partitions, the part of partition 1 too large: partition 0's message is durable.
	k := keysOfTwoPartitions()
	spread := []Message{{Key: k[0], Value: []byte("small")}, {Key: k[1], Value: big.Value}}
	_, serr := db.Append(ctx, "t", spread...)
	p, err := db.AppendAsync(ctx, "t", spread...)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := p.Wait()
	var ae, sae *AppendError
	if !errors.As(err, &ae) || !errors.As(serr, &sae) {
		t.Fatalf("AppendAsync's Wait = %v, Append = %v, want *AppendError both", err, serr)
	}
	if len(pos) != 2 || pos[0].Offset == NoOffset || pos[1].Offset != NoOffset || !errors.Is(ae.Errs[1], ErrTooLarge) {
		t.Fatalf("Wait = %+v, %v; want message 0 durable and message 1 refused", pos, err)
	}
	if fmt.Sprint(ae.Failed()) != fmt.Sprint(sae.Failed()) {
		t.Fatalf("AppendAsync failed %v, Append %v", ae.Failed(), sae.Failed())
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err := db.AppendAsync(ctx, "t", Message{}); !errors.Is(err, ErrClosed) || p != nil {
		t.Fatalf("AppendAsync after Close = %v, %v; want ErrClosed", p, err)
	}
}

// A failed fsync fails every batch of its commit, both in flight, and stops the log: what follows fails
// too, and a crash image holds what was acknowledged before.
func TestAppendAsyncFailStop(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var fail atomic.Bool
	failing := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if fail.Load() && strings.Contains(op.Path, TopicsDirName) && strings.HasSuffix(op.Path, ".log") {
				return errorfs.ErrInjected
			}
		}
		return nil
	}))
	gate, fs := newSyncGate(failing) // the gate first: the fsync it holds then fails
	db, err := Open(crashDir, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t.Cleanup(gate.open)
	ctx := context.Background()
	if _, err := db.Append(ctx, "t", Message{Value: crashValue(0)}); err != nil {
		t.Fatal(err)
	}
	// Hold the first fsync so that both batches are queued before it fails.
	gate.armed.Store(true)
	fail.Store(true)
	p1, err := db.AppendAsync(ctx, "t", Message{Value: crashValue(1)})
	if err != nil {
		t.Fatal(err)
	}
	<-gate.entered
	p2, err := db.AppendAsync(ctx, "t", Message{Value: crashValue(2)})
	if err != nil {
		t.Fatal(err)
	}
	gate.open()
	for i, p := range []*PendingAppend{p1, p2} {
		if _, err := p.Wait(); !errors.Is(err, ErrFailStop) || !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("append %d: Wait = %v, want ErrFailStop wrapping the injected error", i+1, err)
		}
	}
	if p, err := db.AppendAsync(ctx, "t", Message{Value: crashValue(3)}); err == nil {
		if _, err = p.Wait(); !errors.Is(err, ErrFailStop) {
			t.Fatalf("AppendAsync after the failure: Wait = %v, want ErrFailStop", err)
		}
	} else if !errors.Is(err, ErrFailStop) {
		t.Fatalf("AppendAsync after the failure = %v, want ErrFailStop", err)
	}
	checkAfterFault(t, "async", mem.CrashClone(vfs.CrashCloneCfg{}), 1)
}
