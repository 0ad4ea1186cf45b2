package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersions(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = v, "test", "1.0"
		resp := c.do(req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("v%d: error %d, %d keys", v, resp.ErrorCode, len(resp.ApiKeys))
		}
		found := false
		for _, k := range resp.ApiKeys {
			if k.ApiKey == fetchKey && k.MinVersion == 4 && k.MaxVersion == 18 {
				found = true
			}
		}
		if !found {
			t.Fatalf("v%d: Fetch 4-18 not listed: %+v", v, resp.ApiKeys)
		}
	}
	// An ApiVersions version the server does not have: UNSUPPORTED_VERSION in the v0 layout, with the
	// ranges, and the connection stays open.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 5
	corr := c.send(req)
	v0 := kmsg.NewPtrApiVersionsRequest() // decode as v0
	resp := c.recv(v0, corr).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("v5: error %d, %d keys; want UNSUPPORTED_VERSION with the ranges", resp.ErrorCode, len(resp.ApiKeys))
	}
	if resp := c.do(kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("after the downgrade: %d", resp.ErrorCode)
	}
}

func TestUnsupportedRequestsKeepTheConnection(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	// A key kmsg knows that this server does not serve (yet): its response with UNSUPPORTED_VERSION.
	acl := kmsg.NewPtrDescribeACLsRequest()
	acl.Version = 1
	if resp := c.do(acl).(*kmsg.DescribeACLsResponse); resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("DescribeACLs: error %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	// A served key below its range (Produce v2 carries the old message format).
	old := produceReq(2, "t", 0, batch(t, 1, "x"))
	resp := c.do(old).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedVersion.Code {
		t.Fatalf("Produce v2: error %d, want UNSUPPORTED_VERSION", code)
	}
	// A key nobody knows: the ApiVersions v0 layout.
	unknown := &rawRequest{key: 999, version: 0}
	corr := c.send(unknown)
	if resp := c.recv(kmsg.NewPtrApiVersionsRequest(), corr).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("key 999: error %d", resp.ErrorCode)
	}
	if resp := c.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		t.Fatalf("the connection is not usable after unsupported requests: %+v", resp)
	}
	ts.log.waitLog(t, "unsupported request answered with UNSUPPORTED_VERSION")
}

// rawRequest is a request of any key and version with an empty body.
type rawRequest struct {
	key, version int16
}

func (r *rawRequest) Key() int16                  { return r.key }
func (r *rawRequest) MaxVersion() int16           { return r.version }
func (r *rawRequest) SetVersion(v int16)          { r.version = v }
func (r *rawRequest) GetVersion() int16           { return r.version }
func (r *rawRequest) IsFlexible() bool            { return false }
func (r *rawRequest) AppendTo(b []byte) []byte    { return b }
func (r *rawRequest) ReadFrom([]byte) error       { return nil }
func (r *rawRequest) ResponseKind() kmsg.Response { return nil }

