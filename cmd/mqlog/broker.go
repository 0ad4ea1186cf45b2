package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Environment variables of the broker flags.
const (
	envBroker         = "MQLOG_BROKER"          // the default of --broker
	envBrokerPassword = "MQLOG_BROKER_PASSWORD" // the SASL password of --broker-user (never a flag: ps shows flags)
)

// brokerTimeout bounds how long a command waits for a broker: to answer at all, and to acknowledge a
// produced group of lines (kgo retries within it).
const brokerTimeout = 30 * time.Second

// brokerOptions are the flags of the commands that can reach a running server through the Kafka protocol
// (produce, consume --group, groups, topic): the address and how to authenticate.
type brokerOptions struct {
	addr      string // --broker, else $MQLOG_BROKER; empty: the SERVING file, when the lock is held
	tls       bool   // --broker-tls
	caFile    string // --broker-ca (implies --broker-tls)
	user      string // --broker-user (SASL; the password from $MQLOG_BROKER_PASSWORD)
	mechanism string // --broker-sasl-mechanism
}

// addBrokerFlags gives cmd the broker flags.
func addBrokerFlags(cmd *cobra.Command, o *brokerOptions) {
	flags := cmd.Flags()
	flags.StringVar(&o.addr, "broker", os.Getenv(envBroker), "reach a running server at `host:port` through the Kafka protocol instead of opening --dir ($"+envBroker+")")
	flags.BoolVar(&o.tls, "broker-tls", false, "connect to the broker with TLS (verified against the system's roots, or --broker-ca)")
	flags.StringVar(&o.caFile, "broker-ca", "", "verify the broker's TLS certificate against this PEM `file` (implies --broker-tls)")
	flags.StringVar(&o.user, "broker-user", "", "authenticate to the broker with SASL as this `user`; the password is $"+envBrokerPassword)
	flags.StringVar(&o.mechanism, "broker-sasl-mechanism", kafka.MechanismScramSHA256, "SASL mechanism with --broker-user: PLAIN or SCRAM-SHA-256")
}

// brokerClient is a connection to a Kafka broker: a serving mqlog, reached with franz-go.
type brokerClient struct {
	addr     string
	cl       *kgo.Client
	adm      *kadm.Client
	versions *kadm.BrokerApiVersions // what the broker serves, once asked (supports)
}

// Kafka API keys the CLI checks a broker for before it uses them.
const listGroupsKey int16 = 16

// supports reports whether the broker serves the API key (a serving mqlog without the group
// coordinator has no group keys).
func (b *brokerClient) supports(ctx context.Context, key int16) (bool, error) {
	if b.versions == nil {
		// (every broker the metadata lists is asked; the first that answers, in node order, is used: a
		// cluster's nodes run one build, and one that is down must not fail the command)
		all, err := b.adm.ApiVersions(ctx)
		if err != nil {
			return false, fmt.Errorf("broker %s: %w", b.addr, err)
		}
		var first error
		for _, v := range all.Sorted() {
			if v.Err != nil {
				first = cmp.Or(first, v.Err)
				continue
			}
			b.versions = &v
			break
		}
		if b.versions == nil && first != nil {
			return false, fmt.Errorf("broker %s: %w", b.addr, first)
		}
		if b.versions == nil {
			return false, fmt.Errorf("broker %s: no ApiVersions answer", b.addr)
		}
	}
	_, ok := b.versions.KeyMaxVersion(key)
	return ok, nil
}

// brokerRetryWait is the pause between two tries of a request that could not reach a broker.
const brokerRetryWait = 200 * time.Millisecond

// retried calls fn until it returns an error other than unreachableErr's, or brokerTimeout after the first
// try, refreshing the client's metadata between tries. franz-go sends an admin request such as
// FindCoordinator to any broker its metadata lists and fails the request at once when that broker
// refuses the connection; a Kafka cluster lists a broker that died until its session times out, and a
// replicated mqlog's follower lists every voter. So after a node is killed, a command through a node
// that is still up would fail on a broker it never named. A dial error means the request was not sent:
// retrying it is safe for any request, CreateTopic and DeleteGroup included.
func retried[T any](ctx context.Context, b *brokerClient, fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(brokerTimeout)
	for {
		v, err := fn()
		if !unreachableErr(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		b.cl.ForceMetadataRefresh()
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(brokerRetryWait):
		}
	}
}

