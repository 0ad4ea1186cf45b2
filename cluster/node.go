package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/raftstore"
	"github.com/mqlog/mqlog/segment"
)

// Node is one member of a replicated cluster: the local DB, the raft store it keeps the raft log in, the
// raft TCP transport, and the state machine that applies committed entries to the DB. It is safe for
// concurrent use.
type Node struct {
	cfg   Config
	db    *mqlog.DB
	store *raftstore.Store
	snaps *raft.FileSnapshotStore
	trans *raft.NetworkTransport
	raft  *raft.Raft
	fsm   *fsm
	peers map[int32]Broker // Config.Peers by ID

	observations chan raft.Observation
	observer     *raft.Observer
	heartbeats   chan raft.Observation // (reachability.go)
	hbObserver   *raft.Observer
	reach        reachability
	done         chan struct{} // closed by Close
	wg           sync.WaitGroup
	closeOnce    sync.Once
	closeErr     error

	// queueMu serializes Queue's opening of groups with their failing when the leadership is lost;
	// queueTerm is the term whose groups are open (0: none), read by every replicated save (queues.go).
	queueMu   sync.Mutex
	queueTerm atomic.Uint64

	mu struct {
		sync.Mutex
		leaderChanged chan struct{} // closed and replaced at every leader change raft reports
		readyTerm     uint64        // the term whose barrier this node applied as its leader
		barrier       bool          // a barrier is in flight
	}
}

// MaxCommandBytes bounds a raft command (an append's batch with its topic, at most the default batch
// limit, 16 MiB, and a little): a larger write is refused on the leader (mqlog.ErrTooLarge) before it is
// proposed, and the raft store takes entries of this size.
const MaxCommandBytes = segment.DefaultMaxBatchBytes + 4<<10

// logCacheEntries is how many of the latest raft entries a node keeps in memory for replication.
const logCacheEntries = 256

// Errors of Start.
var (
	// ErrConfig is a Config that Start cannot use.
	ErrConfig = errors.New("mqlog/cluster: bad config")
	// ErrNotEmpty is the DB of a node starting for the first time (no raft state in Config.Dir) that
	// already holds topics: a node's DB is built from the raft log alone.
	ErrNotEmpty = errors.New("mqlog/cluster: the DB of a new node must be empty")
)

// Start starts a node: it opens the raft store in cfg.Dir, brings the DB to the state of the latest raft
// snapshot (restore.go: every partition cut back to the snapshot, or the DB emptied when there is no
// snapshot yet) so that raft's replay of the entries after it applies each exactly once, starts the raft
// transport on cfg.Bind, and on the first start of a node listed in cfg.Peers bootstraps the cluster
// with them. It returns at once; WaitLeader waits for an election.
func Start(cfg Config) (*Node, error) {
	if cfg.DB == nil || cfg.Bind == "" || cfg.ID < 0 {
		return nil, fmt.Errorf("%w: DB, Bind and an ID >= 0 are required", ErrConfig)
	}
	quiet := cfg.Logger == nil
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, db: cfg.DB, done: make(chan struct{}), peers: map[int32]Broker{}}
	n.mu.leaderChanged = make(chan struct{})
	for _, b := range cfg.Peers {
		n.peers[b.ID] = b
	}
	hlog := hclog.NewNullLogger()
	if !quiet {
		hlog = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: slogWriter{cfg.Logger}})
	}
	ok := false
	defer func() {
		if !ok {
			close(n.done)
			n.closeParts()
			n.wg.Wait()
		}
	}()
	var err error
	if n.store, err = raftstore.Open(raftstore.Options{Dir: cfg.Dir, Logger: cfg.Logger, MaxEntryBytes: MaxCommandBytes}); err != nil {
		return nil, err
	}
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, "snapshots"), cfg.RetainSnapshots, hlog); err != nil {
		return nil, fmt.Errorf("mqlog/cluster: snapshot store: %w", err)
	}
	n.fsm = newFSM(cfg.DB, cfg.Logger, n.failed)
	if err := cfg.DB.ReplicateQueues(queueReplicator{n}); err != nil {
		return nil, err
	}
	existing, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err != nil {
		return nil, err
	}
	if err := n.prepareDB(existing); err != nil {
		return nil, err
	}
	var advertise net.Addr
	if cfg.Advertise != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", cfg.Advertise); err != nil {
			return nil, fmt.Errorf("%w: advertise %q: %v", ErrConfig, cfg.Advertise, err)
		}
	}
	// MaxRPCsInFlight 1: no pipelined replication (see transportConfig).
	if n.trans, err = raft.NewTCPTransportWithConfig(cfg.Bind, advertise, transportConfig(hlog)); err != nil {
		return nil, fmt.Errorf("mqlog/cluster: raft transport on %s: %w", cfg.Bind, err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = serverID(cfg.ID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// The cache keeps the last entries in memory: raft's replication to the followers reads each entry
	// back from the log store right after writing it (a profile gave GetLog 18% of the CPU at 128 KiB
	// entries without it).
	logs, err := raft.NewLogCache(logCacheEntries, n.store)
	if err != nil {
		return nil, err
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.store, n.snaps, n.trans); err != nil {
		return nil, fmt.Errorf("mqlog/cluster: start raft: %w", err)
	}
	n.observations = make(chan raft.Observation, 16)
	n.observer = raft.NewObserver(n.observations, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(n.observer)
	n.heartbeats = make(chan raft.Observation, 64)
	n.hbObserver = raft.NewObserver(n.heartbeats, false, heartbeatObservation)
	n.raft.RegisterObserver(n.hbObserver)
	n.wg.Add(1)
	go n.watchHeartbeats()
	n.wg.Add(1)
	go n.watchLeader()
	if _, self := n.peers[cfg.ID]; !existing && self {
		var servers []raft.Server
		for _, b := range cfg.Peers {
			servers = append(servers, raft.Server{ID: serverID(b.ID), Address: raft.ServerAddress(b.RaftAddr)})
		}
		if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("mqlog/cluster: bootstrap: %w", err)
		}
	}
	ok = true
	return n, nil
}

// Close stops the node: raft shuts down (a write in flight returns a *NotLeaderError, and may or may not
// have been committed), then the transport and the raft store close. It takes no snapshot: the next
// Start recovers from the last one and the raft log. The DB stays open (the caller closes it).
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.done)
		n.closeErr = n.closeParts()
		n.wg.Wait()
		n.stopQueues(true)
	})
	return n.closeErr
}

