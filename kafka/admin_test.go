package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func appendN(t *testing.T, db *mqlog.DB, topic string, partition int32, n int) {
	t.Helper()
	for range n {
		if _, err := db.AppendPartition(context.Background(), topic, partition, mqlog.Message{Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeleteRecordsThroughKadm: DeleteRecords raises the start offset durably (kadm, then ListOffsets and
// a restart see it), -1 is the high watermark, and the errors are Kafka's: OFFSET_OUT_OF_RANGE past the
// high watermark, POLICY_VIOLATION for a compacted topic, UNKNOWN_TOPIC_OR_PARTITION.
func TestDeleteRecordsThroughKadm(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, db, nil)
	createTopic(t, db, "t", 2) // 10 records a partition
	if err := db.CreateTopic("c", mqlog.TopicConfig{CleanupPolicy: mqlog.CleanupCompact}); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: "t", Partition: 0, At: 4})
	del.Add(kadm.Offset{Topic: "t", Partition: 1, At: -1})
	del.Add(kadm.Offset{Topic: "c", Partition: 0, At: 0})
	resp, err := adm.DeleteRecords(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		topic     string
		partition int32
		low       int64
		err       error
	}{{"t", 0, 4, nil}, {"t", 1, 10, nil}, {"c", 0, -1, kerr.PolicyViolation}} {
		r, ok := resp.Lookup(tt.topic, tt.partition)
		if !ok || r.LowWatermark != tt.low || !errors.Is(r.Err, tt.err) {
			t.Errorf("DeleteRecords %s/%d: %+v (found %v), want low watermark %d, error %v", tt.topic, tt.partition, r, ok, tt.low, tt.err)
		}
	}
	var past kadm.Offsets
	past.Add(kadm.Offset{Topic: "t", Partition: 0, At: 11})
	resp, err = adm.DeleteRecords(ctx, past)
	if r, _ := resp.Lookup("t", 0); err != nil || !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Errorf("DeleteRecords past the high watermark: %+v, %v; want OFFSET_OUT_OF_RANGE", r, err)
	}
	lower := kadm.Offsets{}
	lower.Add(kadm.Offset{Topic: "t", Partition: 0, At: 2})
	resp, err = adm.DeleteRecords(ctx, lower)
	if r, _ := resp.Lookup("t", 0); err != nil || r.Err != nil || r.LowWatermark != 4 {
		t.Errorf("DeleteRecords below the start: %+v, %v; want low watermark 4 unchanged", r, err)
	}
	starts, err := adm.ListStartOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if s0, _ := starts.Lookup("t", 0); s0.Offset != 4 {
		t.Errorf("start offset after DeleteRecords: %+v, want 4", s0)
	}
	// A fetch below the new start is OFFSET_OUT_OF_RANGE; a topic that does not exist (kmsg: kadm asks
	// Metadata first) is UNKNOWN_TOPIC_OR_PARTITION, a partition of it too.
	c := dial(t, ts.addr)
	dr := kmsg.NewPtrDeleteRecordsRequest()
	dr.Version = 2
	for _, name := range []string{"missing", "t"} {
		drt := kmsg.NewDeleteRecordsRequestTopic()
		drt.Topic = name
		drp := kmsg.NewDeleteRecordsRequestTopicPartition()
		drp.Partition, drp.Offset = 5, 0
		drt.Partitions = append(drt.Partitions, drp)
		dr.Topics = append(dr.Topics, drt)
	}
	if r := c.do(dr).(*kmsg.DeleteRecordsResponse); len(r.Topics) != 2 ||
		r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code || r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("DeleteRecords of a missing topic and partition: %+v", r)
	}
	if fr := c.do(fetchReq(11, "t", 0, 0, 1, 0)).(*kmsg.FetchResponse); fr.Topics[0].Partitions[0].ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch below the new start: error %d, want OFFSET_OUT_OF_RANGE", fr.Topics[0].Partitions[0].ErrorCode)
	}
	ts.stop(t)

	db, err = mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	parts, err := db.Partitions("t")
	if err != nil || parts[0].StartOffset != 4 || parts[1].StartOffset != 10 {
		t.Fatalf("after a restart: %+v, %v; want starts 4 and 10", parts, err)
	}
}