// unreachableErr reports whether err says that a request did not reach a broker that can serve it: a
// refused or failed dial (never a context's end), or, for a request sent to several brokers, only such
// failures; or an error whose code means the broker asked is not (or not yet) the one to ask
// (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE), which
// franz-go returns once its own retries end.
func unreachableErr(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if se, ok := errors.AsType[*kadm.ShardErrors](err); ok {
		for _, e := range se.Errs {
			if !unreachableErr(e.Err) {
				return false
			}
		}
		return len(se.Errs) > 0
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		return true
	}
	return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) ||
		errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable)
}

// Close closes the client.
func (b *brokerClient) Close() error {
	b.cl.Close()
	return nil
}

// openWriterOrBroker is how a command that writes reaches the data: with --broker (or $MQLOG_BROKER)
// through that broker; otherwise by opening the directory for writing, and, when its lock is held by a
// process that serves it (its SERVING file), through that process's listener. Exactly one of the results
// is not nil when err is nil. A lock held by a process that does not serve stays the lock's error.
func (a *app) openWriterOrBroker(o *brokerOptions, opts *mqlog.Options, extra ...kgo.Opt) (*mqlog.DB, *brokerClient, error) {
	if o.addr != "" {
		b, err := a.dialBroker(o, o.addr, nil, extra...)
		return nil, b, err
	}
	db, err := a.openWriterWith(opts)
	if err == nil {
		return db, nil, nil
	}
	b, berr := a.brokerOfLock(o, err, extra...)
	if berr != nil {
		return nil, nil, berr
	}
	return nil, b, nil
}

// brokerOfLock returns a client of the process that serves the data directory when openErr is the lock's
// error and that process recorded its listeners; otherwise openErr.
func (a *app) brokerOfLock(o *brokerOptions, openErr error, extra ...kgo.Opt) (*brokerClient, error) {
	if !errors.Is(openErr, mqlog.ErrLocked) {
		return nil, openErr
	}
	info, err := kafka.FindServing(a.dir)
	if err != nil {
		if !errors.Is(err, kafka.ErrNotServing) {
			fmt.Fprintf(a.stderr, "warning: %v\n", err)
		}
		return nil, openErr
	}
	l := info.Listeners[0]
	return a.dialBroker(o, l.DialAddress(), &l, extra...)
}

// dialBroker connects to the broker at addr and checks that it answers. l is the listener the SERVING
// file describes (nil for --broker): what it requires (TLS, SASL) and the flags do not give is a clear
// error before any connection.
func (a *app) dialBroker(o *brokerOptions, addr string, l *kafka.ServingListener, extra ...kgo.Opt) (*brokerClient, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RetryTimeout(brokerTimeout),
		kgo.RecordDeliveryTimeout(brokerTimeout),
		// A command reads metadata right after changing it (a topic created, then produced to): kgo's
		// cache of metadata answers (5 s by default) would hide the change. Changes also purge it.
		kgo.MetadataMinAge(10 * time.Millisecond),
	}
	useTLS := o.tls || o.caFile != ""
	if l != nil {
		switch {
		case l.TLS && !useTLS:
			useTLS = true // the file says so; verified against the system's roots
		case len(l.SASL) > 0 && o.user == "":
			return nil, fmt.Errorf("the server of %s (pid listed in %s) requires SASL authentication (%s): pass --broker-user and $%s",
				a.dir, kafka.ServingFileName, strings.Join(l.SASL, ", "), envBrokerPassword)
		}
	}
	var tlsConfig *tls.Config
	if useTLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caFile != "" {
			pem, err := os.ReadFile(o.caFile)
			if err != nil {
				return nil, usagef("--broker-ca: %v", err)
			}
			tlsConfig.RootCAs = x509.NewCertPool()
			if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
				return nil, usagef("--broker-ca %s: no PEM certificate in it", o.caFile)
			}
		}
	}
	opts = append(opts, kgo.Dialer(brokerDialer(addr, l, tlsConfig)))
	if o.user != "" {
		m, err := saslMechanism(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, usagef("--broker %s: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(a.ctx, brokerTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		if a.ctx.Err() != nil {
			return nil, &interruptedError{dir: addr}
		}
		return nil, fmt.Errorf("broker %s: %w", addr, err)
	}
	return &brokerClient{addr: addr, cl: cl, adm: kadm.NewClient(cl)}, nil
}