func TestProduceFetchListOffsets(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "orders", 2, 1
	create.Topics = append(create.Topics, ct)
	if resp := c.do(create).(*kmsg.CreateTopicsResponse); resp.Topics[0].ErrorCode != 0 || resp.Topics[0].NumPartitions != 2 {
		t.Fatalf("CreateTopics: %+v", resp.Topics[0])
	}
	if resp := c.do(create).(*kmsg.CreateTopicsResponse); resp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Fatalf("CreateTopics again: %d", resp.Topics[0].ErrorCode)
	}
	for _, v := range []int16{0, 1, 9, 12, 13} {
		md := kmsg.NewPtrMetadataRequest()
		md.Version = v
		resp := c.do(md).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 || resp.Brokers[0].Port == 0 {
			t.Fatalf("Metadata v%d: %+v", v, resp)
		}
	}

	var sent [][]byte
	for i, v := range []int16{3, 7, 9, 12, 13} {
		frame := batch(t, 5, "m")
		sent = append(sent, frame)
		req := produceReq(v, "orders", 1, frame)
		req.Topics[0].TopicID = ts.srv.ids.of("orders")
		resp := c.do(req).(*kmsg.ProduceResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != int64(5*i) {
			t.Fatalf("Produce v%d: error %d base %d, want base %d", v, p.ErrorCode, p.BaseOffset, 5*i)
		}
	}
	for _, v := range []int16{4, 11, 12, 13, 18} {
		req := fetchReq(v, "orders", 1, 7, 1, 1000)
		req.Topics[0].TopicID = ts.srv.ids.of("orders")
		resp := c.do(req).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 25 {
			t.Fatalf("Fetch v%d: error %d hw %d", v, p.ErrorCode, p.HighWatermark)
		}
		// From the batch holding offset 7 (5..9) on, every stored batch as it is.
		want := 0
		for _, f := range sent[1:] {
			want += len(f)
		}
		if len(p.RecordBatches) != want {
			t.Fatalf("Fetch v%d: %d bytes, want %d", v, len(p.RecordBatches), want)
		}
		b, err := segment.DecodeBatch(p.RecordBatches, segment.Limits{})
		if err != nil || b.Header.BaseOffset != 5 || string(b.Frame[21:]) != string(sent[1][21:]) {
			t.Fatalf("Fetch v%d: first batch base %d, %v, or bytes not as produced", v, b.Header.BaseOffset, err)
		}
	}
	// Fetch past the end, or of an unknown partition.
	resp := c.do(fetchReq(11, "orders", 1, 26, 0, 0)).(*kmsg.FetchResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch past the end: %d", code)
	}
	resp = c.do(fetchReq(11, "orders", 7, 0, 0, 0)).(*kmsg.FetchResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch of partition 7: %d", code)
	}

	list := func(v int16, ts int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = v
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "orders"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 1, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	if p := list(1, -1); p.Offset != 25 {
		t.Fatalf("latest: %+v", p)
	}
	if p := list(11, -2); p.Offset != 0 {
		t.Fatalf("earliest: %+v", p)
	}
	if p := list(0, -1); len(p.OldStyleOffsets) != 1 || p.OldStyleOffsets[0] != 25 {
		t.Fatalf("v0 latest: %+v", p)
	}
	if p := list(7, -3); p.Offset < 0 || p.Timestamp <= 0 {
		t.Fatalf("max timestamp: %+v", p)
	}
	if p := list(4, time.Now().Add(time.Hour).UnixMilli()); p.Offset != -1 || p.Timestamp != -1 {
		t.Fatalf("a time after every record: %+v, want -1", p)
	}
	if p := list(4, 0); p.Offset != 0 {
		t.Fatalf("time 0: %+v", p)
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version, del.TopicNames = 5, []string{"orders", "nope"}
	dr := c.do(del).(*kmsg.DeleteTopicsResponse)
	if dr.Topics[0].ErrorCode != 0 || dr.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DeleteTopics: %+v", dr.Topics)
	}
}

func TestFetchLongPollWokenByAppend(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)
	// A fetch at the end with a 30 s wait; the append below must wake it (the test's own timeout would
	// end the test long before 30 s of polling).
	corr := c.send(fetchReq(11, "t", 0, 0, 1, 30_000))
	// An ApiVersions request pipelined behind it is answered after it: responses come in request order.
	corr2 := c.send(kmsg.NewPtrApiVersionsRequest())
	time.Sleep(50 * time.Millisecond) // let the fetch park (correctness does not depend on it)
	if _, err := ts.db.Append(context.Background(), "t", mqlog.Message{Value: []byte("wake")}); err != nil {
		t.Fatal(err)
	}
	resp := c.recv(fetchReq(11, "t", 0, 0, 1, 30_000), corr).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("long poll: %+v", p)
	}
	c.recv(kmsg.NewPtrApiVersionsRequest(), corr2)
	// MinBytes 0 answers at once, even with nothing to give.
	resp = c.do(fetchReq(11, "t", 0, 1, 0, 30_000)).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("min bytes 0: %+v", p)
	}
}

func TestIdempotentProduceRetry(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	ir := c.do(init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerId: %+v", ir)
	}
	frame := func(seq int32) []byte {
		f := batch(t, 3, "i")
		segment.SetProducer(f, ir.ProducerID, ir.ProducerEpoch, seq)
		return f
	}
	produce := func(seq int32) kmsg.ProduceResponseTopicPartition {
		return c.do(produceReq(9, "t", 0, frame(seq))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	if p := produce(0); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("first: %+v", p)
	}
	if p := produce(3); p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("second: %+v", p)
	}
	if p := produce(0); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("retry of the first: %+v, want its original offset 0", p)
	}
	if p := produce(9); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("a gap: %+v", p)
	}
	if hw := mustPartition(t, ts.db, "t", 0).HighWatermark(); hw != 6 {
		t.Fatalf("high watermark %d, want 6", hw)
	}
	tx := kmsg.NewPtrInitProducerIDRequest()
	tx.TransactionalID = kmsg.StringPtr("tx")
	if r := c.do(tx).(*kmsg.InitProducerIDResponse); r.ErrorCode == 0 {
		t.Fatal("a transactional id was accepted")
	}
}

