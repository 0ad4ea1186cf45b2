// Package bench measures mqlog against the physical limits of the disk it runs on.
//
// Every workload runs against mqlog and against raw baselines on the same disk, in interleaved rounds
// (mqlog, raw, raw-prealloc, then again), so that a ratio compares runs taken moments apart on a shared
// machine. Ratios, not absolute figures, are what a result states (DESIGN.md, "What is measured").
//
// # Baselines
//
// The raw baseline (RawLog) is a plain file of length-prefixed records:
//
//	+----------------+-------------------+----------------+-------------------+
//	| length: uint32 | payload (length)  | length: uint32 | payload ...       |
//	| little endian  |                   |                |                   |
//	+----------------+-------------------+----------------+-------------------+
//
// Each batch is written with one pwrite(2) of the whole batch and then one fdatasync(2): nothing is
// cheaper for durable batches. Its preallocated variant grows the file ahead with fallocate(2) mode 0 in
// 64 MiB steps, so that fdatasync has no file size to commit: the physical limit for small batches, and
// the one to hold mqlog (which preallocates its segments the same way) against. The raw read baseline
// reads the file back through a 64 KiB bufio.Reader, parsing the length prefixes and touching a byte of
// every payload.
//
// # Workloads
//
//   - append: one producer appends batches of B messages of S bytes, durably (mqlog with SyncAlways, one
//     DB.Append per batch to a one-partition topic; the baselines one write and one fdatasync per batch).
//   - append-concurrent: P producers each append single messages durably to mqlog, where group commit
//     shares fsyncs between them; the same round also measures one producer, and the ratio is reported.
//   - consume: a log of 1 KiB messages is written and synced first, then read back whole from the page
//     cache (mqlog with DB.ReadNoCopy, the baseline with ReadRawLog); only the read is measured.
//   - consume-cold: the same after DropPageCache (fsync and posix_fadvise DONTNEED on every file of the
//     log); the measured time includes opening the log.
//   - end-to-end: one producer appends while one Consumer reads; latency from the Append call to
//     Consumer.Next returning the message (EndToEndMQLog).
//   - commit: goroutines each committing their own group's offset with DB.CommitGroupOffset
//     (CommitMQLog).
//   - compaction: one DB.Compact over a compacted topic whose keys repeat (Compaction); msgs/s and MB/s are
//     what it read.
//
// With Config.Child set, every run happens in a child process of its own (ServeChild on the other side),
// and the report gives its peak RSS. Consume runs also report disk bytes per payload byte. Config.Workloads
// selects workloads by name. RunRecovery is the separate long run of open and recovery time by log size,
// after a clean close or a SIGKILL.
//
// RunPartitions is the other separate run: for each partition count, a topic of that many partitions is
// created (timed), closed (timed) and opened again (timed), each step in a child process, and the open DB's
// resident memory, live heap, file descriptors, goroutines and disk space reserved (allocated blocks) are
// measured, then one hot partition is appended to among the idle ones. Its filesystem (budgetFS) refuses
// new files once the free space has dropped by the run's disk budget, so that a count the disk cannot hold
// stops with how far it got and the error instead of filling a shared disk.
//
// Report.WriteTable fits 100 columns; WriteWideTable has every figure, for a file.
//
// Each run works in a fresh temporary directory under Config.BaseDir, removed afterwards, and lasts until
// it has written Config.MaxMessages messages or Config.MaxDuration has passed, whichever comes first: a
// batch of one message costs a whole fsync, so a fixed count would take minutes on one disk and
// milliseconds on another.
//
// # Figures
//
// A Result holds, per case and system, the median over rounds of msgs/s and MB/s (payload bytes, 1 MB =
// 10^6 bytes; mqlog's RecordBatch framing is not counted, the baseline's length prefixes are not either),
// latency percentiles of one Append call (or one batch write) over all rounds' samples merged, in
// microseconds, and the ratios mqlog/raw and mqlog/raw-prealloc of msgs/s, taken round by round and then
// the median. A ratio of 1.00 means as fast as the baseline, 0.50 half as fast.
//
// The package is Linux-only, as mqlog is (fallocate, fdatasync).
package bench