func (n *Node) closeParts() error {
	var errs []error
	if n.raft != nil {
		if n.observer != nil {
			n.raft.DeregisterObserver(n.observer)
		}
		if n.hbObserver != nil {
			n.raft.DeregisterObserver(n.hbObserver)
		}
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// failed is the fsm's report of a local failure: the node stops taking part (raft shuts down, from
// another goroutine: Shutdown waits for the FSM goroutine that reports it).
func (n *Node) failed(err error) {
	go func() { n.raft.Shutdown() }()
}

// Err returns the local failure that stopped the node (a disk error while it applied a committed entry),
// or nil. A stopped node is restarted by Close and Start, which rebuild its DB from the raft log.
func (n *Node) Err() error { return n.fsm.Err() }

// DB returns the node's local DB. Reads are the local DB's: a follower serves what it has applied, which
// may be behind the leader (by the entries in flight), never ahead of what the cluster committed. Write
// only through the Node.
func (n *Node) DB() *mqlog.DB { return n.db }

// NodeID returns this node's broker ID.
func (n *Node) NodeID() int32 { return n.cfg.ID }

// LeaderID returns the leader this node knows of, or -1 when it knows none.
func (n *Node) LeaderID() int32 {
	_, id := n.raft.LeaderWithID()
	return parseID(id)
}

// IsLeader reports whether this node is the leader and has applied every entry committed before its term
// (a barrier of its own term applied), so that what its DB answers is all that was acknowledged. A new
// leader may not have applied its predecessor's last entries yet: a read served then would miss records
// already acknowledged (a Kafka consumer at the old leader's high watermark would be told
// OFFSET_OUT_OF_RANGE and reset). The barrier starts when this node learns it leads, and at the first
// call in a new term; until it is applied IsLeader is false. Writes need no barrier (raft orders them
// after the predecessor's entries): propose checks raft's own state.
func (n *Node) IsLeader() bool {
	if n.raft.State() != raft.Leader {
		return false
	}
	term := n.raft.CurrentTerm()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.readyTerm == term {
		return true
	}
	if !n.mu.barrier {
		n.mu.barrier = true
		go n.applyBarrier(term)
	}
	return false
}

// applyBarrier waits for a barrier of term to be applied and records the term as ready. It ends at once
// when the node steps down or shuts down (raft fails the barrier).
func (n *Node) applyBarrier(term uint64) {
	err := n.raft.Barrier(n.cfg.ApplyTimeout).Error()
	if err == nil {
		// The predecessor's appends reached the DB through the state machine, not through its tables of
		// message ids: they are read again from the logs' tails on the next append with an id (Append).
		n.cfg.DB.ForgetDuplicates()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.barrier = false
	if err == nil {
		n.mu.readyTerm = max(n.mu.readyTerm, term)
	}
}

// WaitLeader waits until this node knows a leader and returns its ID, or ctx's error.
func (n *Node) WaitLeader(ctx context.Context) (int32, error) {
	for {
		n.mu.Lock()
		changed := n.mu.leaderChanged
		n.mu.Unlock()
		if id := n.LeaderID(); id >= 0 {
			return id, nil
		}
		select {
		case <-changed:
		case <-n.done:
			return -1, raft.ErrRaftShutdown
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(n.cfg.HeartbeatTimeout): // (an observation dropped from a full channel)
		}
	}
}

// watchLeader turns raft's leader observations into leaderChanged broadcasts, and, when this node
// becomes the leader, replicates the Kafka addresses of the voters that the state machine does not know
// yet (those of Config.Peers after the bootstrap).
func (n *Node) watchLeader() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case o := <-n.observations:
			n.mu.Lock()
			close(n.mu.leaderChanged)
			n.mu.leaderChanged = make(chan struct{})
			n.mu.Unlock()
			lo, ok := o.Data.(raft.LeaderObservation)
			if ok && parseID(lo.LeaderID) == n.cfg.ID {
				n.IsLeader() // starts this term's barrier
				n.wg.Add(1)
				go func() { defer n.wg.Done(); n.publishBrokers() }()
			}
			if ok && parseID(lo.LeaderID) != n.cfg.ID && n.queueTerm.Load() != 0 {
				n.wg.Add(1)
				go func() { defer n.wg.Done(); n.stopQueues(false) }() // (it waits for saves in flight)
			}
		}
	}
}

