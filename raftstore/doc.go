// Package raftstore stores a hashicorp/raft node's log and stable values on mqlog's own storage (issue 17,
// item 1): a raft.LogStore (and raft.MonotonicLogStore) on a segment log of package wal, and a
// raft.StableStore on the Pebble index, in one directory:
//
//	<dir>/LOCK     the writer's flock (one process per store)
//	<dir>/index/   Pebble: the log's durable state and sparse index (partition "raft" 0, keys 'l' and 'x'),
//	               the stable values (keys 'r' + raft's key, index/keys.go), all written synced where primary
//	<dir>/log/     the segments, Kafka RecordBatch v2: 00000000000000000000.log, ...
//
// # Entries and indexes
//
// The raft entry of index i is the record at offset i−1, alone in its batch (entry.go has the record
// layout: term, type, index and AppendedAt in a 26-byte key, Data as the value, Extensions in a header).
// One batch per entry costs about 70 bytes per entry, and buys a log that can be cut at any index without
// rewriting a batch. An empty log may start at any index: StoreLogs on an empty log whose next offset is not
// the first entry's resets it there (wal.Log.Reset), as raft needs after it installs a snapshot and deletes
// its whole log (it does so because the store says IsMonotonic).
//
// # Durability
//
//   - StoreLogs appends its entries with wal.Log.AppendBatches: one group commit, one write, one fsync
//     (SyncAlways), however many entries; it returns once they are durable. Entries must follow the last
//     index one by one (ErrNonMonotonic), as raft writes them.
//   - DeleteRange at the head raises the log's start (a synced state save) and deletes only whole segments
//     below it (wal.Log.DeleteBefore); entries below the start are gone for GetLog at once, their bytes when
//     their segment is wholly below it.
//   - DeleteRange at the tail (a conflicting suffix) is wal.Log.TruncateFrom: a synced marker, then one
//     segment trimmed at a batch boundary and the later ones removed, then the marker cleared; Open finishes
//     a cut that a crash interrupted (docs/FORMAT.md "Cutting a log by offset"). A range that is neither a
//     prefix nor a suffix is ErrMiddleRange (raft-wal refuses it too; raft never asks for it).
//   - Set and SetUint64 are synced Pebble writes. Get of a missing key returns ErrKeyNotFound, whose text
//     is "not found" (what raft checks for); GetUint64 of a missing key returns 0 and no error.
//   - Recovery is the engine's (wal.Open): a torn tail past the durable point is cut, damage is a
//     *segment.CorruptionError naming file and byte, never a silent cut.
//
// # What is tested, what is not done
//
// Done: the store (item 1 of issue 17), its conformance suite (package storetest) run here against
// raft.InmemStore and this store, and in the module raftstore/conformance against raft-wal as well (kept
// out of the main go.mod: raft-wal brings bbolt and etcd's packages), a crash image at every write op of
// StoreLogs and DeleteRange, and StoreLogs benchmarks against raft-wal (raftstore/conformance).
//
// Not done (issue 17, items 2 to 4): the FSM that applies committed entries to a partition, replicated
// topics, snapshots of segment files, membership from the CLI, `mqlog serve --raft-*`, and the fault test
// of real processes. Nothing in the root facade or the Kafka front end uses this package yet.
package raftstore
