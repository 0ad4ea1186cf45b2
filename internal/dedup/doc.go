// Package dedup is the room of message-id deduplication on append (NATS JetStream's Nats-Msg-Id window,
// SQS FIFO's deduplication id): an Append of a message whose id (base.HeaderMessageID) was appended to
// the same topic within the topic's duplicate window (TopicConfig.DuplicateWindowMs, 2 minutes by default)
// is answered with the original position, marked Duplicate, instead of being appended again.
//
// # Where the ids live
//
// In the log, and nowhere else durable: the id is a header of the record, written by the append's own
// segment fsync. The append path keeps its one fsync; no index entry, no second synced write. In memory a
// table per topic maps each id seen within the window to its position and the record's timestamp, and
// drops ids as they leave the window.
//
// # Across a restart
//
// The table is rebuilt from the log tail the first time an Append with an id reaches the topic after Open:
// in every partition, from the first record whose timestamp is within the window (the time lookup of
// wal.Log.OffsetForTime), to the end. A record whose Append returned is on disk, so its id is found; one
// whose Append was in flight at a crash is either on disk (found: a retry gets its position) or not (a
// retry appends it): never twice. Under SyncInterval or SyncNever a crash can lose acknowledged records,
// and their ids with them, as it loses the records.
//
// The window is measured on the record's timestamp: the time of the Append, unless the producer set
// Message.Timestamp, which then decides when the id expires, before and after a restart alike.
//
// # Concurrency
//
// The table's lock is held only to look ids up and reserve them, never across the append: an id being
// appended is reserved, and a concurrent Append of the same id waits for that outcome (the original
// position, or a failure, after which it appends the message itself). Two messages with one id in one
// call are appended once.
//
// # What it does not cover
//
// Records appended other than through DB.Append and DB.AppendPartition (the Kafka front end's produce
// path, whose idempotent producer removes a producer session's retried batches by sequence number instead)
// are not looked up nor remembered as they are appended; a rebuild after a restart sees their ids like
// any other. Ids of records deleted by retention are forgotten at a rebuild. Memory grows with the ids
// appended within the window (about 100 bytes and the id's length each).
package dedup
