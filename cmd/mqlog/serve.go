package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	listen          string
	advertise       string
	tlsCert, tlsKey string
	saslUsers       string
	saslMechanisms  []string
	maxConnections  int
	maxGroups       int
	maxRequestBytes int
	noAutoCreate    bool
	partitions      int
	verbose         bool
	metricsListen   string      // --metrics-listen (metrics_http.go)
	raft            raftOptions // --raft-* (serve_raft.go)
}

func (a *app) newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:9092]",
		Short: "Serve the data directory to Kafka clients (the Kafka wire protocol)",
		Long: `Serve the data directory to Kafka clients: a single-node Kafka broker over the
directory's topics. It takes the directory's lock, like every writer, and runs until
SIGINT or SIGTERM, then answers the requests in progress and exits 0.

It listens on loopback unless told otherwise. With --tls-cert and --tls-key every
connection is TLS; with --sasl-users every client must authenticate (SASL PLAIN or
SCRAM-SHA-256) as a user of that file: one "name:password" a line. Connections closed
on bad input, and requests refused, are logged to stderr.

With --raft-id N it serves the directory as node N of a cluster replicated by raft:
--raft-bind is its raft transport, --raft-peers names every initial voter as
ID@RAFTHOST:PORT/KAFKAHOST:PORT (read on the first start only). Followers send Kafka
clients to the leader; mqlog cluster status shows the cluster.`,
		Example: `  mqlog serve --listen 127.0.0.1:9092
  kcat -b 127.0.0.1:9092 -t orders -P <<< 'hello'
  mqlog serve --listen 0.0.0.0:9093 --advertise host.example:9093 --tls-cert c.pem --tls-key k.pem --sasl-users users.txt
  mqlog --dir node1 serve --listen 127.0.0.1:9092 --raft-id 1 --raft-bind 127.0.0.1:7001 \
    --raft-peers 1@127.0.0.1:7001/127.0.0.1:9092,2@127.0.0.1:7002/127.0.0.1:9093,3@127.0.0.1:7003/127.0.0.1:9094`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.tlsCert == "") != (o.tlsKey == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if cmd.Flags().Changed("sasl-mechanism") && o.saslUsers == "" {
				return usagef("--sasl-mechanism needs --sasl-users")
			}
			return a.serve(cmd, o)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.listen, "listen", "127.0.0.1:9092", "address to listen on, `host:port`")
	flags.StringVar(&o.advertise, "advertise", "", "`host:port` clients are told to connect to (default: the listen address)")
	flags.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM)")
	flags.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `file` (PEM)")
	flags.StringVar(&o.saslUsers, "sasl-users", "", "require SASL authentication as a user of this `file` (name:password lines)")
	flags.StringSliceVar(&o.saslMechanisms, "sasl-mechanism", nil, "SASL mechanisms offered: PLAIN, SCRAM-SHA-256 (default both)")
	flags.IntVar(&o.maxConnections, "max-connections", kafka.DefaultMaxConnections, "connections served at once")
	flags.IntVar(&o.maxGroups, "max-groups", kafka.DefaultMaxGroups, "consumer groups clients may make exist (one more is GROUP_MAX_SIZE_REACHED)")
	flags.IntVar(&o.maxRequestBytes, "max-request-bytes", kafka.DefaultMaxRequestBytes, "largest request accepted, in bytes")
	flags.BoolVar(&o.noAutoCreate, "no-auto-create", false, "do not create topics that clients ask Metadata for")
	flags.IntVar(&o.partitions, "partitions", 1, "partitions of topics created by clients without a count")
	flags.BoolVarP(&o.verbose, "verbose", "v", false, "log every connection and authentication, not only problems")
	flags.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics on http://`host:port`/metrics (mqlog stats --url reads them)")
	addRaftFlags(flags, &o.raft) // serve_raft.go
	return cmd
}

func (a *app) serve(cmd *cobra.Command, o serveOptions) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	opts := &kafka.Options{
		Logger:             slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})),
		AdvertisedAddr:     o.advertise,
		MaxConnections:     o.maxConnections,
		MaxGroups:          o.maxGroups,
		MaxRequestBytes:    o.maxRequestBytes,
		NoAutoCreateTopics: o.noAutoCreate,
	}
	opts.TopicDefaults.Partitions = o.partitions
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.saslUsers != "" {
		users, err := kafka.LoadUsers(o.saslUsers)
		if err != nil {
			return err
		}
		mechanisms := make([]string, len(o.saslMechanisms))
		for i, m := range o.saslMechanisms {
			mechanisms[i] = strings.ToUpper(m)
		}
		opts.SASL = &kafka.SASL{Users: users, Mechanisms: mechanisms}
	}
	dbOpts := a.dbOptions()
	if o.raft.id >= 0 {
		// A replicated node's DB skips its fsyncs: the raft log (fsynced) and the snapshots are the
		// durable copies, and a power cut leaves the DB a prefix, which the start cuts back to the
		// latest snapshot before raft replays the rest (cluster/doc.go, "Restart and recovery").
		dbOpts.Sync = mqlog.SyncNever
	}
	db, err := a.openWriterWith(dbOpts)
	if err != nil {
		return err
	}
	defer db.Close()
	if o.metricsListen != "" {
		stop, err := a.serveMetrics(cmd.Context(), o.metricsListen, db)
		if err != nil {
			return err
		}
		defer stop()
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	defer l.Close()
	node, err := a.startRaft(o.raft, db, kafkaAddress(o.advertise, l), opts.Logger) // serve_raft.go
	if err != nil {
		return err
	}
	defer closeRaft(node)
	if node != nil {
		opts.Replication = node // its IsLeader holds once the new leader applied its predecessor's entries
	}
	security := "plaintext"
	switch {
	case opts.TLS != nil && opts.SASL != nil:
		security = "SASL_SSL"
	case opts.TLS != nil:
		security = "SSL"
	case opts.SASL != nil:
		security = "SASL_PLAINTEXT"
	}
	opts.Listening = func(addr net.Addr) { // (once the SERVING file holds addr)
		fmt.Fprintf(a.stderr, "mqlog: serving %s to Kafka clients on %s (%s)\n", a.dir, addr, security)
	}
	srv, err := kafka.NewServer(db, opts)
	if err != nil {
		return &usageError{err: err}
	}
	if err := srv.Serve(cmd.Context(), l); err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "mqlog: stopped")
	if err := closeRaft(node); err != nil {
		return err
	}
	return db.Close()
}
