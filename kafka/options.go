package kafka

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/mqlog/mqlog"
)

// Defaults of Options' zero fields.
const (
	// DefaultMaxRequestBytes bounds one request frame (Kafka's socket.request.max.bytes is 100 MiB; a
	// produced batch is bounded by the DB's MaxBatchBytes, 16 MiB by default).
	DefaultMaxRequestBytes = 32 << 20
	// DefaultConnectionBytes bounds the bytes one connection holds at once: the requests it has read and
	// not yet answered, and the fetched batches of its pending responses.
	DefaultConnectionBytes = 64 << 20
	// DefaultMaxInflight bounds the requests one connection may have read and not yet answered.
	DefaultMaxInflight = 32
	// DefaultMaxConnections bounds the open connections; one over it is closed at once, with a log line.
	DefaultMaxConnections = 1024
	// DefaultIdleTimeout closes a connection that sends nothing for that long (Kafka's
	// connections.max.idle.ms).
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultRequestTimeout is how long a request's bytes may take to arrive once its first byte has, and
	// how long a response may take to be written: a client that sends or reads one byte a second is
	// closed when it runs out.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxFetchBytes bounds the batches of one fetch response, whatever the client asks.
	DefaultMaxFetchBytes = 16 << 20
	// DefaultMaxFetchWait bounds how long a fetch waits for MinBytes, whatever the client asks.
	DefaultMaxFetchWait = 30 * time.Second
	// DefaultMaxGroupMembers bounds the members of one consumer group (Kafka's group.max.size): a new
	// member over it gets GROUP_MAX_SIZE_REACHED.
	DefaultMaxGroupMembers = 1024
	// DefaultMaxGroupMetadataBytes bounds the protocol metadata of one JoinGroup, which the coordinator
	// keeps for as long as the member stays (a consumer's subscription is a few hundred bytes).
	DefaultMaxGroupMetadataBytes = 1 << 20
	// DefaultMaxGroups bounds the consumer groups clients can make exist (Kafka has no such bound; see
	// Options.MaxGroups).
	DefaultMaxGroups = 10_000
)

// Options configure a Server. The zero value (or nil) gives the defaults above: no TLS, no SASL, topics
// created on first use as Kafka's auto.create.topics.enable does.
type Options struct {
	// Logger receives a line for every connection closed on bad input or a limit, and every request
	// refused as unsupported. Nil means slog.Default().
	Logger *slog.Logger
	// AdvertisedAddr is the host:port that Metadata gives clients for this node; empty means the
	// listener's address (which is what a client reached on loopback).
	AdvertisedAddr string
	// NodeID is this node's Kafka broker id (default 0).
	NodeID int32
	// ClusterID is the cluster id Metadata reports (default "mqlog").
	ClusterID string

	MaxRequestBytes int
	ConnectionBytes int64
	MaxInflight     int
	MaxConnections  int
	IdleTimeout     time.Duration
	RequestTimeout  time.Duration
	MaxFetchBytes   int
	MaxFetchWait    time.Duration
	// MaxGroupMembers and MaxGroupMetadataBytes bound what one client can make the group coordinator
	// keep: members joining a group (each, even one only given an id, stays until its session times
	// out) and the metadata of each. Concurrent joins may overshoot MaxGroupMembers by the joins in
	// progress at once.
	MaxGroupMembers       int
	MaxGroupMetadataBytes int
	// MaxGroups bounds the groups clients can make exist: a JoinGroup of a new member, or an OffsetCommit
	// from outside any group, naming a group that does not exist (no members, no pending members, no
	// committed offsets) while MaxGroups groups do is refused with GROUP_MAX_SIZE_REACHED, the
	// coordinator's "no room" (Kafka bounds members per group, not groups; no code of its says this
	// better, and clients treat this one as not retriable), and a log line. DeleteGroups makes room.
	// Groups the embedded API makes count but are never refused. Concurrent creations may overshoot
	// by the creations in progress at once.
	MaxGroups int

	// TLS, when not nil, makes every connection TLS (crypto/tls), with this config.
	TLS *tls.Config
	// SASL, when not nil, requires every connection to authenticate with one of its mechanisms before
	// any request but ApiVersions and SaslHandshake.
	SASL *SASL

	// NoAutoCreateTopics turns off creating a topic that Metadata names and that does not exist (a
	// client's allow_auto_topic_creation is honoured either way).
	NoAutoCreateTopics bool
	// NoServingFile turns off recording the listeners' addresses in the data directory's SERVING file
	// (ServingFileName), through which `mqlog produce`, `topic`, `groups` and `consume --group` reach a
	// serving process instead of failing on its lock.
	NoServingFile bool
	// Listening, when not nil, is called by Serve once with the listener's address when the server is
	// ready for it: its address recorded in the SERVING file (unless NoServingFile), before the first
	// Accept. A caller that announces the server (`mqlog serve` prints a line) does it from here, so that
	// whoever waits for the announcement finds the SERVING file.
	Listening func(addr net.Addr)
	// TopicDefaults is the config of topics created by Metadata or by CreateTopics with -1 partitions.
	TopicDefaults mqlog.TopicConfig
	// Replication, when not nil, makes the server the Kafka front end of one node of a replicated cluster
	// (a *cluster.Node): writes go through it, and a follower sends clients to the leader
	// (replication.go). NodeID is then the Replication's.
	Replication Replication
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Replication != nil {
		c.NodeID = c.Replication.NodeID()
	}
	if c.ClusterID == "" {
		c.ClusterID = "mqlog"
	}
	setDefault(&c.MaxRequestBytes, DefaultMaxRequestBytes)
	setDefault(&c.ConnectionBytes, DefaultConnectionBytes)
	setDefault(&c.MaxInflight, DefaultMaxInflight)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.MaxFetchBytes, DefaultMaxFetchBytes)
	setDefault(&c.MaxFetchWait, DefaultMaxFetchWait)
	setDefault(&c.MaxGroupMembers, DefaultMaxGroupMembers)
	setDefault(&c.MaxGroupMetadataBytes, DefaultMaxGroupMetadataBytes)
	setDefault(&c.MaxGroups, DefaultMaxGroups)
	// One request and the fetch response it may ask for must fit in a connection's budget.
	c.ConnectionBytes = max(c.ConnectionBytes, int64(c.MaxRequestBytes)+int64(c.MaxFetchBytes))
	return c
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
