package mqlog_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

// The cost of each delivery feature on the append and ack paths, beside the same workloads without it
// (BenchmarkAppendProducers and BenchmarkQueueAck): docs/DELIVERY.md has the figures and how they were
// taken.

// BenchmarkDeliveryAppend is BenchmarkAppendProducers with a delivery feature on every message: "id" a
// unique message id (looked up and remembered by the duplicate window), "deliverat" a delivery time an
// hour ahead (a header more per record).
func BenchmarkDeliveryAppend(b *testing.B) {
	for _, feature := range []string{"id", "deliverat"} {
		for _, producers := range benchConsumers {
			b.Run(fmt.Sprintf("feature=%s/producers=%d", feature, producers), func(b *testing.B) {
				db, _ := openBenchDB(b, mqlog.SyncAlways)
				at := time.Now().Add(time.Hour)
				benchAppendProducers(b, db, producers, func(i int64, m *mqlog.Message) {
					switch feature {
					case "id":
						m.ID = "msg-" + strconv.FormatInt(i, 10)
					case "deliverat":
						m.DeliverAt = at
					}
				})
			})
		}
	}
}

// BenchmarkDeliveryAck is BenchmarkQueueAck (Next, then a durable Ack, by 1, 8 and 64 consumers of one
// group on a one-partition topic) with a delivery feature on:
//
//   - ordered: OrderedKeys, 1,024 keys in turn;
//   - backoff: a BackOff list (on the ack path of messages acked at their first delivery it costs
//     nothing; it is here to show that);
//   - delayed: every message appended with a DeliverAt an hour ahead; the queue's clock jumps two hours
//     once the group has moved them all to the timer index, so one op is a message scheduled (its timer
//     saved), read again when due, delivered (its timer's count saved) and acked (its timer deleted);
//   - priority: a PriorityQueue over three level topics holding a third of the messages each.
func BenchmarkDeliveryAck(b *testing.B) {
	for _, feature := range []string{"ordered", "backoff", "delayed", "priority"} {
		for _, consumers := range benchConsumers {
			b.Run(fmt.Sprintf("feature=%s/consumers=%d", feature, consumers), func(b *testing.B) {
				benchDeliveryAck(b, feature, consumers)
			})
		}
	}
}

// nexter is a Queue or a PriorityQueue.
type nexter interface {
	Next(ctx context.Context) (*mqlog.QueueMessage, error)
	Close() error
}

func benchDeliveryAck(b *testing.B, feature string, consumers int) {
	db, _ := openBenchDB(b, mqlog.SyncAlways)
	ctx := context.Background()
	opts := mqlog.QueueOptions{MaxAckPending: 4 * consumers}
	levels := []string{bench.Topic + ".p0", bench.Topic + ".p1", bench.Topic + ".p2"}
	var offset atomic.Int64 // the queue clock's lead over the real one
	switch feature {
	case "ordered":
		opts.OrderedKeys = true
	case "backoff":
		opts.BackOff = []time.Duration{time.Second, 5 * time.Second, time.Minute}
	case "delayed":
		mqlog.SetQueueClockForTest(db, func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	}
	at := time.Now().Add(time.Hour)
	for left, i := b.N, 0; left > 0; left -= 1000 {
		msgs := benchMessages(min(left, 1000), 100)
		for j := range msgs {
			switch feature {
			case "ordered":
				msgs[j].Key = []byte(strconv.Itoa((i + j) % 1024))
			case "delayed":
				msgs[j].DeliverAt = at
			}
		}
		i += len(msgs)
		if feature == "priority" {
			for l, topic := range levels {
				var part []mqlog.Message
				for j := l; j < len(msgs); j += len(levels) {
					part = append(part, msgs[j])
				}
				if len(part) > 0 {
					if _, err := db.Append(ctx, topic, part...); err != nil {
						b.Fatal(err)
					}
				}
			}
			continue
		}
		if _, err := db.Append(ctx, bench.Topic, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, consumers+1)
	b.ResetTimer()
	for range consumers {
		var q nexter
		var err error
		if feature == "priority" {
			q, err = db.PriorityQueue("work", levels, opts, mqlog.PriorityOptions{})
		} else {
			q, err = db.Queue(bench.Topic, "work", opts)
		}
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer q.Close()
			for {
				m, err := q.Next(ctx)
				if err != nil {
					return // cancelled: every message is acked
				}
				if err := m.Ack(); err != nil {
					errs <- err
					return
				}
				if done.Add(1) == int64(b.N) {
					cancel()
					return
				}
			}
		})
	}
	if feature == "delayed" {
		// Once every message is in the timer index, time jumps past their delivery time.
		wg.Go(func() {
			for mqlog.QueueScheduledForTest(db) < int64(b.N) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
			offset.Store(int64(2 * time.Hour))
			mqlog.WakeQueuesForTest(db)
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
}
