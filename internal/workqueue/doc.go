// Package workqueue is the room of work-queue groups (NATS JetStream's work queue, in process): the
// consumers of a group share a topic's messages, each message is leased to one of them until Ack, Nak,
// Term or AckWait, and what is done, what was delivered and how often survive a restart.
//
// # Durable state
//
// Per group and partition the index holds (index.AckState): the floor below which every offset is done,
// the done ranges above it, the delivery cursor below which every offset was delivered at least once,
// and the delivery counts above one of the offsets not done. An offset is done when it was acked,
// terminated or dead-lettered, when compaction removed it (a gap in the offsets), or when retention
// deleted it (the floor jumps to the new log start; see below). Every change is saved with pebble.Sync:
//
//   - before Ack or Term returns, so that a done message is never delivered again;
//   - before Next hands a message out, so that a delivery counts even when the worker then crashes: a
//     poison message that kills every worker it reaches still reaches MaxDeliver and the dead-letter
//     topic. After a restart, an offset below the cursor that is not done is delivered again with its
//     count; the cursor and the counts live in the same save as the acks.
//
// Saves of one partition are group-committed: while one is in flight, later acks and deliveries wait and
// the next save covers all of them. Saves of different partitions and groups run at once and share fsyncs
// in Pebble's commit pipeline. The state is bounded by MaxAckPending: a range and a count per message
// delivered and not done.
//
// # Against retention and compaction
//
// Retention by size or age wins over an unacked message, as in Kafka and in JetStream (limits apply to a
// work-queue stream too): when it deletes a segment a group has not finished, the group's floor jumps to
// the new log start, the offsets it skipped are counted (Metrics.SkippedByRetention) and logged, and
// leases of deleted messages end (an Ack of one still succeeds; it is below the floor). Interest retention
// never passes a group's floor, so it never skips anything. Offsets compaction removed are done: they can
// never be delivered, so they must not hold the floor back.
//
// # Order
//
// New messages go out in offset order within a partition, partitions taken in turn. Messages due again
// (nak'd, or whose AckWait passed) go first, the one due earliest first (ties: lower partition, then
// lower offset), found through a heap by due time, so a delivery costs O(log n) in the pending messages.
package workqueue
