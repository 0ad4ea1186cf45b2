// Command kafkabench measures mqlog's Kafka front end against the embedded API in one run, in interleaved
// rounds on the same disk (SyncAlways), and prints a Markdown table: produce (one producer, batches of 1,
// 16 and 256 records of 100 B and 1 KiB; franz-go with acks=all against DB.AppendPartition), fetch
// (256 MiB of 1 KiB records read from the start: raw Fetch requests and a franz-go consumer against
// DB.ReadNoCopy) and 64 concurrent producers of single 100 B records (64 franz-go clients against 64
// goroutines), with p50 and p99 latency. Each ratio is the median over the rounds of kafka / embedded
// measured back to back. Beside each rate, the CPU time the process spent per message (or per MB): on a
// shared machine the rates move with the load, the CPU cost much less.
//
//	cd integration && go run ./cmd/kafkabench -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/integration"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	duration = flag.Duration("duration", time.Second, "length of each produce run")
	dir      = flag.String("dir", os.TempDir(), "where the data directories go")
	fetchMiB = flag.Int("fetch-mib", 256, "size of the log the fetch rows read, MiB")
)

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "kafkabench:", err)
		os.Exit(1)
	}
}

// sample is one measurement of one side of a row.
type sample struct {
	rate     float64 // msgs/s or MB/s
	p50, p99 int64   // µs, for the concurrent rows
	cpu      float64 // CPU time of the whole process (client and server), µs per message or per MB
}

// cpuTime returns the process's CPU time so far (user and system, every thread). The clients run in the
// same process as the server, so a kafka sample's CPU is both sides'; an embedded one's, the DB's.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perUnit is CPU µs per unit of work.
func perUnit(cpu time.Duration, units float64) float64 { return float64(cpu.Microseconds()) / units }

// row collects the rounds of one workload.
type row struct {
	name, unit      string
	embedded, kafka []sample
	raw             []sample // the same through a minimal kmsg client (produce rows)
	kind            string
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ratios(side, embedded []sample) []float64 {
	out := make([]float64, len(side))
	for i := range side {
		out[i] = side[i].rate / embedded[i].rate
	}
	return out
}

func cpus(s []sample) []float64 {
	out := make([]float64, len(s))
	for i := range s {
		out[i] = s[i].cpu
	}
	return out
}

func rates(s []sample) []float64 {
	out := make([]float64, len(s))
	for i := range s {
		out[i] = s[i].rate
	}
	return out
}

// broker starts a broker over a fresh directory with the bench topic.
func broker() (*integration.Broker, func(), error) {
	d, err := os.MkdirTemp(*dir, "kafkabench-")
	if err != nil {
		return nil, nil, err
	}
	b, err := integration.StartBroker(d, nil, nil)
	if err != nil {
		os.RemoveAll(d)
		return nil, nil, err
	}
	if err := b.DB.CreateTopic(integration.BenchTopic, mqlog.TopicConfig{}); err != nil {
		b.Close()
		os.RemoveAll(d)
		return nil, nil, err
	}
	return b, func() { b.Close(); os.RemoveAll(d) }, nil
}

// timed calls step until duration has passed and returns the calls made and the time taken.
func timed(step func() error) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	for time.Since(start) < *duration {
		if err := step(); err != nil {
			return n, 0, err
		}
		n++
	}
	return n, time.Since(start), nil
}

