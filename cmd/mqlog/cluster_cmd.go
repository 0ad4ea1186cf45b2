package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mqlog/mqlog/kafka"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The `mqlog cluster` commands speak Kafka's own KIP-853 APIs (DescribeQuorum, AddRaftVoter,
// RemoveRaftVoter) to a node of a replicated cluster (`mqlog serve --raft-*`): status asks the node it is
// given for its view of the raft group; add and remove go to the leader that view names.

// quorumTopic is the topic DescribeQuorum asks about: the raft group's log, in KRaft's name.
const quorumTopic = "__cluster_metadata"

func (a *app) newClusterCommand() *cobra.Command {
	cmd := groupCommand("cluster", "Show and change the voters of a replicated cluster (mqlog serve --raft-*)")
	cmd.Long = `Show and change the voters of a replicated cluster: nodes started with
mqlog serve --raft-id N --raft-bind ADDR --raft-peers ... . The commands reach a node
through its Kafka listener (--broker HOST:PORT) with Kafka's KIP-853 APIs: status is
that node's view (DescribeQuorum); add and remove go to the leader (AddRaftVoter,
RemoveRaftVoter) and return once the new configuration is committed.`
	cmd.AddCommand(a.newClusterStatusCommand(), a.newClusterAddCommand(), a.newClusterRemoveCommand())
	return cmd
}

// quorumVoter is one voter in `cluster status`.
type quorumVoter struct {
	ID     int32  `json:"id"`
	Kafka  string `json:"kafka"`
	Raft   string `json:"raft"`
	Leader bool   `json:"leader"`
}

// quorumStatus is `cluster status -o json`.
type quorumStatus struct {
	Version       int           `json:"version"`
	Node          string        `json:"node"`
	LeaderID      int32         `json:"leader_id"`
	Term          int32         `json:"term"`
	HighWatermark int64         `json:"commit_index"`
	Voters        []quorumVoter `json:"voters"`
}

func (a *app) newClusterStatusCommand() *cobra.Command {
	var o brokerOptions
	cmd := &cobra.Command{
		Use:   "status --broker HOST:PORT",
		Short: "Show the leader, the term and the voters, as one node sees them",
		Example: `  mqlog cluster status --broker 127.0.0.1:9092
  mqlog cluster status --broker 127.0.0.1:9093 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := a.clusterBroker(&o)
			if err != nil {
				return err
			}
			defer b.Close()
			st, err := describeQuorum(a.ctx, b.cl.SeedBrokers()[0], b.addr)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return writeJSONDocument(a.stdout, st)
			}
			fmt.Fprintf(a.stdout, "node %s: leader %d, term %d, commit index %d\n", st.Node, st.LeaderID, st.Term, st.HighWatermark)
			t := newTable(a.stdout, "ID", "KAFKA", "RAFT", "ROLE")
			for _, v := range st.Voters {
				role := "follower"
				if v.Leader {
					role = "leader"
				}
				t.row(v.ID, v.Kafka, v.Raft, role)
			}
			return t.flush()
		},
	}
	addBrokerFlags(cmd, &o)
	return cmd
}

func (a *app) newClusterAddCommand() *cobra.Command {
	var o brokerOptions
	var id int32
	var kafkaAddr, raftAddr string
	cmd := &cobra.Command{
		Use:   "add --broker HOST:PORT --id N --kafka HOST:PORT --raft HOST:PORT",
		Short: "Add a voter (a node started with mqlog serve --raft-id N and no --raft-peers)",
		Long: `Add a voter: a node already running with mqlog serve --raft-id N --raft-bind ADDR
(and --raft-peers empty, or not naming it), which waits to be added. The leader sends it
a snapshot of the data and then the log; add returns once the configuration with the
new voter is committed.`,
		Example: `  mqlog cluster add --broker 127.0.0.1:9092 --id 4 --kafka 127.0.0.1:9095 --raft 127.0.0.1:7004`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if id < 0 {
				return usagef("--id N is required: the new voter's --raft-id")
			}
			kh, kp, err := splitAddr("--kafka", kafkaAddr)
			if err != nil {
				return err
			}
			rh, rp, err := splitAddr("--raft", raftAddr)
			if err != nil {
				return err
			}
			req := kmsg.NewPtrAddRaftVoterRequest()
			req.Version, req.VoterID, req.TimeoutMillis = 0, id, int32(brokerTimeout.Milliseconds())
			for _, l := range []struct {
				name string
				host string
				port uint16
			}{{kafka.ListenerKafka, kh, kp}, {kafka.ListenerRaft, rh, rp}} {
				kl := kmsg.NewAddRaftVoterRequestListener()
				kl.Name, kl.Host, kl.Port = l.name, l.host, l.port
				req.Listeners = append(req.Listeners, kl)
			}
			return a.onLeader(&o, req, func(resp kmsg.Response) (int16, *string) {
				r := resp.(*kmsg.AddRaftVoterResponse)
				return r.ErrorCode, r.ErrorMessage
			}, fmt.Sprintf("added voter %d (Kafka %s, raft %s)", id, kafkaAddr, raftAddr))
		},
	}
	addBrokerFlags(cmd, &o)
	cmd.Flags().Int32Var(&id, "id", -1, "the new voter's broker `ID` (its --raft-id)")
	cmd.Flags().StringVar(&kafkaAddr, "kafka", "", "the new voter's Kafka listener, `host:port` as clients reach it")
	cmd.Flags().StringVar(&raftAddr, "raft", "", "the new voter's raft transport, `host:port` (its --raft-bind)")
	return cmd
}

func (a *app) newClusterRemoveCommand() *cobra.Command {
	var o brokerOptions
	var id int32
	cmd := &cobra.Command{
		Use:     "remove --broker HOST:PORT --id N",
		Short:   "Remove a voter",
		Example: `  mqlog cluster remove --broker 127.0.0.1:9092 --id 3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if id < 0 {
				return usagef("--id N is required: the voter to remove")
			}
			req := kmsg.NewPtrRemoveRaftVoterRequest()
			req.VoterID = id
			return a.onLeader(&o, req, func(resp kmsg.Response) (int16, *string) {
				r := resp.(*kmsg.RemoveRaftVoterResponse)
				return r.ErrorCode, r.ErrorMessage
			}, fmt.Sprintf("removed voter %d", id))
		},
	}
	addBrokerFlags(cmd, &o)
	cmd.Flags().Int32Var(&id, "id", -1, "the broker `ID` of the voter to remove")
	return cmd
}

