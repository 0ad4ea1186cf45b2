package integration

import (
	"log/slog"
	"net"
	"os"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kafka-go's transport keeps an idle connection pool goroutine per Transport.
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
	)
}

// broker is a Broker for a test: closed at the test's end, and Serve must have returned cleanly.
type broker struct {
	db   *mqlog.DB
	srv  *kafka.Server
	addr string
}

// startBroker serves a fresh DB on a loopback port.
func startBroker(t testing.TB, opts *kafka.Options) *broker {
	t.Helper()
	return startBrokerOn(t, nil, opts)
}

// startBrokerBehindProxy serves a fresh DB behind a FaultProxy, which it advertises: every connection of
// a client goes through the proxy.
func startBrokerBehindProxy(t testing.TB) (*broker, *FaultProxy) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := NewFaultProxy(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := startBrokerOn(t, l, &kafka.Options{AdvertisedAddr: proxy.Addr()})
	t.Cleanup(func() { proxy.Close() }) // (runs before the broker's cleanup)
	return b, proxy
}

func startBrokerOn(t testing.TB, l net.Listener, opts *kafka.Options) *broker {
	t.Helper()
	var o kafka.Options
	if opts != nil {
		o = *opts
	}
	if os.Getenv("MQLOG_KAFKA_LOG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	br, err := StartBroker(t.TempDir(), l, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := br.Close(); err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	return &broker{db: br.DB, srv: br.Server, addr: br.Addr}
}

// records returns the values of partition p of topic, in offset order.
func (b *broker) records(t testing.TB, topic string, p int32) []string {
	t.Helper()
	var out []string
	for rec, err := range b.db.Read(topic, p, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(rec.Value))
	}
	return out
}
