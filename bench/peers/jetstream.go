package peers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const jetStreamName = "bench"

func jetStreamSystem() System {
	return System{
		Name: NameJetStream,
		Durability: "embedded nats-server, file-backed stream, sync_always: the file store writes and fsyncs " +
			"its message block after every stored message, and the publish ack follows that fsync; the " +
			"client talks to the server over an in-process connection (no TCP)",
		Batching: "batch 1: a synchronous Publish; batch N: N PublishAsync then wait for the N acks " +
			"(the server still fsyncs each message)",
		Open: openJetStream,
	}
}

type jetStreamQueue struct {
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

func openJetStream(dir string, durable bool) (q Queue, err error) {
	srv, err := server.NewServer(&server.Options{
		JetStream: true, StoreDir: dir, SyncAlways: durable,
		DontListen: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, err
	}
	srv.Start()
	jq := &jetStreamQueue{srv: srv}
	defer func() {
		if err != nil {
			err = errors.Join(err, jq.Close())
		}
	}()
	if !srv.ReadyForConnections(10 * time.Second) {
		return nil, fmt.Errorf("mqlog/bench/peers: nats-server not ready after 10s")
	}
	if jq.nc, err = nats.Connect("", nats.InProcessServer(srv)); err != nil {
		return nil, err
	}
	if jq.js, err = jetstream.New(jq.nc); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jq.stream, err = jq.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: jetStreamName, Subjects: []string{jetStreamName}, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return jq, nil
}

func (q *jetStreamQueue) Append(payloads [][]byte) error {
	if len(payloads) == 1 {
		_, err := q.js.Publish(context.Background(), jetStreamName, payloads[0])
		return err
	}
	futures := make([]jetstream.PubAckFuture, len(payloads))
	for i, p := range payloads {
		f, err := q.js.PublishAsync(jetStreamName, p)
		if err != nil {
			return err
		}
		futures[i] = f
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		}
	}
	return nil
}

func (q *jetStreamQueue) Scan(ctx context.Context, fn func([]byte)) (int64, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	total := int64(info.State.Msgs)
	if total == 0 {
		return 0, nil
	}
	cons, err := q.js.OrderedConsumer(ctx, jetStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	var n int64
	for n < total {
		msg, err := it.Next()
		if err != nil {
			return n, err
		}
		fn(msg.Data())
		n++
	}
	return n, ctx.Err()
}

func (q *jetStreamQueue) Close() error {
	if q.nc != nil {
		q.nc.Close()
	}
	q.srv.Shutdown()
	q.srv.WaitForShutdown()
	return nil
}
