package cluster

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/mqlog/mqlog"
)

// Config configures a node for Start.
type Config struct {
	// ID is this node's broker ID, also its raft server ID (in decimal). Required, >= 0.
	ID int32
	// DB is the node's local engine, opened by the caller (mqlog.Open) and closed by the caller after
	// Node.Close. Every write to it must come through the Node: the replicated state machine cuts and
	// rebuilds it from the raft log at start (docs/DESIGN.md "Replication"). Open it under
	// mqlog.SyncNever: the raft log is the durable copy, and SyncAlways only adds an fsync per apply.
	DB *mqlog.DB
	// Dir is the directory of the raft store (package raftstore: <Dir>/LOCK, <Dir>/index, <Dir>/log) and
	// of raft's snapshots (<Dir>/snapshots). Default <DB.Dir()>/raft, beside the DB's index/ and topics/.
	Dir string
	// Bind is the host:port of the raft TCP transport. Required. Advertise is the address the other
	// nodes reach it at (default Bind, or the bound address when Bind's port is 0).
	Bind      string
	Advertise string
	// Peers are the initial voters, this node among them, with their Kafka and raft addresses. On the
	// first start (no raft state in Dir) a node that is in Peers bootstraps the cluster with them; a node
	// that is not waits until the leader adds it (Node.AddVoter). Ignored once raft state exists.
	Peers []Broker
	// Kafka is this node's own Kafka listener address, advertised in Brokers (when it is not in Peers,
	// as for a node added later). Optional.
	Kafka Broker

	// Raft timeouts; zero fields take the loopback defaults below (hashicorp/raft's defaults are for a
	// WAN: 1 s heartbeats).
	HeartbeatTimeout   time.Duration // default 300 ms
	ElectionTimeout    time.Duration // default 300 ms
	LeaderLeaseTimeout time.Duration // default 150 ms
	CommitTimeout      time.Duration // default 5 ms
	// ApplyTimeout bounds how long a write waits to be enqueued for raft (default 10 s); the write's ctx
	// bounds the whole call.
	ApplyTimeout time.Duration

	// SnapshotThreshold is how many raft entries since the last snapshot make raft take one (default
	// 8192), checked every SnapshotInterval (default 2 minutes); TrailingLogs is how many entries it
	// keeps after a snapshot for followers that are slightly behind (default 10240). A follower further
	// behind is sent the snapshot. RetainSnapshots is how many snapshot files are kept (default 2).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	RetainSnapshots   int

	// Logger receives raft's log (at Info and above) and the node's notes. Nil is silent.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultHeartbeatTimeout   = 300 * time.Millisecond
	DefaultElectionTimeout    = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout = 150 * time.Millisecond
	DefaultCommitTimeout      = 5 * time.Millisecond
	DefaultApplyTimeout       = 10 * time.Second
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultTrailingLogs       = 10240
	DefaultRetainSnapshots    = 2
)

func (c Config) withDefaults() Config {
	if c.Dir == "" && c.DB != nil {
		c.Dir = filepath.Join(c.DB.Dir(), "raft")
	}
	setDefault(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&c.ElectionTimeout, DefaultElectionTimeout)
	setDefault(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDefault(&c.CommitTimeout, DefaultCommitTimeout)
	setDefault(&c.ApplyTimeout, DefaultApplyTimeout)
	setDefault(&c.SnapshotThreshold, DefaultSnapshotThreshold)
	setDefault(&c.SnapshotInterval, DefaultSnapshotInterval)
	setDefault(&c.TrailingLogs, DefaultTrailingLogs)
	setDefault(&c.RetainSnapshots, DefaultRetainSnapshots)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
