// Package kafka serves a DB to Kafka clients: the Kafka wire protocol in front of the engine, a
// single-node broker that is leader of every partition, or (Options.Replication) the Kafka front end of
// one node of a cluster replicated by raft (package cluster). It sits above the root package (it imports mqlog
// and never the reverse); `mqlog serve` runs it, and an application that embeds a DB exposes it with
// Serve(ctx, db, listener) or NewServer(db, opts).Serve.
//
// Every request and response is decoded and encoded by github.com/twmb/franz-go/pkg/kmsg; request
// headers are read with franz-go's kbin and error codes come from its kerr. Produce appends the batches
// as the clients encoded them (validated first, so that no client can write what a reader would take for
// corruption; base offset and partition leader epoch assigned by the log) through the same group commit
// as embedded producers; Fetch serves the stored RecordBatch bytes as they are.
//
// # API keys
//
//	key  name             versions  notes
//	0    Produce          3-13      acks 0, 1, all (1 and all: durable, as on one node they are the same);
//	                                idempotent producers (sequence checks, retries answered with the
//	                                original offset); no transactions
//	1    Fetch            4-18      long poll (MaxWaitMillis, MinBytes) woken by the high watermark; no
//	                                fetch sessions (every response has session id 0)
//	2    ListOffsets      0-11      earliest, latest, max timestamp, by timestamp
//	3    Metadata         0-13      this node leads every partition; leader epochs -1; topics created on
//	                                first use unless Options.NoAutoCreateTopics (replicated: see below)
//	8    OffsetCommit     0-10      durable (synced) commits fenced by generation; generation -1 and no
//	                                member (and v0): a simple commit, for a group without members; v10 by
//	                                topic id; metadata (up to 4 KiB) and leader epoch (v6+) stored with
//	                                the offset; timestamps and retention not stored
//	9    OffsetFetch      0-10      null topics (v2+): every partition committed in; v8+ several groups;
//	                                v10 by topic id; the committed metadata and leader epoch; offset -1
//	                                where nothing is committed
//	10   FindCoordinator  0-6       this node for groups; no transaction coordinator
//	11   JoinGroup        0-9       long poll until the rebalance completes; MEMBER_ID_REQUIRED (v4+);
//	                                static members (group.instance.id, v5+)
//	12   Heartbeat        0-4       REBALANCE_IN_PROGRESS tells a member to join again
//	13   LeaveGroup       0-5       by member id, or (v3+) several by member or instance id
//	14   SyncGroup        0-5       the leader's assignments to every member; followers wait for them
//	15   DescribeGroups   0-6       state, protocol, members with metadata and assignments; a group that
//	                                does not exist is Dead (v6+: GROUP_ID_NOT_FOUND)
//	16   ListGroups       0-5       state (v4+) and type (v5+: every group is "classic") filters
//	17   SaslHandshake    0-1       with Options.SASL (v0: the tokens follow without Kafka framing)
//	18   ApiVersions      0-4       Kafka's downgrade for newer versions
//	19   CreateTopics     0-7       replication factor 1; a few topic configs
//	20   DeleteTopics     0-6
//	21   DeleteRecords    0-2       raises the start offset (DB.DeleteRecords, durable, as retention does;
//	                                -1: the high watermark); OFFSET_OUT_OF_RANGE past the high
//	                                watermark, POLICY_VIOLATION for a compacted topic
//	22   InitProducerId   0-5       idempotent producers; a transactional id is refused
//	23   OffsetForLeaderEpoch 2-4   an epoch's end offset, read from the stored batches' epochs (one per
//	                                open of the DB; epochs.go); the current epoch is not fenced
//	32   DescribeConfigs  0-4       topics: cleanup.policy, retention.ms, retention.bytes, segment.bytes,
//	                                segment.ms, delete.retention.ms, mqlog.retention.policy; and
//	                                mqlog.topic.config (the stored config as JSON) when named
//	36   SaslAuthenticate 0-2       PLAIN, SCRAM-SHA-256
//	37   CreatePartitions 0-3       the count only grows; no replica assignments
//	42   DeleteGroups     0-3       NON_EMPTY_GROUP while it has members; GROUP_ID_NOT_FOUND
//	44   IncrementalAlterConfigs 0-1  topics, SET only, the configs of DescribeConfigs
//	47   OffsetDelete     0         GROUP_SUBSCRIBED_TO_TOPIC for a topic the group's members read;
//	                                GROUP_ID_NOT_FOUND
//	60   DescribeCluster  0-2       Metadata's brokers and controller; brokers only
//	                                (UNSUPPORTED_ENDPOINT_TYPE for controllers)
//	61   DescribeProducers 0        the idempotent producers each partition remembers; no transactions
//	55   DescribeQuorum   0-2       with Options.Replication: this node's view of the raft group
//	80   AddRaftVoter     0-1       with Options.Replication: on the leader; listeners KAFKA and RAFT
//	81   RemoveRaftVoter  0         with Options.Replication: on the leader
//
// Version ranges start where Kafka 4's do (Produce 3 and Fetch 4: earlier versions carry the v0/v1
// message formats, which mqlog does not store). A version the server has not, of a key it serves, is
// answered with that key's response carrying UNSUPPORTED_VERSION; a key kmsg knows but the server does
// not serve (AlterConfigs, the ACL and transaction keys, ...) with its response and UNSUPPORTED_VERSION
// in its top-level error; a version or key nobody can parse, and an ApiVersions
// version above 4, in the ApiVersions v0 layout with UNSUPPORTED_VERSION and the supported ranges. The
// connection stays open in every case.
//
// Topic ids (Metadata v10+, Fetch v13+, Produce v13) are derived from each topic's name and incarnation,
// so they survive restarts and a topic created again under its name gets a new one.
//
// # Replication
//
// With Options.Replication (a *cluster.Node: `mqlog serve --raft-*`) the server is one node of a
// cluster that one raft group replicates, whose leader leads every partition and coordinates every group
// (replication.go; each handler's change is a one-line hook). Metadata lists the voters as brokers
// (Replication.Brokers: ID, Kafka host and port), the raft leader as every partition's leader and as the
// controller, the raft term as the leader epoch (so that a client ignores older metadata from a node that
// has not heard of the last election), the voters as replicas and ISR, and LEADER_NOT_AVAILABLE on each
// partition while no leader is known. A voter the leader cannot reach (the Replication's Unreachable,
// when it has one: its heartbeats fail) is left out of the brokers and the ISR and is an offline replica,
// as a Kafka cluster leaves out a broker that is not registered, so that clients do not dial it. FindCoordinator names the leader, or answers
// COORDINATOR_NOT_AVAILABLE when there is none. Produce, CreateTopics (and Metadata's creation on first
// use), DeleteTopics, CreatePartitions, OffsetCommit, DeleteGroups and InitProducerId (when the
// Replication has InitProducerID) go through the Replication: raft commands, answered once committed
// and applied on the leader. A connection's pipelined produce requests are handed to the Replication
// one after the other as soon as the one before has its place in the raft log (Replication.AppendBatch's
// ordered hook), not once it is committed, so that raft commits them together and their order holds on
// every node. Group membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) stays in the
// leader's memory; after a failover members join the new leader again, and the committed offsets they
// resume from were replicated.
//
// A node that is not the leader (the Replication's IsLeader when it has one, else LeaderID == NodeID)
// answers Produce, Fetch and ListOffsets with NOT_LEADER_OR_FOLLOWER, the group keys with NOT_COORDINATOR
// (ListGroups with an empty list: it coordinates none), CreateTopics, DeleteTopics, CreatePartitions,
// IncrementalAlterConfigs and the voter changes with NOT_CONTROLLER. A produce with acks 0 is answered
// by closing the connection. A write that loses the leadership under it gets the same codes (its
// error matches cluster.ErrNotLeader). Kafka clients then refresh their metadata and follow the failover
// by themselves. InitProducerId is answered everywhere, as Kafka brokers do: by the replicated counter
// on the leader, with a random id in a range of its own (bit 62 set) on a follower. Follower reads are
// the embedded API's (package cluster), not Kafka's. A *cluster.Node counts itself as the leader
// (IsLeader) only once a barrier of its own term has been applied: until then it may lack its
// predecessor's last entries, and a fetch at the old high watermark would be answered
// OFFSET_OUT_OF_RANGE; so an application that embeds a node and serves it gets the same answers as
// `mqlog serve`.
//
// What differs from one node: the produce requests of a connection are appended one after another,
// each once the one before is committed (on one node, once it has its offsets); topic configs cannot be
// altered (IncrementalAlterConfigs is POLICY_VIOLATION: no raft command carries it yet). Topic ids are
// derived from the name and the cluster's incarnation of the topic (cluster.Node.TopicIncarnation: the raft
// index of its creation), the same on every node, and new for a topic created again, as on one node.
//
// # Consumer groups
//
// The group keys (groups.go, offsets.go) are Kafka's classic group protocol over the DB's coordinator
// (DB.JoinGroup, SyncGroup, HeartbeatGroup, LeaveGroup, CommitGroupOffsets, FetchGroupOffset,
// DescribeGroup, ListGroups, DeleteGroup): one set of groups, so a group joined here is the one that
// embedded Consumers read the positions of, that DB.GroupOffsets and `mqlog groups` show, and that
// survives a restart with its committed offsets (membership is in memory: after a restart members join
// again, and a member of the old process is UNKNOWN_MEMBER_ID). The broker coordinates; the assignors
// (range, round robin, sticky, cooperative-sticky) run in the group's leader, a client, and their
// metadata and assignments pass through untouched. The coordinator keeps generations, session timeouts
// (6 s to 30 min) and rebalance timeouts, removes members that do not join again or never sync, and
// fences commits by generation. A group is used by Kafka members or by embedded Consumers at one time:
// a JoinGroup into a group with embedded members is INCONSISTENT_GROUP_PROTOCOL, a commit from outside
// it UNKNOWN_MEMBER_ID; DescribeGroups shows such a group with protocol type "mqlog" and each member's
// partitions encoded as a consumer's assignment.
//
// JoinGroup and a follower's SyncGroup wait in their own goroutine: the connection's reader goes on
// reading, and the responses after them wait in line, as Kafka's do. They end when the rebalance does
// (bounded by the rebalance timeout), when the connection closes, or when the server stops, answered
// then with COORDINATOR_NOT_AVAILABLE (which sends a client back to FindCoordinator). Errors map to
// Kafka's codes: MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
// INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, INVALID_GROUP_ID, NON_EMPTY_GROUP,
// GROUP_ID_NOT_FOUND, COORDINATOR_NOT_AVAILABLE. What a client can make the coordinator keep is bounded:
// MaxGroups groups (10,000 by default: a JoinGroup of a new member or an OffsetCommit from outside a
// group that would create one more is GROUP_MAX_SIZE_REACHED, with a log line; DeleteGroups makes room),
// MaxGroupMembers members per group (GROUP_MAX_SIZE_REACHED; a member only given an id by
// MEMBER_ID_REQUIRED counts until it joins with it or its session runs out, but, as in Kafka's KIP-394,
// it is a pending member that no rebalance waits for) and MaxGroupMetadataBytes of protocol metadata per
// JoinGroup (INVALID_REQUEST, with a log line). A JoinGroup with a member id no group knows keeps nothing.
//
// # Connections
//
// Each connection has one reader goroutine; each request is handled in a goroutine of its own, and the
// responses go out in request order (a handler that finishes first in line writes its own response and
// those ready behind it). Produce requests of a connection are appended in request order, each starting
// once the one before has its offsets, so that a pipelining idempotent producer's sequences meet the log
// in order while the requests still share group commits. A connection keeps up to four of the handler
// goroutines it started, each waiting for its next request (their stacks stay grown), and reuses produce
// request bodies of up to 1 MiB once their responses are written (workers.go; docs/BENCH.md, "The
// server's share per request").
//
// Limits, each closing the connection with a log line (log/slog) and touching no other connection:
// MaxRequestBytes (a size field over it, negative or below a header), RequestTimeout (a request's bytes
// must all arrive within it once the first has: a client sending a byte a second is closed; and a
// response must be written within it), IdleTimeout (no request for that long), MaxConnections (one more
// is closed on accept). Memory per connection is bounded by ConnectionBytes, the bytes of the requests read
// and not yet answered plus the fetch responses being built, and by MaxInflight requests; a client that
// does not read its responses stops being read, then is closed by the write timeout. Bad input closes
// the connection too: a header that does not parse, a body that does not parse as its key and version
// say, a request before SASL authentication, a failed authentication, and a failed produce with acks 0
// (Kafka's way of telling such a producer).
//
// # The SERVING file
//
// While Serve runs on a DB whose directory lock this process holds (on the operating system's
// filesystem), the listener is recorded in the directory's SERVING file (ServingFileName; docs/FORMAT.md),
// rewritten atomically as listeners start and stop and removed with the last one, so that `mqlog
// produce`, `topic`, `groups` and `consume --group` beside the serving process reach it through the
// protocol instead of failing on its lock. FindServing reads it and tells a stale one (a killed process)
// by the lock; the next writable mqlog.Open removes a stale one as it takes the lock, and the next Serve
// writes its own. Options.NoServingFile turns it off.
//
// # Fetch without copies
//
// A fetch reads each partition's stored batches into one buffer (wal.Reader.AppendFrames: the frames after
// the first are read from their segment straight into it, in 512 KiB chunks, and their CRCs checked there)
// and the response goes out without copying them again: kmsg encodes the response with a random
// placeholder in place of each RecordBatches of 16 KiB or more, the placeholders are cut out, and the frame
// is written as net.Buffers (one writev on TCP) of kmsg's bytes, the length prefixes kbin gives each
// RecordBatches and the stored batches themselves (splice.go; a test checks the pieces against kmsg's own
// encoding for every Fetch version). sendfile was measured and left out: on loopback the kernel copies
// spliced pages anyway, and it gave no less CPU per byte than pread and write (docs/BENCH.md, "Kafka
// protocol").
//
// # Security
//
// Listeners are the caller's (`mqlog serve` listens on loopback unless told otherwise). Options.TLS makes
// every connection TLS (crypto/tls). Options.SASL requires authentication before any request but
// ApiVersions and SaslHandshake, with PLAIN or SCRAM-SHA-256 (github.com/xdg-go/scram's server), users
// and passwords from a file (LoadUsers); over plaintext, PLAIN sends passwords as they are.
//
// # Not here
//
// The consumer group protocol of KIP-848 (ConsumerGroupHeartbeat, 68), transactions (AddPartitionsToTxn
// 24, EndTxn 26, ...) and DescribeTransactions (65) with them, fetch sessions, ACLs (29-31), quotas, SCRAM
// credentials over the protocol (50, 51: users come from a file), log directories (34, 35), AlterConfigs
// (33, the old, non-incremental one), broker configs, partition reassignments and leader elections (43,
// 45, 46), and the KRaft APIs other than DescribeQuorum, AddRaftVoter and RemoveRaftVoter (Vote,
// BeginQuorumEpoch, fetching from followers, ...) are not served. On a replicated node
// (Options.Replication) DeleteRecords, OffsetDelete and OffsetForLeaderEpoch are not served either: the
// first two would change one node only, and the epochs stored in batches are each node's own, not the
// raft terms that Metadata gives as leader epochs.
// What the tools send was checked against franz-go's kadm (DeleteRecords, DeleteOffsets,
// OffsetForLeaderEpoch, DescribeProducers, DescribeLogDirs, ...), kcat (-L: Metadata; -Q: ListOffsets;
// the consumer: the group keys and Fetch, and from librdkafka 2.1 OffsetForLeaderEpoch), kafka-python's
// admin client (Metadata, CreateTopics, DeleteTopics, DescribeConfigs, the group keys, DescribeLogDirs)
// and kafkajs's admin (Metadata, ListOffsets, OffsetFetch, OffsetCommit, DeleteRecords, DescribeConfigs,
// CreatePartitions, the group keys); every one that fits a single node without transactions is served.
package kafka
