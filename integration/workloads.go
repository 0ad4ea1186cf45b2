package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The workloads of the benchmarks: the same work through the embedded API and through the protocol,
// so that BenchmarkProduce and friends (testing.B) and cmd/kafkabench (interleaved rounds, a table of
// ratios) measure the same thing. Every append is SyncAlways: acknowledged once fsynced.

// BenchTopic is the topic the workloads use, one partition.
const BenchTopic = "bench"

func payload(size int) []byte { return bytes.Repeat([]byte{'x'}, size) }

// ProduceEmbedded appends n batches of batch records of size bytes with DB.AppendPartition, one at a time.
func ProduceEmbedded(ctx context.Context, db *mqlog.DB, size, batch, n int) (time.Duration, error) {
	msgs := make([]mqlog.Message, batch)
	for i := range msgs {
		msgs[i].Value = payload(size)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := db.AppendPartition(ctx, BenchTopic, 0, msgs...); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// KafkaProducer is a franz-go client that sends one Produce request (acks=all, idempotent, kgo's
// default) per batch: records are buffered until Flush.
type KafkaProducer struct {
	cl    *kgo.Client
	value []byte
	mu    sync.Mutex
	err   error
}

// NewKafkaProducer connects to addr and produces one warm-up record (connection, InitProducerId).
func NewKafkaProducer(ctx context.Context, addr string, size, batch int) (*KafkaProducer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ManualFlushing(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.MaxBufferedRecords(batch+1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return nil, err
	}
	p := &KafkaProducer{cl: cl, value: payload(size)}
	if err := p.batch(ctx, 1); err != nil {
		cl.Close()
		return nil, err
	}
	return p, nil
}

func (p *KafkaProducer) batch(ctx context.Context, n int) error {
	for j := 0; j < n; j++ {
		p.cl.Produce(ctx, &kgo.Record{Topic: BenchTopic, Partition: 0, Value: p.value}, func(_ *kgo.Record, err error) {
			if err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
			}
		})
	}
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Produce sends n batches of batch records, each acknowledged before the next is sent.
func (p *KafkaProducer) Produce(ctx context.Context, batch, n int) (time.Duration, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := p.batch(ctx, batch); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// Close closes the client.
func (p *KafkaProducer) Close() { p.cl.Close() }

// FillLog appends total bytes of 1 KiB records in batches of 256 and returns the bytes of the log's
// batches and its high watermark.
func FillLog(ctx context.Context, db *mqlog.DB, total int) (int64, int64, error) {
	if _, err := ProduceEmbedded(ctx, db, 1024, 256, total/(256*1024)); err != nil {
		return 0, 0, err
	}
	parts, err := db.Partitions(BenchTopic)
	if err != nil {
		return 0, 0, err
	}
	var size int64
	for _, s := range parts[0].Segments {
		size += s.Size
	}
	return size, parts[0].HighWatermark, nil
}

// ReadEmbedded reads the whole partition with DB.ReadNoCopy and returns the records read.
func ReadEmbedded(db *mqlog.DB) (int64, error) {
	n := int64(0)
	for _, err := range db.ReadNoCopy(BenchTopic, 0, 0) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// FetchRaw reads the whole partition with Fetch requests of up to maxBytes through cl (kmsg: the
// batches are not decoded, as a broker's replica fetcher would take them) and returns the batch bytes.
//
// kgo sends the newest version both sides know (Fetch v18, which names topics by id), so the topic id
// comes from a Metadata request first.
func FetchRaw(ctx context.Context, cl *kgo.Client, hw int64, maxBytes int32) (int64, error) {
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(BenchTopic)
	md.Topics = append(md.Topics, mt)
	mresp, err := md.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	id := mresp.Topics[0].TopicID
	var total int64
	for off := int64(0); off < hw; {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.MaxWaitMillis = maxBytes, 500
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = BenchTopic, id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = off, maxBytes
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return total, err
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			return total, fmt.Errorf("fetch at %d: error %d", off, p.ErrorCode)
		}
		last, err := lastOffset(p.RecordBatches)
		if err != nil {
			return total, err
		}
		total += int64(len(p.RecordBatches))
		off = last + 1
	}
	return total, nil
}

// lastOffset returns the last offset of the last batch in a run of batches.
func lastOffset(batches []byte) (int64, error) {
	var last int64 = -1
	for len(batches) >= 61 {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(batches); err != nil {
			return 0, err
		}
		last = rb.FirstOffset + int64(rb.LastOffsetDelta)
		batches = batches[12+int(rb.Length):]
	}
	if last < 0 {
		return 0, fmt.Errorf("no batch in the response")
	}
	return last, nil
}

// ConsumeFranz reads the whole partition with a franz-go consumer (every record decoded) and returns the
// records read.
func ConsumeFranz(ctx context.Context, addr string, hw int64) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{BenchTopic: {0: kgo.NewOffset().At(0)}}),
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	for n < hw {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			return n, err
		}
		n += int64(fetches.NumRecords())
	}
	return n, nil
}

// Concurrent runs producers goroutines, each calling produce per times, and returns the elapsed time and
// the latency histogram (µs) of the calls.
func Concurrent(producers, per int, produce func(w int) error) (time.Duration, *hdrhistogram.Histogram, error) {
	hist := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	start := time.Now()
	for w := 0; w < producers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
			var err error
			for i := 0; i < per && err == nil; i++ {
				t := time.Now()
				err = produce(w)
				local.RecordValue(time.Since(t).Microseconds())
			}
			mu.Lock()
			defer mu.Unlock()
			hist.Merge(local)
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return time.Since(start), hist, first
}

// KafkaSyncProducers returns n franz-go clients (n connections at least), each having produced one record.
// They linger 0 (kgo's default is 10 ms): each record is sent as soon as it is produced, as the embedded
// appends of the same row are.
func KafkaSyncProducers(ctx context.Context, addr string, n int) ([]*kgo.Client, error) {
	clients := make([]*kgo.Client, 0, n)
	for i := 0; i < n; i++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
		if err != nil {
			return clients, err
		}
		clients = append(clients, cl)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: BenchTopic, Partition: 0, Value: payload(100)}).FirstErr(); err != nil {
			return clients, err
		}
	}
	return clients, nil
}

