package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/spf13/pflag"
)

// raftOptions are serve's --raft-* flags: with --raft-id the directory is served as one node of a
// replicated cluster (package cluster).
type raftOptions struct {
	id    int32    // --raft-id; -1: not replicated
	bind  string   // --raft-bind
	peers []string // --raft-peers, each ID@RAFTHOST:PORT/KAFKAHOST:PORT
	dir   string   // --raft-dir
}

// addRaftFlags gives serve the --raft-* flags.
func addRaftFlags(flags *pflag.FlagSet, o *raftOptions) {
	flags.Int32Var(&o.id, "raft-id", -1, "serve as node `N` of a replicated cluster (its broker ID and raft server ID)")
	flags.StringVar(&o.bind, "raft-bind", "", "`host:port` of this node's raft transport (with --raft-id)")
	flags.StringSliceVar(&o.peers, "raft-peers", nil, "the initial voters, this node among them, each `ID@RAFTHOST:PORT/KAFKAHOST:PORT`, comma-separated; used on the first start only")
	flags.StringVar(&o.dir, "raft-dir", "", "`directory` of the raft log and snapshots (default: raft/ in the data directory)")
}

// parsePeer parses one --raft-peers entry: ID@RAFTHOST:PORT/KAFKAHOST:PORT.
func parsePeer(s string) (cluster.Broker, error) {
	bad := func(why string) (cluster.Broker, error) {
		return cluster.Broker{}, usagef("--raft-peers %q: %s (want ID@RAFTHOST:PORT/KAFKAHOST:PORT, e.g. 1@127.0.0.1:7001/127.0.0.1:9092)", s, why)
	}
	idText, rest, ok := strings.Cut(s, "@")
	if !ok {
		return bad("no @")
	}
	id, err := strconv.ParseInt(idText, 10, 32)
	if err != nil || id < 0 {
		return bad("the ID is not a number >= 0")
	}
	raftAddr, kafkaAddr, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no / between the raft and the Kafka address")
	}
	if _, _, err := splitAddr("raft address", raftAddr); err != nil {
		return bad("bad raft address")
	}
	host, port, err := splitAddr("Kafka address", kafkaAddr)
	if err != nil {
		return bad("bad Kafka address")
	}
	return cluster.Broker{ID: int32(id), Host: host, Port: int32(port), RaftAddr: raftAddr}, nil
}

// raftConfig checks the --raft-* flags and turns them into a cluster.Config (without the DB). kafkaAddr
// is this node's Kafka address as clients reach it (--advertise, else --listen).
func (o raftOptions) config(kafkaAddr string, logger *slog.Logger) (cluster.Config, error) {
	cfg := cluster.Config{ID: o.id, Bind: o.bind, Dir: o.dir, Logger: logger}
	if o.bind == "" {
		return cfg, usagef("--raft-id needs --raft-bind HOST:PORT")
	}
	if _, _, err := splitAddr("--raft-bind", o.bind); err != nil {
		return cfg, err
	}
	host, port, err := splitAddr("--listen/--advertise", kafkaAddr)
	if err != nil {
		return cfg, err
	}
	cfg.Kafka = cluster.Broker{ID: o.id, Host: host, Port: int32(port), RaftAddr: o.bind}
	seen := map[int32]bool{}
	for _, p := range o.peers {
		b, err := parsePeer(p)
		if err != nil {
			return cfg, err
		}
		if seen[b.ID] {
			return cfg, usagef("--raft-peers: ID %d twice", b.ID)
		}
		seen[b.ID] = true
		cfg.Peers = append(cfg.Peers, b)
	}
	if len(cfg.Peers) > 0 && !seen[o.id] {
		return cfg, usagef("--raft-peers does not name this node (--raft-id %d): a node joining later starts without --raft-peers and is added with mqlog cluster add", o.id)
	}
	return cfg, nil
}

// startRaft starts the replicated node over db when --raft-id is given (nil, nil otherwise) and says so
// on stderr. The caller closes the node before db.
func (a *app) startRaft(o raftOptions, db *mqlog.DB, kafkaAddr string, logger *slog.Logger) (*cluster.Node, error) {
	if o.id < 0 {
		if o.bind != "" || len(o.peers) > 0 || o.dir != "" {
			return nil, usagef("--raft-bind, --raft-peers and --raft-dir need --raft-id")
		}
		return nil, nil
	}
	cfg, err := o.config(kafkaAddr, logger)
	if err != nil {
		return nil, err
	}
	cfg.DB = db
	node, err := cluster.Start(cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.stderr, "mqlog: node %d of a replicated cluster, raft on %s\n", o.id, node.RaftAddr())
	return node, nil
}

// closeRaft closes the node (nil: nothing), before the DB under it.
func closeRaft(node *cluster.Node) error {
	if node == nil {
		return nil
	}
	return node.Close()
}

// kafkaAddress is the address the node's Kafka listener is known by: --advertise, else the listener's.
func kafkaAddress(advertise string, l net.Listener) string {
	if advertise != "" {
		return advertise
	}
	return l.Addr().String()
}