// brokerDialer dials the brokers, with TLS when tlsConfig is not nil. Reached through the SERVING file
// (l not nil), every connection goes to the listener's own address, whatever Metadata advertises: the
// server is one node, and its advertised name (for clients elsewhere) may not resolve here; TLS then
// verifies the certificate against the advertised host. Through --broker, the brokers are dialled as
// Metadata names them, as any Kafka client does.
func brokerDialer(addr string, l *kafka.ServingListener, tlsConfig *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		serverName := host
		if l != nil {
			host, serverName = addr, l.Advertised
		}
		if tlsConfig == nil {
			return d.DialContext(ctx, network, host)
		}
		cfg := tlsConfig.Clone()
		if cfg.ServerName == "" {
			if name, _, err := net.SplitHostPort(serverName); err == nil {
				cfg.ServerName = name
			}
		}
		return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, network, host)
	}
}

// saslMechanism is the SASL mechanism of the flags, with the password from the environment.
func saslMechanism(o *brokerOptions) (sasl.Mechanism, error) {
	password, ok := os.LookupEnv(envBrokerPassword)
	if !ok {
		return nil, usagef("--broker-user needs the password in $%s", envBrokerPassword)
	}
	switch strings.ToUpper(o.mechanism) {
	case kafka.MechanismPlain:
		return plain.Auth{User: o.user, Pass: password}.AsMechanism(), nil
	case kafka.MechanismScramSHA256:
		return scram.Auth{User: o.user, Pass: password}.AsSha256Mechanism(), nil
	}
	return nil, usagef("invalid --broker-sasl-mechanism %q: want %s or %s", o.mechanism, kafka.MechanismPlain, kafka.MechanismScramSHA256)
}

// brokerError turns a Kafka error code of a broker's answer into the error the command gives when it
// works on the directory itself: the engine's sentinel (for errors.Is) with the broker's message, which
// a serving mqlog fills with the engine's own error text.
func brokerError(err error, message string) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		sentinel = mqlog.ErrTopicNotFound
	case errors.Is(err, kerr.TopicAlreadyExists):
		sentinel = mqlog.ErrTopicExists
	case errors.Is(err, kerr.InvalidTopicException):
		sentinel = mqlog.ErrInvalidTopic
	}
	if message == "" || message == "null" {
		if sentinel != nil {
			return fmt.Errorf("%w (broker: %v)", sentinel, err)
		}
		return err
	}
	if sentinel == nil {
		sentinel = err
	}
	return &brokerErr{msg: message, err: sentinel}
}

// brokerErr is an error a broker described: its message, wrapping what it means.
type brokerErr struct {
	msg string
	err error
}

func (e *brokerErr) Error() string { return e.msg }
func (e *brokerErr) Unwrap() error { return e.err }

// brokerTopic is what the broker's metadata says of one topic.
type brokerTopic struct {
	partitions int
	exists     bool
}

// topic returns the partition count of topic, and whether it exists.
func (b *brokerClient) topic(ctx context.Context, name string) (brokerTopic, error) {
	topics, err := retried(ctx, b, func() (kadm.TopicDetails, error) { return b.adm.ListTopics(ctx, name) })
	if err != nil {
		return brokerTopic{}, fmt.Errorf("broker %s: %w", b.addr, err)
	}
	d, ok := topics[name]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return brokerTopic{}, nil
	}
	if d.Err != nil {
		return brokerTopic{}, fmt.Errorf("broker %s: topic %s: %w", b.addr, name, d.Err)
	}
	return brokerTopic{partitions: len(d.Partitions), exists: true}, nil
}

// topicNames lists the broker's topics, sorted.
func (b *brokerClient) topicNames(ctx context.Context) ([]string, error) {
	topics, err := retried(ctx, b, func() (kadm.TopicDetails, error) { return b.adm.ListTopics(ctx) })
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", b.addr, err)
	}
	names := topics.Names()
	slices.Sort(names)
	return names, nil
}
