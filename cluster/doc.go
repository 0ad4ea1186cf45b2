// Package cluster runs an mqlog DB as one node of a cluster replicated by hashicorp/raft (v1.7.2), on
// the raft store of package raftstore (issue 17, items 2 and 3's Go side).
//
// # One raft group for the whole DB
//
// A cluster is ONE raft group, not one per partition: the leader of the group leads every partition and
// is the coordinator of every consumer group. One group keeps one raft log, one fsync per commit for all
// partitions (raft batches the entries that queue while a commit is in flight), one election, and one
// place where the catalog, the offsets and the appends are ordered against each other, at the cost of
// spreading no write load across the nodes: every node holds and applies everything.
//
// # Writes, reads
//
// Every write is a raft command (command.go): an append (a Kafka RecordBatch as the producer encoded it,
// carried as it is), a topic created, deleted or grown, group offsets set or a group deleted, a voter's
// Kafka address, an idempotent producer id, a work-queue group's state in one partition. Node's methods propose it on the leader only (a follower
// returns a *NotLeaderError naming the leader, without proposing) and return once it is committed and
// applied to the leader's DB. One state machine (fsm.go) applies each committed command to the local DB
// on every node, in commit order, with nothing taken from the local clock or the local state that
// another node could see otherwise: an append's timestamps are in its batch (Node.Append encodes the
// batch on the leader, with the leader's clock), and an idempotent producer's sequence check runs on
// every node against the same history. Group fencing needs the members, which only the coordinator (the
// leader) holds: CommitGroupOffsets checks it there, then replicates the offsets as plain sets.
//
// Reads are the local DB's (Node.DB): a follower serves what it has applied, which may lag the leader
// by the entries in flight but never holds what the cluster did not commit.
//
// A node's local failure while applying a committed entry (a disk error) stops it (fail-stop, Node.Err):
// it can no longer follow the log. Closing and starting it again rebuilds its DB from the raft log.
//
// # Restart and recovery
//
// The raft log (fsynced by raftstore before a node acknowledges an entry) is the durable copy; the DB
// is derived from it and brought back at every start to a point raft replays from (restore.go): cut back
// to the latest snapshot's high watermarks (or emptied when there is no snapshot yet), after which
// raft's replay of the entries past the snapshot appends each again at the same offsets. So applies need
// not be idempotent by themselves, and a crash anywhere in an apply is repaired by the cut. Stored Kafka
// batches cannot carry a raft index in their bytes; the cut needs none.
//
// The DB's appends need no fsync of their own, so a node's DB should be opened with
// mqlog.Options.Sync = SyncNever (`mqlog serve --raft-*` does): a power cut leaves a SyncNever DB a
// prefix of what it appended, never a hole, since recovery takes a lost unsynced write (zeros where a
// frame should start) as the end of the log (TestCrashSyncNeverKeepsPrefix, root package: a crash
// image at every write operation, with none, half or all of the unsynced writes kept). A partition that
// lost a tail holds at least the snapshot's prefix, and is cut to it, or less, and is emptied and given
// the batches of the node's own snapshot file (fsynced by raft's snapshot store); the replay appends the
// rest. With no snapshot the DB is rebuilt from the raft log alone. A DB under SyncAlways pays one more
// fsync per apply, on the leader's path to the acknowledgment (docs/BENCH.md has both figures). Group
// offsets and the catalog are synced Pebble writes under every policy; work-queue saves are applied
// unsynced (the raft log holds each one, and a start replaces the queue states by the snapshot's, or
// deletes them without one, before the replay writes the later saves again).
//
// # Work queues
//
// A work-queue group's durable state in one partition changes by whole saves (floor, done ranges,
// delivery cursor and counts, bounded by MaxAckPending, and its scheduled messages' timer changes: one
// SaveQueueState in internal/workqueue). A node installs itself on its DB as the queues' replicator
// (mqlog.DB.ReplicateQueues): a save is one opQueueState command, by topic name and replicated topic
// incarnation, proposed by the leader's group; its Ack or Next returns once the command is committed and
// applied here, and every node's apply writes it to its own index (mqlog.DB.ApplyQueueState) in its own
// incarnation of the topic. Saves of one partition are group-committed as on one node (one command
// carries every ack made while the previous one was in flight). A save holds the whole state, so a
// replay applies it again harmlessly; a save of a topic deleted since is refused alike everywhere.
//
// Only the leader holds live groups: Node.Queue (and Node.PriorityQueue) refuses elsewhere
// (*NotLeaderError) and waits for a barrier, so the group opens from every committed save. A node that loses the leadership (or closes)
// fails its groups (mqlog.DB.FailQueues): their Next and their messages' Ack answer an error matching
// ErrNotLeader, and a save proposed by a group of an earlier term is refused, so a node that leads again
// never writes a stale group's state over its successor's. After a failover the new leader opens the
// group from its index: no acked message comes again, every message delivered and not acked comes again
// at once with its delivery count plus one (leases are in memory: they end with the leader), and
// scheduled messages stay scheduled. Dead letters are appended through raft (Node.Append) to a
// dead-letter topic that must exist: a missing one is an append failure (counted, retried), never a topic
// created by one node alone. DeleteGroup deletes the group's work-queue state with its offsets. The raft
// applies of a topic's deletion or growth never wait for a group's save, nor for the queues' registry
// held across one (each waits for the applies): the queues see those changes on a goroutine of their own
// (internal/workqueue/replication.go). Snapshots hold every group's state and scheduled messages; a
// restore replaces the node's.
//
// # Snapshots
//
// Raft takes snapshots when SnapshotThreshold entries accumulated (checked every SnapshotInterval).
// A snapshot (snapshot.go) streams each partition's stored batches as they are on disk, up to its high
// watermark at the snapshot's index, with the topic catalog, the group offsets, the work-queue groups'
// states and scheduled messages, the voters' addresses and the next producer id; raft's
// FileSnapshotStore keeps it under Config.Dir/snapshots. Restore installs it on a node that is behind: a partition that already holds its prefix is cut to it, another is emptied
// and filled with its batches at their offsets, the gaps of a compacted partition included
// (RawPartition.AppendStored keeps each batch's own offset; TestAddVoterBySnapshotOfCompactedTopic).
//
// # Membership
//
// The first start of the nodes named in Config.Peers bootstraps the cluster with them as voters. Node's
// AddVoter and RemoveVoter change the configuration on the leader; the Kafka addresses of the voters are
// replicated state, so Brokers answers the same on every node.
//
// A write in flight on a leader that stops returns *NotLeaderError (it may or may not have been
// committed) once the node closes or raft shuts down: raft leaves a future still in its pipeline at
// shutdown unanswered (hashicorp/raft issue 498), and waiting on it alone hung some tests until their
// timeout (TestFaultLeaderStopsUnderWrites reproduced that in 1 of 40 rounds without the fix).
//
// # Transport
//
// Raft's TCP transport (node.go, transportConfig) runs with pipelined replication off (MaxRPCsInFlight
// 1): each AppendEntries to a follower (up to MaxAppendEntries entries) waits for its answer before the
// next. hashicorp/raft v1.7.2's pipeline can deadlock when a follower refuses an append or its connection
// fails (hashicorp/raft issue 612): the replication goroutine then blocks for good, the follower gets no
// more entries from that leader, and Shutdown never returns. cmd/mqlog's TestClusterPartitionFault (a
// leader cut from its peers, then healed) left `mqlog serve` hung on SIGTERM in 7 of 15 one-round runs
// with the pipeline (all three nodes in both 8-round runs), in none of 16 (and 2) without it. The cost,
// in throughput, is in docs/BENCH.md.
//
// # Not done
//
//   - Work queues have no Kafka API (on one node neither): Node.Queue and Node.PriorityQueue are the
//     embedded API's.
//   - A follower's retention moves its own log start; the floors of the groups it holds follow only with
//     the leader's next save (QueueGroupState clamps to the local log start meanwhile).
//   - A snapshot holds every work-queue state and scheduled message in memory from its Snapshot (on the
//     state machine's goroutine, where the index is consistent with the applied entries) until it is
//     persisted: some tens of bytes per scheduled message.
//   - A save larger than MaxCommandBytes (a MaxAckPending in the hundreds of thousands, all of it
//     delivered and not acked) is refused (mqlog.ErrTooLarge), which stops the group.
//   - Each save is one raft commit: an ack on a replicated queue costs a round trip to a majority, shared
//     by the acks of one partition that group-commit together.
//   - The partitionLeaderEpoch of stored batches is each node's local write epoch (the wal's), not the
//     raft term: the batches' other bytes are the same on every node.
//   - The local DB's topic incarnations differ between nodes and change when a DB is rebuilt:
//     Node.TopicIncarnation (replicated: the raft index of the topic's creation) is the one that is the
//     same everywhere, and the one the Kafka front end derives topic ids from.
//   - The background cleaner (retention, compaction) runs on each node by its own clock: nodes may hold
//     different start offsets, never different offsets for one record.
//   - A snapshot's Persist reads the partitions while the local cleaner may delete segments: it then
//     fails and raft takes it again later.
package cluster
