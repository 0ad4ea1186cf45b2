// Package index is mqlog's Pebble store for one data directory (<data>/index): consumer group offsets,
// topic metadata, the durable state of each partition's log, and the sparse offset indexes of the logs.
//
// It knows nothing of segment bytes and imports nothing of mqlog. Every file goes through the vfs.FS
// given in Options, and Pebble's log messages go to the *slog.Logger given (nowhere when it is nil).
//
// # Durability
//
// Group offsets, topic configurations and log states are primary data: every write of them is one
// Pebble batch committed with pebble.Sync, and concurrent commits share fsyncs in Pebble's commit
// pipeline. Sparse entries are derived from the segments: AddEntries and DeleteEntriesBefore write
// without sync, so a crash may lose them (or, after a later synced commit, keep them), and the caller
// clamps and rebuilds them from the segments. DeleteEntriesFrom is synced, because recovery uses it to
// drop the entries past a cut tail; so is DeleteEntriesBetween, which compaction calls before it replaces
// segments. Work-queue ack states are primary data, synced like group offsets.
// Idempotent producers' snapshots are derived from the logs' batch headers and written without sync; the
// next producer id is primary data (ids are never handed out twice), synced (producers.go).
// segments. Work-queue ack states are primary data, synced like group offsets; a work-queue group's scheduled
// messages ('s' keys) are written in the same synced batch as the ack state of their partition
// (SaveQueueState), which counts them done.
//
// Two things make Pebble's own files crash-safe under the crash-simulating filesystem's rules (where the
// directory entries created since the last directory fsync survive a crash independently of each other):
// a new store is built in <dir>.tmp and renamed into place (a crash part-way through Pebble's creation
// could otherwise leave a directory it refuses to open), and the directory is fsynced before Pebble
// creates a manifest marker file, so that no marker can survive a crash that loses the manifest it names
// (orderfs.go). Both were found by the root package's TestCrashInsideRecovery.
//
// # Key layout
//
// The first byte of a key says what it holds. Topic and group names end with 0x00 (topic names are
// [a-zA-Z0-9._-], group names are rejected when they contain 0x00), so that no name is a prefix of
// another's keys ("a" and "a.b") and keys sort by name. Partitions are 4-byte and offsets 8-byte big
// endian, both non-negative, so that keys sort numerically. Values are fixed-width big endian, except the
// opaque configuration and log state blobs.
//
//	kind  key                                            value
//	----  ---------------------------------------------  -----------------------------------------------
//	't'   't' topic 0x00                                 topic configuration (opaque bytes)
//	'l'   'l' topic 0x00 partition[4]                    log state (opaque bytes)
//	'x'   'x' topic 0x00 partition[4] offset[8]          position[8] timestamp[8] (sparse entry)
//	'g'   'g' group 0x00 topic 0x00 partition[4]         offset[8] incarnation[8] (next offset the group
//	                                                     will read, in that incarnation of the topic;
//	                                                     offset[8] alone: stored before incarnations)
//	'a'   'a' group 0x00 topic 0x00 partition[4]         work-queue state: floor, acked ranges, delivery
//	                                                     cursor and counts (acks.go)
//	's'   's' group 0x00 topic 0x00 incarnation[8]       a work-queue group's scheduled message: version[1]
//	          due[8] partition[4] offset[8]              deliveries (uvarint); due in ms since the epoch,
//	                                                     so a prefix scan gives them by due time (timers.go)
//	'd'   'd' topic 0x00                                 tombstone of a deleted topic (opaque bytes)
//	'i'   'i'                                            the last topic incarnation given (uint64)
//	'p'   'p' topic 0x00 partition[4]                    idempotent producers' state snapshot (opaque bytes)
//	'n'   'n'                                            first producer id not yet reserved (uint64)
//
// For example, group "billing" at offset 42 of partition 3 of topic "orders":
//
//	+---+---------+----+--------+----+-------------+----------------------------------------------+
//	| g | billing | 00 | orders | 00 | 00 00 00 03 | -> 00 00 00 00 00 00 00 2a 00 00 00 00 00 00 00 07 |
//	+---+---------+----+--------+----+-------------+----------------------------------------------+
//
// (incarnation 7 of topic "orders").
//
// The kind bytes and the layout are on-disk format: they are frozen. A value of the wrong length is
// reported as ErrCorruptValue naming its key, never a panic.
package index