func TestAcksZeroAndBadBatches(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)
	req := produceReq(9, "t", 0, batch(t, 2, "z"))
	req.Acks = 0
	c.send(req) // no response
	md := kmsg.NewPtrMetadataRequest()
	if resp := c.do(md).(*kmsg.MetadataResponse); len(resp.Topics) != 1 {
		t.Fatalf("metadata after acks 0: %+v", resp)
	}
	if hw := mustPartition(t, ts.db, "t", 0).HighWatermark(); hw != 2 {
		t.Fatalf("acks 0 batch not appended: hw %d", hw)
	}
	// A damaged batch: CORRUPT_MESSAGE to that partition, nothing written, the connection stays.
	bad := batch(t, 2, "z")
	bad[len(bad)-1] ^= 1
	if p := c.do(produceReq(9, "t", 0, bad)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("damaged batch: %+v", p)
	}
	two := append(batch(t, 1, "a"), batch(t, 1, "b")...)
	if p := c.do(produceReq(9, "t", 0, two)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode == 0 {
		t.Fatalf("two batches in one partition's records accepted: %+v", p)
	}
	if p := c.do(produceReq(9, "nope", 0, batch(t, 1, "a"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v", p)
	}
	if hw := mustPartition(t, ts.db, "t", 0).HighWatermark(); hw != 2 {
		t.Fatalf("bad batches appended: hw %d", hw)
	}
	// acks 0 with a failure: the connection is closed (Kafka's way of telling the producer).
	req = produceReq(9, "t", 0, bad)
	req.Acks = 0
	c.send(req)
	if !c.closed() {
		t.Fatal("a failed acks-0 produce left the connection open")
	}
	ts.log.waitLog(t, "request failed")
}

func mustPartition(t *testing.T, db *mqlog.DB, topic string, p int32) *mqlog.RawPartition {
	t.Helper()
	rp, err := db.RawPartition(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func TestMetadataCreatesTopics(t *testing.T) {
	ts := startServer(t, &Options{TopicDefaults: mqlog.TopicConfig{Partitions: 3}})
	c := dial(t, ts.addr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version, md.AllowAutoTopicCreation = 9, true
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("auto")
	md.Topics = append(md.Topics, mt)
	if resp := c.do(md).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("auto-created: %+v", resp.Topics[0])
	}
	md.AllowAutoTopicCreation = false
	md.Topics[0].Topic = kmsg.StringPtr("manual")
	if resp := c.do(md).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("not allowed to create: %+v", resp.Topics[0])
	}
	md.Topics[0].Topic = kmsg.StringPtr("bad/name")
	md.AllowAutoTopicCreation = true
	if resp := c.do(md).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("bad name: %+v", resp.Topics[0])
	}
}

func TestTopicIDsTellIncarnationsApart(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	first := ts.srv.ids.of("t")
	if name, ok := ts.srv.ids.name(first); !ok || name != "t" || first == ([16]byte{}) {
		t.Fatalf("id %x names %q, %v", first, name, ok)
	}
	if err := ts.db.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	second := ts.srv.ids.of("t")
	if second == first {
		t.Fatal("a topic created again under its name has the old id")
	}
	if _, ok := ts.srv.ids.name(first); ok {
		t.Fatal("the deleted topic's id still names a topic")
	}
	c := dial(t, ts.addr)
	req := fetchReq(13, "", 0, 0, 0, 0)
	req.Topics[0].TopicID = first
	if code := c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicID.Code {
		t.Fatalf("fetch by the old id: %d, want UNKNOWN_TOPIC_ID", code)
	}
}

// TestFetchWithNothingHasEmptyRecords: a partition with nothing to give answers an empty record set, not
// a null one (librdkafka's kcat took the null one for a broken response and retried for ever).
func TestFetchWithNothingHasEmptyRecords(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)
	for _, v := range []int16{4, 11, 12} {
		resp := c.do(fetchReq(v, "t", 0, 0, 0, 0)).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.RecordBatches == nil {
			t.Fatalf("Fetch v%d at the end: records %v (nil: null on the wire), error %d", v, p.RecordBatches, p.ErrorCode)
		}
	}
}

// TestPipelinedIdempotentProduce sends an idempotent producer's batches as librdkafka does, five
// requests in flight on one connection without waiting for the answers: the batches must meet the log in
// request order (before the produce requests of a connection were sequenced, a later one could overtake
// an earlier one and be refused with OUT_OF_ORDER_SEQUENCE_NUMBER, which kcat reported as fatal).
func TestPipelinedIdempotentProduce(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.addr)
	ir := c.do(kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
	const rounds, inflight = 40, 5
	seq := int32(0)
	for round := 0; round < rounds; round++ {
		var corrs []int32
		var reqs []*kmsg.ProduceRequest
		for i := 0; i < inflight; i++ {
			f := batch(t, 1, "p")
			segment.SetProducer(f, ir.ProducerID, ir.ProducerEpoch, seq)
			seq++
			req := produceReq(9, "t", 0, f)
			reqs = append(reqs, req)
			corrs = append(corrs, c.send(req))
		}
		for i, corr := range corrs {
			p := c.recv(reqs[i], corr).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if want := int64(round*inflight + i); p.ErrorCode != 0 || p.BaseOffset != want {
				t.Fatalf("round %d request %d: error %d offset %d, want offset %d", round, i, p.ErrorCode, p.BaseOffset, want)
			}
		}
	}
}
