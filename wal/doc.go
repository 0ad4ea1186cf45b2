// Package wal is one partition's log: an ordered list of segment files (Kafka RecordBatch v2 frames, see
// package segment) named by base offset, the last of which takes appends.
//
// # Writing
//
// Append encodes its records as one batch outside any lock, then, under the log's mutex, assigns the
// batch's base offset (patching the frame: the offset is outside the CRC) and queues the frame. One group
// commit at a time takes everything queued, writes it with one write per segment, fsyncs once
// (SyncAlways) and releases every waiting appender (after Pebble's record.LogWriter). An appender that
// finds no commit in progress runs it itself, so a lone producer pays no goroutine hand-off; one that
// finds a commit in progress queues and wakes the flusher goroutine, which takes the next group once the
// current commit ends. Whoever leads a commit stores its sparse index entries, after the appenders it
// carried are released (a lone producer's commits never wake the flusher goroutine to store them). A
// failed write or fsync is sticky (fail-stop, DESIGN.md decision 5): every later Append returns it until
// the log is reopened; fsync is never retried. The flusher goroutine is woken only when it has work
// (appends queued behind a commit, once that commit ends; a sync asked for; Close), not after
// every commit; it starts, with the SyncInterval syncer, at the first append. An appender that leads a
// commit holding only its own frames writes them from its encoding buffer, without the copy into the
// queue (directwrite.go); AppendFrame's caller's buffer is always copied.
//
// AppendAsync is Append without the wait: it encodes, assigns the offsets and queues the batch, leaves
// the commit to the flusher goroutine and returns a PendingAppend whose Wait reports the outcome, after
// the fsync that covers the batch (async.go). A producer that keeps batches in flight that way encodes the
// next one while the previous one is synced, as a Kafka producer pipelines its requests.
//
// # Idle partitions
//
// An opened log that nobody writes or reads holds no file descriptor and no goroutine, and reserves no
// disk space: segment read handles open at the first read (and are pinned before retention or compaction
// removes or renames the file, so that a reader holding one reads the file it found); the active
// segment's write handle opens at the first write; a new log's first segment file is created by Open
// without any fsync, and the first write into an empty segment fsyncs it, its directory and the
// directory's entry in its parent first; preallocation starts at the first write. With Options.DeferSync, Open and Close save the state without syncing it, and the caller (the
// catalog) syncs once for all the partitions it opened or closed, before any is used.
//
// The high watermark, the offset after the last readable record, is published only after the fsync that
// covers it (SyncAlways) or after the write (SyncInterval, SyncNever). Readers never read past it.
//
// Readers verify every frame they read (CRC and header) against the segment and the offsets before it.
// NextBatch returns one stored frame as it is; AppendFrames (frames.go) is the same in bulk for a Kafka
// fetch: the frames after the first are read straight into the caller's buffer and verified there, and
// whatever that path does not take as it is goes through NextBatch. ViewFrames is the same again without
// the copy: the verified frames of one segment as a pinned view of its mapping.
//
// # Segments
//
// The active segment is preallocated with fallocate mode 0 in steps ahead of its write position, so that
// most fdatasyncs commit no size change: 1 MiB (PreallocStep) at its first write, each step used up
// doubling the next, up to SegmentBytes (prealloc.go). An idle partition reserves nothing. Preallocation
// is never fatal: a failed fallocate (ENOSPC) is logged and counted (Metrics.PreallocFailures) and the
// segment grows as written. A segment is trimmed to its valid end when it is closed (at a roll, at Close,
// and in recovery): a closed segment is exactly Kafka's bytes. The zeros past the valid end of the active
// segment are not corruption. A roll is: trim and fsync the old segment; create the new one, preallocate
// its first step, fsync it and the directory; record the new durable state in the index, synced.
//
// # Durable state and recovery
//
// The log records, synced, in the index (Pebble): the active segment, the byte position up to which its
// frames are trusted, the next offset at that position, the write epoch, whether the shutdown was clean,
// and the closed segments with their sizes. It is saved at Open (with the epoch raised, before anything is
// written under it), at every roll and at Close. Between saves, the durable point advances with the sparse
// index entries: the flush stores an entry only after the fsync that covers its batch (unsynced, off the
// append path), so the last entry names a batch that was acknowledged durable. Open after a clean close
// scans nothing. After a crash, Open re-validates the frames past the recorded position (recover.go, with
// the rule of tail.go): the first bad frame is the end of the log, cut, only when it lies past the known
// durable point and nothing valid of the log's epoch follows it (or what lies between is the trace of lost
// unsynced blocks); otherwise it is damage, a *segment.CorruptionError naming the file and byte offset, and
// nothing is cut. So are a missing or resized closed segment and data after a bad frame in a later segment.
// Whatever recovery takes in is fsynced before the state that trusts it is saved (a killed process leaves
// its unsynced writes in the page cache). A segment with data in a partition without a saved state
// (ErrNoState), and a link or directory named like a segment (ErrNotRegular), are reported, never cut,
// adopted or followed.
//
// # Reading
//
// A Reader finds its start by binary search over the segments' base offsets, then by the sparse offset
// index (one entry per IndexIntervalBytes of segment, written without sync after the data it describes,
// deleted past the recovered end on open). An entry is a hint: if the batch at its position does not have
// the promised base offset, the Reader scans the segment from its start. Every batch read is CRC-checked.
//
// A log open for writing can read its segments through read-only memory mappings (mmap.go, Options.Mmap;
// read-only logs and files without a descriptor always use pread): by default only ViewFrames, which hands
// a Kafka fetch its verified frames in place; with MmapAll every read, the CRC check and the decoding
// reading the page cache in place and the records of a Reader that does not copy aliasing the mapping
// (the Reader pins that segment until its next batch, Close or its collection). A fault from a file
// truncated under a mapping is a *segment.CorruptionError wrapping ErrFileChanged, never a crash.
//
// OpenReadOnly reads a log without the index and without writing anything, scanning only the last
// segment to find its valid end (damage there is reported to readers once they reach it; an empty last
// segment still ends the log at its name); Refresh follows a writer in another process.
//
// # Retention and compaction
//
// DeleteSegments removes the oldest closed segments by size, age or consumption (Retention), raising the
// start offset durably before any file goes. Compact rewrites closed segments keeping each key's latest
// record, with a bounded key map (several passes when it fills), merging small outputs, and replaces them
// with a committed swap: ".cleaned" files, synced; the state with the pending swap, synced (the commit
// point); renames and removes; directory fsync; then the state without it. Open finishes a committed swap
// and removes uncommitted ".cleaned" files, so a crash leaves the old segments or the new ones. Segment
// read handles are reference counted (refs.go): a Reader holds one while it reads a batch (and, when the
// batch aliases a mapping, until its next one), and moves
// to a replacement segment by offset, or gets ErrOutOfRange below a raised start. See docs/RETENTION.md.
//
// TruncateFrom and DeleteBefore (truncate.go) cut a log by offset for a replicated log (package raftstore):
// a tail cut at a batch boundary, committed by a marker in the state that Open finishes, and a head cut
// that raises the start offset inside a segment and drops whole segments, or, past the end, empties the log
// to start at a later offset. AppendBatches queues several batches in one group commit. See docs/FORMAT.md
// "Cutting a log by offset".
//
// Verify (verify.go) checks a partition offline with the same rules, and Repair (repair.go) removes only
// damaged bytes, keeping every valid batch at its offset (an empty batch stands for the lost offsets).
package wal