func run(ctx context.Context) error {
	var rows []*row
	produceRows := map[[2]int]*row{}
	for _, size := range []int{100, 1024} {
		for _, batch := range []int{1, 16, 256} {
			r := &row{name: fmt.Sprintf("produce, %d B, batch %d", size, batch), unit: "msgs/s"}
			produceRows[[2]int{size, batch}] = r
			rows = append(rows, r)
		}
	}
	fetchRaw := &row{name: fmt.Sprintf("fetch %d MiB of 1 KiB records: raw Fetch requests (kmsg) vs ReadNoCopy", *fetchMiB), unit: "MB/s"}
	fetchFranz := &row{name: "fetch: franz-go consumer (records decoded) vs ReadNoCopy", unit: "MB/s"}
	concurrent := &row{name: "64 concurrent producers, 100 B, batch 1", unit: "msgs/s", kind: "latency"}
	rows = append(rows, fetchRaw, fetchFranz, concurrent)

	fb, closeFetch, err := broker()
	if err != nil {
		return err
	}
	defer closeFetch()
	logBytes, hw, err := integration.FillLog(ctx, fb.DB, *fetchMiB<<20)
	if err != nil {
		return err
	}
	fetchClient, err := kgo.NewClient(kgo.SeedBrokers(fb.Addr))
	if err != nil {
		return err
	}
	defer fetchClient.Close()

	for round := 1; round <= *rounds; round++ {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", round, *rounds)
		for key, r := range produceRows {
			size, batch := key[0], key[1]
			emb, kaf, raw, err := produceRound(ctx, size, batch)
			if err != nil {
				return err
			}
			r.embedded, r.kafka, r.raw = append(r.embedded, emb), append(r.kafka, kaf), append(r.raw, raw)
		}
		mb := float64(logBytes) / 1e6
		fetched := func(start time.Time, c0 time.Duration) sample {
			return sample{rate: mb / time.Since(start).Seconds(), cpu: perUnit(cpuTime()-c0, mb)}
		}
		start, c0 := time.Now(), cpuTime()
		if n, err := integration.ReadEmbedded(fb.DB); err != nil || n != hw {
			return fmt.Errorf("read %d of %d: %v", n, hw, err)
		}
		embRead := fetched(start, c0)
		start, c0 = time.Now(), cpuTime()
		if n, err := integration.FetchRaw(ctx, fetchClient, hw, 8<<20); err != nil || n != logBytes {
			return fmt.Errorf("fetch %d of %d bytes: %v", n, logBytes, err)
		}
		fetchRaw.embedded, fetchRaw.kafka = append(fetchRaw.embedded, embRead), append(fetchRaw.kafka, fetched(start, c0))
		start, c0 = time.Now(), cpuTime()
		if n, err := integration.ConsumeFranz(ctx, fb.Addr, hw); err != nil || n < hw {
			return fmt.Errorf("consume %d of %d: %v", n, hw, err)
		}
		fetchFranz.embedded, fetchFranz.kafka = append(fetchFranz.embedded, embRead), append(fetchFranz.kafka, fetched(start, c0))

		emb, kaf, err := concurrentRound(ctx)
		if err != nil {
			return err
		}
		concurrent.embedded, concurrent.kafka = append(concurrent.embedded, emb), append(concurrent.kafka, kaf)
	}

	fmt.Printf("| workload | unit | embedded | kafka protocol (franz-go) | ratio | raw kmsg client | ratio | CPU µs/unit embedded | kafka | raw |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		e, k := fmt.Sprintf("%.0f", median(rates(r.embedded))), fmt.Sprintf("%.0f", median(rates(r.kafka)))
		if r.kind == "latency" {
			e += fmt.Sprintf(" (p50 %d µs, p99 %d µs)", medianInt(r.embedded, func(s sample) int64 { return s.p50 }), medianInt(r.embedded, func(s sample) int64 { return s.p99 }))
			k += fmt.Sprintf(" (p50 %d µs, p99 %d µs)", medianInt(r.kafka, func(s sample) int64 { return s.p50 }), medianInt(r.kafka, func(s sample) int64 { return s.p99 }))
		}
		raw, rawRatio := "–", "–"
		if len(r.raw) > 0 {
			raw, rawRatio = fmt.Sprintf("%.0f", median(rates(r.raw))), fmt.Sprintf("%.2f", median(ratios(r.raw, r.embedded)))
		}
		rawCPU := "–"
		if len(r.raw) > 0 {
			rawCPU = fmt.Sprintf("%.1f", median(cpus(r.raw)))
		}
		fmt.Printf("| %s | %s | %s | %s | %.2f | %s | %s | %.1f | %.1f | %s |\n", r.name, r.unit, e, k, median(ratios(r.kafka, r.embedded)), raw, rawRatio,
			median(cpus(r.embedded)), median(cpus(r.kafka)), rawCPU)
	}
	fmt.Printf("\nratio: the side over embedded, median over %d rounds of the two measured back to back\n", *rounds)
	fmt.Printf("CPU µs/unit: the process's CPU time (user+system; clients and server together) per message or per MB, median\n")
	return nil
}

