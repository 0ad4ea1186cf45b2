// Package mqlog is a durable, append-only log storage engine for message queues.
//
// Producers append messages to topics; each topic has partitions, each partition is a log of segment
// files in Kafka's RecordBatch v2 format, fsynced before Append returns (SyncAlways, the default).
// Consumers read the messages back in order: consumer groups (Kafka's fan-out model, DB.Consumer) keep a
// committed position per partition, work-queue groups (JetStream's competing consumers, DB.Queue) keep
// what is acknowledged and what was delivered; both live in a Pebble index and are written with a synced
// commit. After a crash at any instant, every acknowledged message is still there, in order, exactly
// once.
//
// Layout of a data directory:
//
//	<dir>/LOCK                              flock(2) of the one writer, with its pid and start time
//	<dir>/index/                            Pebble: topic configs, log states, group offsets, queue state, sparse indexes
//	<dir>/topics/<topic>-<partition>/<20-digit base offset>.log
//
// What to expect:
//
//   - Append of several messages writes one batch per partition, so a call's messages for one partition
//     get contiguous offsets. Keyless messages of one call all go to one partition (round robin by call),
//     keyed ones to Kafka's murmur2 partition. A missing topic is created with the defaults on Append.
//     When the messages of one call go to several partitions and some fail, the *AppendError says which
//     are durable.
//   - Append checks its context only before queueing: once queued, it waits for the outcome, so an
//     acknowledgement is never lost to a cancelled context.
//   - Commit refuses a position past the partition's readable end (ErrOutOfRange), and a commit by a member
//     that no longer owns the partition (ErrFenced): a position moves backwards only by an explicit reset,
//     never on its own or behind a member's back.
//   - Members of one group split the topic's partitions (partition p to member p mod n in joining order),
//     rebalanced on join and Close; a newly assigned partition resumes at the group's committed position.
//   - A topic deleted and created again is a new incarnation: no offset, ack or handle of the old one
//     applies to it.
//   - Records returned by Read, Follow and Consumer.Next own their bytes, so nothing a caller keeps is
//     overwritten; ReadNoCopy is the opt-in that skips the copy, its records valid until the next iteration.
//   - A read-only DB (OpenReadOnly) learns topics from the directory and has no groups; Follow polls its
//     files every FollowPollInterval, since a writer in another process sends no notification.
//
// The DB is a facade: the work is done in rooms under internal/ (catalog: topics and partitions; groups:
// consumer groups and fenced commits; workqueue: work-queue groups; cleaner: retention and compaction),
// over the storage layers wal (one partition's log), segment (one segment file) and index (Pebble).
// docs/ in the repository describes the format, the consumers, retention and the CLI.
package mqlog