// RawProducer is the least a Kafka producer can do: it encodes each batch (segment.AppendBatch, as a
// client library would), sends one Produce request (v9, acks=all) and reads the answer, over one
// connection, with kmsg. Beside franz-go it shows which part of the protocol's cost is the server's.
type RawProducer struct {
	nc      net.Conn
	records []segment.Record
	f       *kmsg.RequestFormatter
	buf     []byte
	corr    int32
}

// NewRawProducer connects to addr; its batches hold batch records of size bytes.
func NewRawProducer(addr string, size, batch int) (*RawProducer, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	recs := make([]segment.Record, batch)
	for i := range recs {
		recs[i].Value = payload(size)
	}
	return &RawProducer{nc: nc, records: recs, f: kmsg.NewRequestFormatter()}, nil
}

// Produce sends n batches, each acknowledged before the next is sent.
func (p *RawProducer) Produce(n int) (time.Duration, error) {
	start := time.Now()
	var frame []byte
	for i := 0; i < n; i++ {
		now := time.Now().UnixMilli()
		for j := range p.records {
			p.records[j].Timestamp = now
		}
		var err error
		if frame, err = segment.AppendBatch(frame[:0], p.records, segment.EncodeOptions{Epoch: -1}); err != nil {
			return 0, err
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks = 9, -1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = BenchTopic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = frame
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p.corr++
		p.buf = p.f.AppendRequest(p.buf[:0], req, p.corr)
		if _, err := p.nc.Write(p.buf); err != nil {
			return 0, err
		}
		var size [4]byte
		if _, err := io.ReadFull(p.nc, size[:]); err != nil {
			return 0, err
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(p.nc, body); err != nil {
			return 0, err
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = 9
		if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, empty header tags
			return 0, err
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			return 0, fmt.Errorf("produce: error %d", code)
		}
	}
	return time.Since(start), nil
}

// Close closes the connection.
func (p *RawProducer) Close() { p.nc.Close() }