func medianInt(s []sample, f func(sample) int64) int64 {
	xs := make([]float64, len(s))
	for i := range s {
		xs[i] = float64(f(s[i]))
	}
	return int64(median(xs))
}

// produceRound measures one producer, embedded, through the protocol with franz-go, and with the raw
// client, one after the other, each on a fresh directory.
func produceRound(ctx context.Context, size, batch int) (emb, kaf, raw sample, err error) {
	measure := func(start func(b *integration.Broker) (func() error, func(), error)) (sample, error) {
		b, done, err := broker()
		if err != nil {
			return sample{}, err
		}
		defer done()
		step, stop, err := start(b)
		if err != nil {
			return sample{}, err
		}
		defer stop()
		c0 := cpuTime()
		n, d, err := timed(step)
		return sample{rate: float64(n*batch) / d.Seconds(), cpu: perUnit(cpuTime()-c0, float64(n*batch))}, err
	}
	if emb, err = measure(func(b *integration.Broker) (func() error, func(), error) {
		return func() error { _, err := integration.ProduceEmbedded(ctx, b.DB, size, batch, 1); return err }, func() {}, nil
	}); err != nil {
		return
	}
	if kaf, err = measure(func(b *integration.Broker) (func() error, func(), error) {
		p, err := integration.NewKafkaProducer(ctx, b.Addr, size, batch)
		if err != nil {
			return nil, nil, err
		}
		return func() error { _, err := p.Produce(ctx, batch, 1); return err }, p.Close, nil
	}); err != nil {
		return
	}
	raw, err = measure(func(b *integration.Broker) (func() error, func(), error) {
		p, err := integration.NewRawProducer(b.Addr, size, batch)
		if err != nil {
			return nil, nil, err
		}
		return func() error { _, err := p.Produce(1); return err }, p.Close, nil
	})
	return
}

// concurrentRound measures 64 producers of single records, embedded then through 64 franz-go clients.
func concurrentRound(ctx context.Context) (sample, sample, error) {
	const producers, per = 64, 300
	value := make([]byte, 100)
	b, done, err := broker()
	if err != nil {
		return sample{}, sample{}, err
	}
	c0 := cpuTime()
	d, hist, err := integration.Concurrent(producers, per, func(int) error {
		_, err := b.DB.AppendPartition(ctx, integration.BenchTopic, 0, mqlog.Message{Value: value})
		return err
	})
	cpu := cpuTime() - c0
	done()
	if err != nil {
		return sample{}, sample{}, err
	}
	emb := sample{rate: producers * per / d.Seconds(), p50: hist.ValueAtQuantile(50), p99: hist.ValueAtQuantile(99), cpu: perUnit(cpu, producers*per)}

	b, done, err = broker()
	if err != nil {
		return sample{}, sample{}, err
	}
	defer done()
	clients, err := integration.KafkaSyncProducers(ctx, b.Addr, producers)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	if err != nil {
		return sample{}, sample{}, err
	}
	if c := b.Server.Connections(); c < producers {
		return sample{}, sample{}, fmt.Errorf("%d connections for %d clients", c, producers)
	}
	c0 = cpuTime()
	d, hist, err = integration.Concurrent(producers, per, func(w int) error {
		return clients[w].ProduceSync(ctx, &kgo.Record{Topic: integration.BenchTopic, Partition: 0, Value: value}).FirstErr()
	})
	cpu = cpuTime() - c0
	if err != nil {
		return sample{}, sample{}, err
	}
	return emb, sample{rate: producers * per / d.Seconds(), p50: hist.ValueAtQuantile(50), p99: hist.ValueAtQuantile(99), cpu: perUnit(cpu, producers*per)}, nil
}
