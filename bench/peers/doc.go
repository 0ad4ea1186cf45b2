// Package peers compares mqlog, side by side and in one run, with the raw baselines of package bench and
// with the embedded logs and queues a Go user would pick instead: hashicorp/raft-wal, tidwall/wal, the
// file store of nats-server's JetStream (an embedded server), Pebble and bbolt used as queues, and
// nsqio/go-diskqueue.
//
// It is a module of its own (bench/peers/go.mod, with a replace of github.com/mqlog/mqlog to ../..), so
// that the peers' dependencies never enter mqlog's go.mod. `make bench-peers` runs cmd/peers.
//
// # Systems
//
// Every system implements Queue behind a System that states its durability honestly (System.Durability)
// and how it takes a batch (System.Batching); each is opened in its most durable mode for the append
// workloads. The report repeats those descriptions.
//
// # Workloads
//
//   - append: one producer appends batches of B messages of S bytes, each Append durable as above; the
//     latency of every Append is kept in an HDR histogram.
//   - append-concurrent: P producers each append single messages of the first size at once (systems
//     that cannot take concurrent writes serialize them behind a mutex; group commit shows here).
//   - consume-warm: a log of N messages of 1 KiB is loaded (not durable per append, synced at Close),
//     the queue is reopened and read back whole; only the read is timed, the files are in the page cache.
//   - consume-cold: the same, but before reopening every file of the queue is fsynced and its pages
//     dropped from the page cache with posix_fadvise(POSIX_FADV_DONTNEED); the timed part includes
//     opening the queue, since opening may read what the scan then finds cached.
//
// After loading the consume log, the bytes the system's files take on disk (allocated blocks, as du
// counts, and apparent sizes) are divided by the payload bytes.
//
// # Rounds and ratios
//
// Each case runs every system once per round, the starting system rotating from round to round, and
// ratios are taken within a round (system over raw, system over raw-prealloc, mqlog over system) before
// the median over rounds: absolute figures drift on a shared machine, ratios of runs moments apart less.
package peers
