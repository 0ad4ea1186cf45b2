package mqlog_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

// benchConsumers are the concurrent consumer counts of the commit and ack benchmarks.
var benchConsumers = []int{1, 8, 64}

// BenchmarkGroupCommit measures durable offset commits (pebble.Sync) with 1, 8 and 64 concurrent
// consumers, each a group of its own committing in the one partition, so that no commit waits for
// another's lock: concurrent commits share fsyncs through Pebble's commit pipeline. One op is one commit.
func BenchmarkGroupCommit(b *testing.B) {
	for _, consumers := range benchConsumers {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			db, _ := openBenchDB(b, mqlog.SyncAlways)
			if _, err := db.Append(context.Background(), bench.Topic, benchMessages(1, 100)...); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, consumers)
			b.ResetTimer()
			for c := range consumers {
				group := fmt.Sprintf("g%d", c)
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := db.CommitGroupOffset(group, bench.Topic, 0, i%2); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// BenchmarkQueueAck measures the work queue with 1, 8 and 64 concurrent consumers of one group on a
// one-partition topic: each takes messages with Next and acks each one durably (pebble.Sync) before the
// next. Acks of the partition that arrive while a save is in flight share the next save. One op is one
// message delivered and acked; the messages are appended before the timer starts.
func BenchmarkQueueAck(b *testing.B) {
	for _, consumers := range benchConsumers {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) { benchQueue(b, consumers, false) })
	}
}

// BenchmarkQueueAckNext is BenchmarkQueueAck with AckNext instead of Ack then Next: the ack shares the
// next delivery's synced save.
func BenchmarkQueueAckNext(b *testing.B) {
	for _, consumers := range benchConsumers {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) { benchQueue(b, consumers, true) })
	}
}

