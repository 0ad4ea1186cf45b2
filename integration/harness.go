package integration

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
)

// Broker is a kafka.Server over a DB, on a loopback port: what the tests, the benchmarks and the
// helper for clients that are not Go (cmd/testbroker) run against.
type Broker struct {
	DB     *mqlog.DB
	Server *kafka.Server
	Addr   string
	cancel context.CancelFunc
	done   chan error
}

// StartBroker opens (or creates) the DB in dir and serves it on l, or on a new loopback port when l is
// nil. A nil opts.Logger discards the server's log.
func StartBroker(dir string, l net.Listener, opts *kafka.Options) (*Broker, error) {
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	if l == nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			db.Close()
			return nil, err
		}
	}
	var o kafka.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := kafka.NewServer(db, &o)
	if err != nil {
		db.Close()
		l.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{DB: db, Server: srv, Addr: l.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- srv.Serve(ctx, l) }()
	return b, nil
}

// Close stops serving (every connection closed) and closes the DB.
func (b *Broker) Close() error {
	b.cancel()
	return errors.Join(<-b.done, b.DB.Close())
}