// publishBrokers replicates the Kafka address of every voter whose address the state machine lacks and
// that Config.Peers (or Config.Kafka, for this node) gives.
func (n *Node) publishBrokers() {
	if err := n.awaitReady(context.Background()); err != nil { // (the term's one barrier: IsLeader's)
		return // (no longer the leader: the next one does it)
	}
	for _, b := range n.Brokers() {
		if _, known := n.fsm.broker(b.ID); known || b.Host == "" {
			continue
		}
		cmd, _ := encodeJSON(opSetBroker, b)
		if _, err := n.propose(context.Background(), cmd); err != nil {
			n.cfg.Logger.Info("mqlog/cluster: replicating a voter's address", "id", b.ID, "err", err)
			return
		}
	}
}

// Brokers returns the voters of the current raft configuration, sorted by the configuration's order,
// with their Kafka addresses as replicated (or, until they are, as Config.Peers gives them).
func (n *Node) Brokers() []Broker {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []Broker
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		id := parseID(s.ID)
		b, ok := n.fsm.broker(id)
		if !ok {
			b, ok = n.peers[id]
		}
		if !ok && id == n.cfg.ID {
			b = n.cfg.Kafka
		}
		b.ID, b.RaftAddr = id, string(s.Address)
		out = append(out, b)
	}
	return out
}

// Quorum describes the raft group as this node sees it.
func (n *Node) Quorum() Quorum {
	return Quorum{NodeID: n.cfg.ID, LeaderID: n.LeaderID(), Term: n.raft.CurrentTerm(),
		CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.AppliedIndex(), Voters: n.Brokers()}
}

// AppliedIndex returns the raft index of the last command this node's state machine applied to its DB
// (raft's own AppliedIndex counts entries handed to the state machine, before it applied them). After a
// restart it is 0 until the first command is applied again.
func (n *Node) AppliedIndex() uint64 { return n.fsm.appliedIndex() }

// TopicIncarnation returns a topic's incarnation as the cluster knows it: the raft index of the command
// that created it, the same on every node and across restarts (the local DB's TopicIncarnation is the
// node's own, and changes when the DB is rebuilt). The Kafka front end derives topic ids from it.
// ErrTopicNotFound for a topic this node has not applied the creation of.
func (n *Node) TopicIncarnation(topic string) (uint64, error) {
	if id, ok := n.fsm.topicID(topic); ok {
		return id, nil
	}
	return 0, fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, topic)
}

// Raft returns the node's raft instance, for tests and tools (Stats, Snapshot, LeadershipTransfer).
func (n *Node) Raft() *raft.Raft { return n.raft }

// RaftAddr returns the address of this node's raft transport (useful when Bind's port was 0).
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.FormatInt(int64(id), 10)) }

func parseID(id raft.ServerID) int32 {
	v, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil || id == "" {
		return -1
	}
	return int32(v)
}

// slogWriter takes hclog's lines to a *slog.Logger.
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.logger.Info(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

var _ io.Writer = slogWriter{}

// transportConfig is the raft TCP transport's configuration: a pool of 3 connections per peer, 10 s I/O
// deadlines, and MaxRPCsInFlight 1, which turns raft's pipelined replication off: each AppendEntries to a
// follower waits for its answer before the next (still up to MaxAppendEntries entries each).
//
// Pipelining (hashicorp/raft's default of 2 in flight) can deadlock: when a follower answers
// Success=false or a newer term, or its connection fails, the pipeline's decoder stops reading its
// answers, and a send that the replication loop still makes blocks forever on the pipeline's unbuffered
// channel (hashicorp/raft issue 612). The replication goroutine then never ends: that follower gets no
// more entries from this leader, and raft's Shutdown, which waits for it, never returns (mqlog serve
// hung on SIGTERM after a node had been cut from its peers and healed: cmd/mqlog's
// TestClusterPartitionFault). HashiCorp's own note on MaxRPCsInFlight finds pipelining of little benefit
// outside high-latency networks.
func transportConfig(logger hclog.Logger) *raft.NetworkTransportConfig {
	return &raft.NetworkTransportConfig{MaxPool: 3, Timeout: 10 * time.Second, Logger: logger, MaxRPCsInFlight: 1}
}
