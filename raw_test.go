package mqlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
)

// producedFrame encodes n records as a Kafka producer would: base offset 0, epoch -1, and, for pid >= 0,
// the producer's id, epoch and first sequence.
func producedFrame(t testing.TB, pid int64, epoch int16, seq int32, n int, tag string) []byte {
	t.Helper()
	recs := make([]segment.Record, n)
	for i := range recs {
		recs[i] = segment.Record{Timestamp: 1_700_000_000_000 + int64(i), Value: fmt.Appendf(nil, "%s-%d", tag, i)}
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{Epoch: -1, Compression: segment.CompressionLZ4})
	if err != nil {
		t.Fatal(err)
	}
	if pid >= 0 {
		segment.SetProducer(frame, pid, epoch, seq)
	}
	return frame
}

func openRaw(t *testing.T, fs vfs.FS) (*mqlog.DB, *mqlog.RawPartition) {
	t.Helper()
	db, err := mqlog.Open("/data", &mqlog.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic("t", mqlog.TopicConfig{SegmentBytes: 4096}); err != nil {
		t.Fatal(err)
	}
	p, err := db.RawPartition("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}

func TestRawAppendAndRead(t *testing.T) {
	ctx := context.Background()
	db, p := openRaw(t, vfs.NewMem())
	defer db.Close()
	var frames [][]byte
	for i := 0; i < 30; i++ {
		frame := producedFrame(t, -1, -1, -1, 4, fmt.Sprint(i))
		frames = append(frames, frame)
		res, err := p.AppendBatch(ctx, frame, nil)
		if err != nil || res.BaseOffset != int64(4*i) || res.Duplicate {
			t.Fatalf("batch %d: %+v, %v", i, res, err)
		}
	}
	// Records read back through the ordinary API.
	n := 0
	for rec, err := range db.Read("t", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d-%d", n/4, n%4); string(rec.Value) != want || rec.Offset != int64(n) {
			t.Fatalf("record %d: offset %d value %q, want %q", n, rec.Offset, rec.Value, want)
		}
		n++
	}
	if n != 120 {
		t.Fatalf("read %d records, want 120", n)
	}
	// Raw reads: from the batch holding offset 6 (4..7), up to 3 batches' worth of bytes.
	size := len(frames[1])
	got, err := p.ReadBatches(nil, 6, 3*size)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range frames[1:4] {
		want += len(f)
	}
	if len(got) != want {
		t.Fatalf("read %d bytes, want the %d of batches 1-3", len(got), want)
	}
	if b, err := segment.DecodeBatch(got, segment.Limits{}); err != nil || b.Header.BaseOffset != 4 {
		t.Fatalf("first batch read: base %d, %v", b.Header.BaseOffset, err)
	}
	// A limit below one batch still returns one whole batch; at the high watermark, nothing.
	if got, _ := p.ReadBatches(nil, 0, 1); len(got) != len(frames[0]) {
		t.Fatalf("maxBytes 1 read %d bytes, want one whole batch of %d", len(got), len(frames[0]))
	}
	if got, err := p.ReadBatches(nil, 120, 1<<20); err != nil || len(got) != 0 {
		t.Fatalf("at the high watermark: %d bytes, %v", len(got), err)
	}
	if _, err := p.ReadBatches(nil, 121, 1<<20); !errors.Is(err, mqlog.ErrOutOfRange) {
		t.Fatalf("past the high watermark: %v", err)
	}
}

func TestRawAppendRefusesBadBatches(t *testing.T) {
	ctx := context.Background()
	db, p := openRaw(t, vfs.NewMem())
	defer db.Close()
	frame := producedFrame(t, -1, -1, -1, 3, "x")
	frame[len(frame)-1] ^= 0xff
	if _, err := p.AppendBatch(ctx, frame, nil); !errors.Is(err, segment.ErrBadCRC) {
		t.Fatalf("damaged batch: %v", err)
	}
	if _, err := p.AppendBatch(ctx, frame[:30], nil); !errors.Is(err, segment.ErrTruncated) {
		t.Fatalf("truncated batch: %v", err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d after refused batches", hw)
	}
}

func TestIdempotentRetryAcrossRestart(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	db, p := openRaw(t, fs)
	pid, err := db.InitProducerID()
	if err != nil {
		t.Fatal(err)
	}
	for i := int32(0); i < 10; i++ {
		if _, err := p.AppendBatch(ctx, producedFrame(t, pid.ID, 0, 2*i, 2, "a"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.AppendBatch(ctx, producedFrame(t, -1, -1, -1, 1, "plain"), nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := p.AppendBatch(ctx, producedFrame(t, pid.ID, 0, 18, 2, "a"), nil)
	if err != nil || !res.Duplicate || res.BaseOffset != 27 {
		t.Fatalf("retry of the last batch: %+v, %v; want a duplicate at 27", res, err)
	}
	if _, err := p.AppendBatch(ctx, producedFrame(t, pid.ID, 0, 30, 1, "a"), nil); !errors.Is(err, mqlog.ErrOutOfOrderSequence) {
		t.Fatalf("a gap: %v", err)
	}
	// A crash image: the producer state was never snapshotted (fewer than 1024 batches), so reopening
	// rebuilds it from the log's batch headers.
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	db.Close()
	for _, image := range []vfs.FS{fs, crashed} {
		db2, err := mqlog.Open("/data", &mqlog.Options{FS: image})
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := db2.RawPartition("t", 0)
		res, err := p2.AppendBatch(ctx, producedFrame(t, pid.ID, 0, 16, 2, "a"), nil)
		if err != nil || !res.Duplicate || res.BaseOffset != 24 {
			t.Fatalf("retry after reopen: %+v, %v; want a duplicate at 24", res, err)
		}
		if res, err := p2.AppendBatch(ctx, producedFrame(t, pid.ID, 0, 20, 1, "a"), nil); err != nil || res.BaseOffset != 30 {
			t.Fatalf("next batch after reopen: %+v, %v", res, err)
		}
		next, err := db2.InitProducerID()
		if err != nil || next.ID == pid.ID {
			t.Fatalf("producer id after reopen %d (first was %d), %v", next.ID, pid.ID, err)
		}
		db2.Close()
	}
}

func TestAppendIdempotentEmbedded(t *testing.T) {
	ctx := context.Background()
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pid, err := db.InitProducerID()
	if err != nil {
		t.Fatal(err)
	}
	msgs := []mqlog.Message{{Value: []byte("a")}, {Value: []byte("b")}}
	first, err := db.AppendIdempotent(ctx, "jobs", 0, pid, 0, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.AppendIdempotent(ctx, "jobs", 0, pid, 0, msgs...) // the caller retries after a timeout
	if err != nil || again[0] != first[0] || again[1] != first[1] {
		t.Fatalf("retry: %v, %v; want the original positions %v", again, err, first)
	}
	if _, err := db.AppendIdempotent(ctx, "jobs", 0, pid, 5, msgs...); !errors.Is(err, mqlog.ErrOutOfOrderSequence) {
		t.Fatalf("a gap: %v", err)
	}
	if _, err := db.AppendIdempotent(ctx, "jobs", 0, pid, 2, msgs...); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range db.Read("jobs", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d records in the log, want 4 (the retry wrote nothing)", n)
	}
}

func TestDeletedTopicForgetsItsProducers(t *testing.T) {
	ctx := context.Background()
	db, p := openRaw(t, vfs.NewMem())
	defer db.Close()
	for i := int32(0); i < 3; i++ {
		if _, err := p.AppendBatch(ctx, producedFrame(t, 1, 0, i, 1, "old"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendBatch(ctx, producedFrame(t, 1, 0, 3, 1, "old"), nil); err == nil {
		t.Fatal("append through a deleted topic's handle succeeded")
	}
	if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	p2, _ := db.RawPartition("t", 0)
	res, err := p2.AppendBatch(ctx, producedFrame(t, 1, 0, 0, 1, "new"), nil)
	if err != nil || res.Duplicate || res.BaseOffset != 0 {
		t.Fatalf("first batch of the new topic: %+v, %v (the old topic's state must not answer it)", res, err)
	}
}

func TestConcurrentIdempotentProducers(t *testing.T) {
	ctx := context.Background()
	db, p := openRaw(t, vfs.NewMem())
	defer db.Close()
	const producers, batches = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for w := 0; w < producers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pid, err := db.InitProducerID()
			if err != nil {
				errs <- err
				return
			}
			for i := int32(0); i < batches; i++ {
				frame := producedFrame(t, pid.ID, 0, i*3, 3, "c")
				first, err := p.AppendBatch(ctx, frame, nil)
				if err != nil {
					errs <- err
					return
				}
				retry, err := p.AppendBatch(ctx, frame, nil) // every batch sent twice
				if err != nil || !retry.Duplicate || retry.BaseOffset != first.BaseOffset {
					errs <- fmt.Errorf("retry: %+v, %v; first at %d", retry, err, first.BaseOffset)
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
	if hw := p.HighWatermark(); hw != producers*batches*3 {
		t.Fatalf("high watermark %d, want %d: no retry written", hw, producers*batches*3)
	}
}
