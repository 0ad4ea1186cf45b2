package integration

import (
	"context"
	"testing"

	"github.com/mqlog/mqlog"
)

func BenchmarkZZEmbConcurrent(b *testing.B) {
	const producers = 64
	br := benchBroker(b)
	ctx := context.Background()
	value := payload(100)
	b.ResetTimer()
	d, hist, err := Concurrent(producers, max(b.N/producers, 1), func(int) error {
		_, err := br.DB.AppendPartition(ctx, BenchTopic, 0, mqlog.Message{Value: value})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	m := br.DB.Metrics()
	b.ReportMetric(m.AppendsPerSync(), "appends/sync")
	b.ReportMetric(float64(m.SyncTime.Microseconds())/float64(m.Syncs), "µs/sync")
	b.ReportMetric(float64(m.CommitLatency.P50.Microseconds()), "commit-p50-µs")
	b.ReportMetric(float64(max(b.N/producers, 1)*producers)/d.Seconds(), "msgs/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-µs")
}

func BenchmarkZZRawConcurrent(b *testing.B) {
	const producers = 64
	br := benchBroker(b)
	ps := make([]*RawProducer, producers)
	for i := range ps {
		p, err := NewRawProducer(br.Addr, 100, 1)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		ps[i] = p
	}
	b.ResetTimer()
	d, hist, err := Concurrent(producers, max(b.N/producers, 1), func(w int) error {
		_, err := ps[w].Produce(1)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = mqlog.Message{}
	_ = context.Background()
	m := br.DB.Metrics()
	b.ReportMetric(m.AppendsPerSync(), "appends/sync")
	b.ReportMetric(float64(m.SyncTime.Microseconds())/float64(m.Syncs), "µs/sync")
	b.ReportMetric(float64(m.CommitLatency.P50.Microseconds()), "commit-p50-µs")
	b.ReportMetric(float64(max(b.N/producers, 1)*producers)/d.Seconds(), "msgs/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-µs")
}
