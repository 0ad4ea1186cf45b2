package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves db's metrics (prommetrics' collector, with the Go runtime's and the process's) in
// Prometheus's format on http://addr/metrics, until ctx is done (before the server closes db) or stop is
// called.
func (a *app) serveMetrics(ctx context.Context, addr string, db *mqlog.DB) (stop func() error, err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prommetrics.NewCollector(db), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{a}, Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	fmt.Fprintf(a.stderr, "mqlog: metrics on http://%s/metrics\n", l.Addr())
	stop = sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
		return err
	})
	go func() {
		<-ctx.Done()
		stop()
	}()
	return stop, nil
}

// slogErrorLog logs promhttp's errors (a metric that could not be collected) through --log-level's logger.
type slogErrorLog struct{ a *app }

func (l slogErrorLog) Println(v ...any) {
	if l.a.logger != nil {
		l.a.logger.Warn("mqlog: metrics", "err", fmt.Sprint(v...))
	}
}
