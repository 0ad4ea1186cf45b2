package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestFranzGo: produce (idempotent, kgo's default), consume from earliest, ListOffsets by time, topic
// admin, all at the newest versions kgo speaks (Produce v13 and Fetch v18, by topic id).
func TestFranzGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := startBroker(t, nil)
	cl := newKgo(t, b.addr, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))

	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "orders", 3, -1
	create.Topics = append(create.Topics, ct)
	resp, err := create.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics: %+v, %v", resp, err)
	}

	const n = 300
	before := time.Now()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%03d", i)}
		if i == n/2 {
			time.Sleep(20 * time.Millisecond) // a gap in time for the lookup below
			before = time.Now()
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
		if i == n/2-1 {
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if seen[string(r.Value)] {
				t.Errorf("record %s consumed twice", r.Value)
			}
			seen[string(r.Value)] = true
		})
	}
	total := 0
	for p := int32(0); p < 3; p++ {
		total += len(b.records(t, "orders", p))
	}
	if total != n {
		t.Fatalf("log holds %d records, want %d", total, n)
	}

	// ListOffsets by time: the first record at or after `before` in each partition is one of the second
	// half, and every record before it is of the first half.
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "orders"
	for p := int32(0); p < 3; p++ {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, before.UnixMilli()
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	lr, err := lo.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lr.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("ListOffsets partition %d: error %d", p.Partition, p.ErrorCode)
		}
		values := b.records(t, "orders", p.Partition)
		for i, v := range values {
			var k int
			fmt.Sscanf(v, "v%d", &k)
			if (int64(i) < p.Offset) != (k < n/2) {
				t.Fatalf("partition %d: offset %d for the time, but record %d is %s", p.Partition, p.Offset, i, v)
			}
		}
	}
}

// TestFranzGoIdempotentRetry cuts the connection right after the broker wrote a batch, before kgo hears
// of it: kgo retries the batch with the same sequence numbers, and the broker answers the retry with the
// original offset instead of writing it again.
func TestFranzGoIdempotentRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, proxy := startBrokerBehindProxy(t)
	if err := b.db.CreateTopic("jobs", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	// (A lost connection makes kgo refresh its metadata, which it does at most every MetadataMinAge.)
	cl := newKgo(t, proxy.Addr(), kgo.RecordRetries(10), kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	proxy.DropProduceResponses(2)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Topic: "jobs", Value: fmt.Appendf(nil, "job-%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		if r.Offset != int64(i) {
			t.Fatalf("record %d acknowledged at offset %d", i, r.Offset)
		}
	}
	if proxy.Dropped.Load() != 2 {
		t.Fatalf("%d produce responses dropped, want 2", proxy.Dropped.Load())
	}
	got := b.records(t, "jobs", 0)
	if len(got) != 10 {
		t.Fatalf("log holds %d records after %d retried batches, want 10: %v", len(got), proxy.Dropped.Load(), got)
	}
	for i, v := range got {
		if v != fmt.Sprintf("job-%d", i) {
			t.Fatalf("record %d is %s", i, v)
		}
	}
}
