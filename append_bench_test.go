package mqlog_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
)

// BenchmarkAppendProducers is 1, 8 and 64 goroutines each appending single 100-byte messages durably
// (SyncAlways) to a one-partition topic; group commit shares fsyncs between them. One op is one message.
// It is the append side of the delivery features' cost (docs/DELIVERY.md): the same shape with a message
// id, a delivery time or a priority is in delivery_bench_test.go.
func BenchmarkAppendProducers(b *testing.B) {
	for _, producers := range benchConsumers {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			db, _ := openBenchDB(b, mqlog.SyncAlways)
			benchAppendProducers(b, db, producers, func(int64, *mqlog.Message) {})
		})
	}
}

// benchAppendProducers runs the producers over db's bench topic; shape fills in each message before it
// is appended (i counts the messages from 1).
func benchAppendProducers(b *testing.B, db *mqlog.DB, producers int, shape func(i int64, m *mqlog.Message)) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	b.ResetTimer()
	for range producers {
		msg := benchMessages(1, 100)[0]
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				m := msg
				shape(i, &m)
				if _, err := db.Append(ctx, bench.Topic, m); err != nil {
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
