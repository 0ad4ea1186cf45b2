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
// Then, below MaxAckPending: the next message of a key whose turn came (OrderedKeys), a scheduled message
// whose time came, and the next message not yet read.
//
// # Delayed messages (schedule.go)
//
// A message appended with a delivery time (base.HeaderDeliverAt, written from Message.DeliverAt) that the
// group reads before that time is moved to a timer index in Pebble (index 's' keys: group, topic,
// incarnation, due time, partition, offset; the value is its delivery count): its offset counts as done
// in the ack state, so that neither the ack state, nor the floor, nor memory waits for it, and its timer
// is written in the same synced batch as that ack state (index.Store.SaveQueueState), so that after a
// crash at any instant the message is either done with its timer or not done and read again (and
// scheduled again) from the log. Reading schedules at most maxScheduledPerRead messages before it saves.
// Memory holds a window of the timers due first (at most timerWindowMax), loaded from the index by due
// time as it empties, so a delivery costs no scan of what is scheduled and any number of messages can
// wait. When a timer is due its message is read again by offset and becomes pending with the count its
// timer holds; its deliveries are saved in the timer, its ack deletes the timer. A message whose segment
// retention deleted is skipped (counted) when it falls due. Interest retention never deletes a segment
// that holds a scheduled offset (Floors). Fan-out consumer groups read the log and ignore delivery times.
//
// # Ordered keys (keys.go)
//
// With OrderedKeys a key has one message pending at a time: a message read while its key is busy waits
// behind it as an offset (at most MaxHeldPerPending x MaxAckPending wait; reading stops there) and is
// read again when the key's pending message is done. Since a later offset can then be delivered while an
// earlier one waits, the delivery cursor stops at the first offset not delivered, and the counts of the
// offsets delivered beyond it are saved too (index.AckState.Ahead, ack state version 3, written only
// when there are some). The waiting messages themselves are not saved: after a restart the reader meets
// them again in offset order.
//
// # Back-off
//
// Options.BackOff spaces the redeliveries of a message by its delivery count, after a Nak(0) and after
// AckWait passes; the delays live in memory like nak delays (after a restart what is not done is due at
// once).
//
// # Priorities (priority.go)
//
// A PriorityConsumer holds one Consumer per level, each a group on its own topic, and tries them in
// priority order, with a starvation guard per level; see priority.go for why a level is a topic.
package workqueue