// TestOffsetDeleteThroughKadm: OffsetDelete removes a group's offsets in the partitions asked, refuses
// those of a topic a live franz-go consumer of the group is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC), and
// a group that does not exist is GROUP_ID_NOT_FOUND.
func TestOffsetDeleteThroughKadm(t *testing.T) {
	ts := startServer(t, nil)
	createTopic(t, ts.db, "a", 2)
	createTopic(t, ts.db, "b", 1)
	adm := newAdmin(t, ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "a", Partition: 0, At: 1, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "a", Partition: 1, At: 2, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "b", Partition: 0, At: 3, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, "g", offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v, %v", err, r.Error())
	}
	resp, err := adm.DeleteOffsets(ctx, "g", kadm.TopicsSet{"a": {0: {}}})
	if err != nil || resp.Error() != nil {
		t.Fatalf("DeleteOffsets: %v, %v", err, resp.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fetched.Lookup("a", 0); ok {
		t.Errorf("a/0 still committed after OffsetDelete: %+v", fetched)
	}
	if o, ok := fetched.Lookup("a", 1); !ok || o.At != 2 {
		t.Errorf("a/1 after deleting a/0: %+v, %v; want 2", o, ok)
	}
	if _, err := adm.DeleteOffsets(ctx, "nobody", kadm.TopicsSet{"a": {0: {}}}); !errors.Is(err, kerr.GroupIDNotFound) {
		t.Errorf("DeleteOffsets of a group that does not exist: %v, want GROUP_ID_NOT_FOUND", err)
	}

	// A franz-go consumer of the group subscribed to b.
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("b"),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for {
		if f := cl.PollRecords(ctx, 10); f.Err0() != nil {
			t.Fatal(f.Err0())
		} else if f.NumRecords() > 0 {
			break
		}
	}
	resp, err = adm.DeleteOffsets(ctx, "g", kadm.TopicsSet{"a": {1: {}}, "b": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp["b"][0]; !errors.Is(err, kerr.GroupSubscribedToTopic) {
		t.Errorf("DeleteOffsets of the subscribed topic: %v, want GROUP_SUBSCRIBED_TO_TOPIC", err)
	}
	if err := resp["a"][1]; err != nil {
		t.Errorf("DeleteOffsets of a topic the group does not read: %v", err)
	}
	if c, ok, err := ts.db.FetchGroupCommit("g", "b", 0); err != nil || !ok || c.Offset != 3 {
		t.Errorf("b/0 after the refused delete: %+v, %v, %v; want 3 kept", c, ok, err)
	}
}

// TestOffsetForLeaderEpoch: each open of the DB is a new leader epoch, stored in the batches written
// under it; OffsetForLeaderEpoch answers each epoch's end offset (through kadm), -1 and epochs above the
// current one are UNDEFINED, and an epoch whose records retention removed ends where the log starts.
func TestOffsetForLeaderEpoch(t *testing.T) {
	dir := t.TempDir()
	var epochs []int32
	for i := range 3 { // three opens: 5 records in each of the first two, none in the third
		db, err := mqlog.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := db.RawPartition("t", 0)
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, p.Epoch())
		if i == 2 {
			ts := startServerOn(t, db, nil)
			checkEpochs(t, ts, epochs)
			return
		}
		appendN(t, db, "t", 0, 5)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func checkEpochs(t *testing.T, ts *testServer, epochs []int32) {
	t.Helper()
	if !(epochs[0] < epochs[1] && epochs[1] < epochs[2]) {
		t.Fatalf("epochs of three opens: %v, want increasing", epochs)
	}
	adm := newAdmin(t, ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ask := func(epoch int32) kadm.OffsetForLeaderEpoch {
		t.Helper()
		var req kadm.OffsetForLeaderEpochRequest
		req.Add("t", 0, epoch)
		resp, err := adm.OffsetForLeaderEpoch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := resp["t"][0]
		if !ok || r.Err != nil {
			t.Fatalf("OffsetForLeaderEpoch(%d): %+v, %v", epoch, r, ok)
		}
		return r
	}
	type row struct {
		epoch, wantEpoch int32
		wantEnd          int64
	}
	rows := []row{
		{epochs[0], epochs[0], 5},
		{epochs[1], epochs[1], 10},
		{epochs[2], epochs[2], 10},     // current: the high watermark
		{epochs[2] - 1, epochs[1], 10}, // no later epoch has records
		{epochs[2] + 1, -1, -1},
		{-1, -1, -1},
	}
	if epochs[0]+1 < epochs[1] { // an epoch between the two, with no records: the floor's answer
		rows = append(rows, row{epochs[0] + 1, epochs[0], 5})
	}
	if epochs[0] > 0 { // an epoch before any record: the epoch asked, ending at the first later epoch
		rows = append(rows, row{epochs[0] - 1, epochs[0] - 1, 0})
	}
	for _, tt := range rows {
		if r := ask(tt.epoch); r.LeaderEpoch != tt.wantEpoch || r.EndOffset != tt.wantEnd {
			t.Errorf("OffsetForLeaderEpoch(%d) = epoch %d, end %d; want %d, %d (epochs %v)", tt.epoch, r.LeaderEpoch, r.EndOffset, tt.wantEpoch, tt.wantEnd, epochs)
		}
	}
	// Retention (here DeleteRecords) removes the first epoch's records: it ends where the log starts.
	if _, err := ts.db.DeleteRecords("t", 0, 7); err != nil {
		t.Fatal(err)
	}
	if r := ask(epochs[0]); r.LeaderEpoch != epochs[0] || r.EndOffset != 7 {
		t.Errorf("OffsetForLeaderEpoch(%d) after the start moved to 7: epoch %d, end %d; want %d, 7", epochs[0], r.LeaderEpoch, r.EndOffset, epochs[0])
	}
	// Unknown topic, and a version below the range (kmsg).
	c := dial(t, ts.addr)
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = 3
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "missing"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.LeaderEpoch = 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if r := c.do(req).(*kmsg.OffsetForLeaderEpochResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("OffsetForLeaderEpoch of a missing topic: %+v", r.Topics[0].Partitions[0])
	}
	req.Version = 1
	if r := c.do(req).(*kmsg.OffsetForLeaderEpochResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("OffsetForLeaderEpoch v1: %+v, want UNSUPPORTED_VERSION", r.Topics[0].Partitions[0])
	}
}

// TestFranzGoConsumerAcrossEpochs: a franz-go group consumer, which validates its committed position with
// OffsetForLeaderEpoch now that the server offers it (KIP-320), resumes exactly at its commit after
// restarts that raised the epoch, with records of several epochs on both sides of it: it neither resets
// nor stalls.
func TestFranzGoConsumerAcrossEpochs(t *testing.T) {
	dir := t.TempDir()
	open := func() *mqlog.DB {
		db, err := mqlog.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, "t", 0, 5)
	db.Close()
	db = open()
	appendN(t, db, "t", 0, 5) // offsets 5-9 in the second epoch
	ts := startServerOn(t, db, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	consume := func(addr string, n int) []*kgo.Record {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var got []*kgo.Record
		for len(got) < n {
			f := cl.PollRecords(ctx, n-len(got))
			if err := f.Err0(); err != nil {
				t.Fatalf("poll after %d records: %v", len(got), err)
			}
			got = append(got, f.Records()...)
		}
		if err := cl.CommitRecords(ctx, got[len(got)-1]); err != nil {
			t.Fatal(err)
		}
		cl.LeaveGroup()
		return got
	}
	// The first session starts from an explicit position (reset at the end would skip everything).
	adm := newAdmin(t, ts.addr)
	var start kadm.Offsets
	start.Add(kadm.Offset{Topic: "t", Partition: 0, At: 3, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, "g", start); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v, %v", err, r.Error())
	}
	first := consume(ts.addr, 4) // 3-6: across the two epochs
	if first[0].Offset != 3 || first[3].Offset != 6 {
		t.Fatalf("first session read %d-%d, want 3-6", first[0].Offset, first[3].Offset)
	}
	if c, _, _ := db.FetchGroupCommit("g", "t", 0); c.Offset != 7 || c.LeaderEpoch != first[3].LeaderEpoch || c.LeaderEpoch < 0 {
		t.Fatalf("committed %+v, want offset 7 with the epoch of record 6 (%d)", c, first[3].LeaderEpoch)
	}
	ts.stop(t)

	db = open()
	appendN(t, db, "t", 0, 3) // 10-12 in the third epoch
	ts = startServerOn(t, db, nil)
	second := consume(ts.addr, 6) // 7-12
	for i, r := range second {
		if r.Offset != int64(7+i) {
			t.Fatalf("second session record %d at offset %d, want %d (a reset or a skip)", i, r.Offset, 7+i)
		}
	}
}

// TestDescribeCluster: DescribeCluster names this node as the cluster's one broker and its controller;
// controllers (endpoint type 2) are UNSUPPORTED_ENDPOINT_TYPE.
func TestDescribeCluster(t *testing.T) {
	ts := startServer(t, &Options{ClusterID: "c1", NodeID: 3})
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.ClusterID != "c1" || resp.ControllerID != 3 || len(resp.Brokers) != 1 ||
		resp.Brokers[0].NodeID != 3 || resp.Brokers[0].Host != "127.0.0.1" {
		t.Fatalf("DescribeCluster: %+v", resp)
	}
	c := dial(t, ts.addr)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version, req.EndpointType = v, 2
		r := c.do(req).(*kmsg.DescribeClusterResponse)
		if want := int16(0); v >= 1 {
			want = kerr.UnsupportedEndpointType.Code
			if r.ErrorCode != want {
				t.Errorf("DescribeCluster v%d of controllers: %d, want UNSUPPORTED_ENDPOINT_TYPE", v, r.ErrorCode)
			}
		} else if r.ErrorCode != want || len(r.Brokers) != 1 {
			t.Errorf("DescribeCluster v0: %+v", r)
		}
	}
}

// TestDescribeProducersThroughKadm: after a franz-go idempotent producer (kgo's default) writes to a
// partition, DescribeProducers lists it with its epoch and last sequence; a partition without producers
// lists none; a missing topic is UNKNOWN_TOPIC_OR_PARTITION (kmsg).
func TestDescribeProducersThroughKadm(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.db.CreateTopic("t", mqlog.TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	described, err := newAdmin(t, ts.addr).DescribeProducers(ctx, kadm.TopicsSet{"t": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := described["t"].Partitions[0], described["t"].Partitions[1]
	if p0.Err != nil || len(p0.ActiveProducers) != 1 || p1.Err != nil || len(p1.ActiveProducers) != 0 {
		t.Fatalf("DescribeProducers: %+v and %+v", p0, p1)
	}
	if ap := p0.ActiveProducers[0]; ap.ProducerID != id || ap.ProducerEpoch != epoch || ap.LastSequence != 2 || ap.LastTimestamp <= 0 || ap.CurrentTxnStartOffset != -1 {
		t.Fatalf("producer %+v, want id %d epoch %d last sequence 2", ap, id, epoch)
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "missing", []int32{0}
	req.Topics = append(req.Topics, rt)
	if r := dial(t, ts.addr).do(req).(*kmsg.DescribeProducersResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DescribeProducers of a missing topic: %+v", r.Topics[0].Partitions[0])
	}
}