// clusterBroker connects to the node named by --broker (required: a cluster command has no directory).
func (a *app) clusterBroker(o *brokerOptions) (*brokerClient, error) {
	if o.addr == "" {
		return nil, usagef("--broker HOST:PORT (or $%s) is required: the Kafka listener of a node", envBroker)
	}
	return a.dialBroker(o, o.addr, nil)
}

// onLeader sends req to the leader that the --broker node names and reports its answer.
func (a *app) onLeader(o *brokerOptions, req kmsg.Request, result func(kmsg.Response) (int16, *string), done string) error {
	b, err := a.clusterBroker(o)
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(a.ctx, brokerTimeout)
	defer cancel()
	for {
		st, err := describeQuorum(ctx, b.cl.SeedBrokers()[0], b.addr)
		if err != nil {
			return err
		}
		var code int16
		var msg *string
		if st.LeaderID >= 0 {
			if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, b.cl); err != nil { // the client learns the brokers
				return fmt.Errorf("broker %s: %w", b.addr, err)
			}
			resp, err := b.cl.Broker(int(st.LeaderID)).Request(ctx, req)
			if err != nil {
				return fmt.Errorf("leader %d: %w", st.LeaderID, err)
			}
			if code, msg = result(resp); code == 0 {
				fmt.Fprintln(a.stderr, done)
				return nil
			}
		}
		// No leader, or one that is not ready or no longer the leader (retriable: an election): again,
		// until brokerTimeout.
		if retriable := st.LeaderID < 0 || code == kerr.NotController.Code || code == kerr.NotLeaderForPartition.Code; !retriable || ctx.Err() != nil {
			if st.LeaderID < 0 {
				return fmt.Errorf("node %s knows no leader (an election in progress, or no quorum)", b.addr)
			}
			text := kerr.ErrorForCode(code).Error()
			if msg != nil && *msg != "" {
				text += ": " + *msg
			}
			return fmt.Errorf("leader %d: %s", st.LeaderID, text)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describeQuorum asks one node (br) for its view of the raft group.
func describeQuorum(ctx context.Context, br *kgo.Broker, addr string) (quorumStatus, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = quorumTopic
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	kresp, err := br.Request(ctx, req)
	if err != nil {
		return quorumStatus{}, fmt.Errorf("broker %s: %w", addr, err)
	}
	resp := kresp.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if resp.ErrorCode == kerr.UnsupportedVersion.Code {
			return quorumStatus{}, fmt.Errorf("broker %s is not a node of a replicated cluster (mqlog serve --raft-*)", addr)
		}
		return quorumStatus{}, fmt.Errorf("broker %s: %w", addr, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return quorumStatus{}, fmt.Errorf("broker %s: DescribeQuorum answered %d topics", addr, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return quorumStatus{}, fmt.Errorf("broker %s: %w", addr, err)
	}
	st := quorumStatus{Version: 1, Node: addr, LeaderID: p.LeaderID, Term: p.LeaderEpoch, HighWatermark: p.HighWatermark}
	listeners := map[int32]map[string]string{}
	for _, n := range resp.Nodes {
		listeners[n.NodeID] = map[string]string{}
		for _, l := range n.Listeners {
			listeners[n.NodeID][l.Name] = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		}
	}
	for _, v := range p.CurrentVoters {
		st.Voters = append(st.Voters, quorumVoter{ID: v.ReplicaID, Kafka: listeners[v.ReplicaID][kafka.ListenerKafka],
			Raft: listeners[v.ReplicaID][kafka.ListenerRaft], Leader: v.ReplicaID == p.LeaderID})
	}
	return st, nil
}

// splitAddr parses a host:port flag.
func splitAddr(flag, addr string) (string, uint16, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, usagef("%s %q: want host:port", flag, addr)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return "", 0, usagef("%s %q: bad port", flag, addr)
	}
	return host, uint16(port), nil
}
