package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TestKafkaGo: produce with kafka-go's Writer (acks all), consume from earliest with its Reader (no group),
// ListOffsets by time with Conn.ReadOffset, and topic creation with Conn.CreateTopics. kafka-go pins old
// versions (Metadata v1, ListOffsets v1) and has no idempotent producer.
func TestKafkaGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := startBroker(t, nil)

	conn, err := kafkago.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafkago.TopicConfig{Topic: "events", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}

	transport := &kafkago.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(b.addr), Topic: "events", RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond, Transport: transport}
	const n = 200
	var middle time.Time
	for half := 0; half < 2; half++ {
		var msgs []kafkago.Message
		for i := 0; i < n/2; i++ {
			msgs = append(msgs, kafkago.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "e%03d", half*n/2+i)})
		}
		if half == 1 {
			time.Sleep(20 * time.Millisecond)
			middle = time.Now()
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("WriteMessages: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.records(t, "events", 0); len(got) != n {
		t.Fatalf("log holds %d records, want %d", len(got), n)
	}

	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.addr}, Topic: "events", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafkago.FirstOffset); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("ReadMessage %d: %v", i, err)
		}
		if want := fmt.Sprintf("e%03d", i); string(m.Value) != want || m.Offset != int64(i) {
			t.Fatalf("message %d: offset %d value %s, want %s", i, m.Offset, m.Value, want)
		}
	}

	pc, err := kafkago.DialLeader(ctx, "tcp", b.addr, "events", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	off, err := pc.ReadOffset(middle)
	if err != nil || off != n/2 {
		t.Fatalf("ReadOffset(time): %d, %v; want %d", off, err, n/2)
	}
	first, last, err := pc.ReadOffsets()
	if err != nil || first != 0 || last != n {
		t.Fatalf("ReadOffsets: %d %d %v", first, last, err)
	}
}