func benchQueue(b *testing.B, consumers int, ackNext bool) {
	db, _ := openBenchDB(b, mqlog.SyncAlways)
	ctx := context.Background()
	for left := b.N; left > 0; left -= 1000 {
		if _, err := db.Append(ctx, bench.Topic, benchMessages(min(left, 1000), 100)...); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	savesBefore := mqlog.QueueSavesForTest(db)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, consumers)
	b.ResetTimer()
	for range consumers {
		q, err := db.Queue(bench.Topic, "work", mqlog.QueueOptions{MaxAckPending: 4 * consumers})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer q.Close()
			m, err := q.Next(ctx)
			for err == nil {
				if done.Add(1) == int64(b.N) {
					if err := m.Ack(); err != nil {
						errs <- err
					}
					cancel()
					return
				}
				if ackNext {
					m, err = m.AckNext(ctx)
					continue
				}
				if err := m.Ack(); err != nil {
					errs <- err
					return
				}
				m, err = q.Next(ctx)
			}
			// cancelled: every message is acked
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	// Saves cover deliveries (recorded before Next returns) as well as acks.
	if saves := mqlog.QueueSavesForTest(db) - savesBefore; saves > 0 {
		b.ReportMetric(float64(b.N)/float64(saves), "msgs/save")
	}
}

// BenchmarkQueueNextWithPending measures one redelivery (Next of a nak'd message, then Nak again) while
// n other messages of the group are leased: the cost of finding the message due first among the pending
// ones. On an in-memory filesystem, so that the state's synced save costs no fsync and the search shows.
func BenchmarkQueueNextWithPending(b *testing.B) {
	for _, pending := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			db, err := mqlog.Open("/bench", &mqlog.Options{FS: vfs.NewMem()})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			for left := pending + 1; left > 0; left -= 1000 {
				if _, err := db.Append(ctx, bench.Topic, benchMessages(min(left, 1000), 100)...); err != nil {
					b.Fatal(err)
				}
			}
			q, err := db.Queue(bench.Topic, "work", mqlog.QueueOptions{AckWait: time.Hour, MaxAckPending: pending + 1})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			var last *mqlog.QueueMessage
			for range pending + 1 {
				if last, err = q.Next(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := last.Nak(0); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				m, err := q.Next(ctx) // the nak'd one, due now; the others are leased for an hour
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Nak(0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEndToEndLatency measures the time from the call of Append to the return of Next with the
// message, for a fan-out Consumer and for a work-queue Queue, one message per Append, one producer and one
// consumer. Under SyncAlways it includes the segment fsync; under SyncNever it is close to the wake-up
// latency of a blocked Next (a write, the high watermark's advance, the channel close, the read). It
// reports p50, p99 and p99.9 in microseconds from an HDR histogram. One op is one message.
func BenchmarkEndToEndLatency(b *testing.B) {
	for _, policy := range []mqlog.SyncPolicy{mqlog.SyncAlways, mqlog.SyncNever} {
		for _, kind := range []string{"consumer", "queue"} {
			b.Run(fmt.Sprintf("sync=%s/%s", policy, kind), func(b *testing.B) {
				benchEndToEnd(b, policy, kind)
			})
		}
	}
}

func benchEndToEnd(b *testing.B, policy mqlog.SyncPolicy, kind string) {
	db, _ := openBenchDB(b, policy)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var next func() ([]byte, func() error, error)
	switch kind {
	case "consumer":
		c, err := db.Consumer(bench.Topic, "latency")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		next = func() ([]byte, func() error, error) {
			rec, err := c.Next(ctx)
			return rec.Value, func() error { return nil }, err
		}
	case "queue":
		q, err := db.Queue(bench.Topic, "latency", mqlog.QueueOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		next = func() ([]byte, func() error, error) {
			m, err := q.Next(ctx)
			if err != nil {
				return nil, nil, err
			}
			return m.Value, m.Ack, nil
		}
	}
	hist := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
	start := time.Now()
	received := make(chan struct{}, 1)
	consumerErr := make(chan error, 1)
	go func() {
		for range b.N {
			value, ack, err := next()
			if err != nil {
				consumerErr <- err
				return
			}
			sent := time.Duration(binary.BigEndian.Uint64(value))
			_ = hist.RecordValue(int64((time.Since(start) - sent) / time.Microsecond))
			if err := ack(); err != nil { // the queue's ack is after the measurement, before the next Append
				consumerErr <- err
				return
			}
			received <- struct{}{}
		}
		consumerErr <- nil
	}()
	value := make([]byte, 100)
	b.ResetTimer()
	for range b.N {
		binary.BigEndian.PutUint64(value, uint64(time.Since(start)))
		if _, err := db.Append(ctx, bench.Topic, mqlog.Message{Value: value}); err != nil {
			b.Fatal(err)
		}
		<-received // one message in flight: the consumer is blocked in Next when the next one comes
	}
	if err := <-consumerErr; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-µs")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-µs")
	b.ReportMetric(float64(hist.ValueAtQuantile(99.9)), "p99.9-µs")
}

// BenchmarkOffsetForTime looks up random times in a one-partition log of 200,000 messages of 100 bytes (in
// batches of 100, about 11 KiB) in
// 1 MiB segments: "indexed" is DB.OffsetForTime (segment timestamps, then a binary search over the sparse
// index, then a short read); "scan" is the read from the partition's start that consume --from @time did
// before. One op is one lookup.
func BenchmarkOffsetForTime(b *testing.B) {
	const messages, perAppend = 200_000, 100
	dir := b.TempDir()
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: mqlog.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic(bench.Topic, mqlog.TopicConfig{SegmentBytes: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	base := time.UnixMilli(1_700_000_000_000)
	for i := 0; i < messages; i += perAppend {
		msgs := benchMessages(perAppend, 100)
		for j := range msgs {
			msgs[j].Timestamp = base.Add(time.Duration(i+j) * time.Millisecond)
		}
		if _, err := db.Append(context.Background(), bench.Topic, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	target := func(i int) (time.Time, int64) {
		off := int64(i*7919) % messages
		return base.Add(time.Duration(off) * time.Millisecond), off
	}
	b.Run("indexed", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			at, want := target(i)
			got, err := db.OffsetForTime(bench.Topic, 0, at)
			if err != nil || got != want {
				b.Fatalf("OffsetForTime = %d, %v; want %d", got, err, want)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			at, want := target(i)
			got := int64(-1)
			for rec, err := range db.ReadNoCopy(bench.Topic, 0, 0) {
				if err != nil {
					b.Fatal(err)
				}
				if !rec.Timestamp.Before(at) {
					got = rec.Offset
					break
				}
			}
			if got != want {
				b.Fatalf("scan = %d; want %d", got, want)
			}
		}
	})
}
