package integration

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The benchmarks (testing.B) of the workloads in workloads.go; cmd/kafkabench runs the same in
// interleaved rounds and prints the ratios:
//
//	cd integration && go test -run '^$' -bench . -benchtime 2s .

func benchBroker(b *testing.B) *Broker {
	br, err := StartBroker(b.TempDir(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	if err := br.DB.CreateTopic(BenchTopic, mqlog.TopicConfig{}); err != nil {
		b.Fatal(err)
	}
	return br
}

func BenchmarkProduce(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{100, 1024} {
		for _, batch := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("size=%d/batch=%d/api=embedded", size, batch), func(b *testing.B) {
				br := benchBroker(b)
				b.SetBytes(int64(size * batch))
				b.ResetTimer()
				d, err := ProduceEmbedded(ctx, br.DB, size, batch, b.N)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N*batch)/d.Seconds(), "msgs/s")
			})
			b.Run(fmt.Sprintf("size=%d/batch=%d/api=kafka", size, batch), func(b *testing.B) {
				br := benchBroker(b)
				p, err := NewKafkaProducer(ctx, br.Addr, size, batch)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				b.SetBytes(int64(size * batch))
				b.ResetTimer()
				d, err := p.Produce(ctx, batch, b.N)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N*batch)/d.Seconds(), "msgs/s")
			})
		}
	}
}

func BenchmarkFetch(b *testing.B) {
	ctx := context.Background()
	br := benchBroker(b)
	logBytes, hw, err := FillLog(ctx, br.DB, 256<<20)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("api=embedded-ReadNoCopy", func(b *testing.B) {
		b.SetBytes(logBytes)
		for i := 0; i < b.N; i++ {
			if n, err := ReadEmbedded(br.DB); err != nil || n != hw {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("api=kafka-raw-fetch", func(b *testing.B) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		b.SetBytes(logBytes)
		for i := 0; i < b.N; i++ {
			if n, err := FetchRaw(ctx, cl, hw, 8<<20); err != nil || n != logBytes {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("api=kafka-franz-go-consumer", func(b *testing.B) {
		b.SetBytes(logBytes)
		for i := 0; i < b.N; i++ {
			if n, err := ConsumeFranz(ctx, br.Addr, hw); err != nil || n < hw {
				b.Fatal(n, err)
			}
		}
	})
}

func BenchmarkConcurrentProducers(b *testing.B) {
	const producers = 64
	ctx := context.Background()
	b.Run("api=embedded", func(b *testing.B) {
		br := benchBroker(b)
		value := payload(100)
		b.ResetTimer()
		c0 := processCPU()
		d, hist, err := Concurrent(producers, max(b.N/producers, 1), func(int) error {
			_, err := br.DB.AppendPartition(ctx, BenchTopic, 0, mqlog.Message{Value: value})
			return err
		})
		cpu := processCPU() - c0
		if err != nil {
			b.Fatal(err)
		}
		msgs := float64(max(b.N/producers, 1) * producers)
		b.ReportMetric(msgs/d.Seconds(), "msgs/s")
		b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-µs")
		b.ReportMetric(float64(cpu.Microseconds())/msgs, "cpu-µs/msg")
	})
	b.Run("api=kafka", func(b *testing.B) {
		br := benchBroker(b)
		clients, err := KafkaSyncProducers(ctx, br.Addr, producers)
		for _, cl := range clients {
			defer cl.Close()
		}
		if err != nil {
			b.Fatal(err)
		}
		value := payload(100)
		b.ResetTimer()
		c0 := processCPU()
		d, hist, err := Concurrent(producers, max(b.N/producers, 1), func(w int) error {
			return clients[w].ProduceSync(ctx, &kgo.Record{Topic: BenchTopic, Partition: 0, Value: value}).FirstErr()
		})
		cpu := processCPU() - c0
		if err != nil {
			b.Fatal(err)
		}
		msgs := float64(max(b.N/producers, 1) * producers)
		b.ReportMetric(msgs/d.Seconds(), "msgs/s")
		b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-µs")
		b.ReportMetric(float64(cpu.Microseconds())/msgs, "cpu-µs/msg") // clients and server: the process's
	})
}

// processCPU is the process's user and system CPU time so far (getrusage).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
