// Package mqlog is a durable, append-only log storage engine for message queues.
//
// Producers append messages to topics; each topic has partitions, each partition is a log of segment
// files in Kafka's RecordBatch v2 format, fsynced before Append returns (SyncAlways, the default).
// Consumers read the messages back in order, one by one; consumer group positions live in a Pebble index
// and are committed with a synced write. After a crash at any instant, every acknowledged message is still
// there, in order, exactly once.
//
// Layout of a data directory:
//
//	<dir>/LOCK                              flock(2) of the one writer
//	<dir>/index/                            Pebble: topic configs, log states, group offsets, sparse indexes
//	<dir>/topics/<topic>-<partition>/<20-digit base offset>.log
//
// Decisions where DESIGN.md is silent, for the next engineer:
//
//   - Append of several messages writes one batch per partition, so a call's messages for one partition
//     get contiguous offsets. Keyless messages of one call all go to one partition (round robin by call),
//     keyed ones to Kafka's murmur2 partition. A missing topic is created with the defaults on Append.
//   - Append checks its context only before queueing: once queued, it waits for the outcome, so an
//     acknowledgement is never lost to a cancelled context.
//   - Commit refuses a position past the partition's readable end (ErrOutOfRange); a position may move
//     backwards only by an explicit commit or reset, never on its own.
//   - In-process members of one group split the topic's partitions (partition p to member p mod n in
//     joining order), rebalanced on join and Close; a newly assigned partition resumes at the group's
//     committed position.
//   - Records returned by Read, Follow and Consumer.Next own their bytes, so nothing a caller keeps is
//     overwritten; ReadNoCopy is the opt-in that skips the copy, its records valid until the next iteration.
//   - A read-only DB (OpenReadOnly) learns topics from the directory and has no groups; Follow polls its
//     files every FollowPollInterval, since a writer in another process sends no notification.
package mqlog
