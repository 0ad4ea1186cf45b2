package integration

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

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

// broker is a kafka.Server over a DB in a temporary directory, listening on loopback.
type broker struct {
	db   *mqlog.DB
	addr string
}

// startBroker serves a fresh DB on a loopback port.
func startBroker(t testing.TB, opts *kafka.Options) *broker {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startBrokerOn(t, l, opts)
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
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var o kafka.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		var w io.Writer = io.Discard
		if os.Getenv("MQLOG_KAFKA_LOG") != "" {
			w = os.Stderr
		}
		o.Logger = slog.New(slog.NewTextHandler(w, nil))
	}
	srv, err := kafka.NewServer(db, &o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Serve did not return")
		}
		db.Close()
	})
	return &broker{db: db, addr: l.Addr().String()}
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
