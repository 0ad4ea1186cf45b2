// Package catalog is the room of topics and partitions: which topics a data directory holds, their
// settings and incarnations, one wal.Log per partition, where a message goes (Kafka's partitioner), and
// the topic lifecycle (create, alter, delete) that the other rooms learn of through Observer.
//
// # Many partitions
//
// Opening a topic (at Create, AddPartitions and Open) costs a few syscalls per partition and one synced
// Pebble commit for all of them: the missing partition directories are made, then the topics directory
// fsynced once; the partitions' saved states are read with one scan; the logs open with
// wal.Options.DeferSync (their new states and epochs written without sync), eight at a time; then one
// synced commit makes them durable, before the topic is published. Close does the same for the clean
// states. Idle partitions hold no descriptor, goroutine or preallocated space (package wal). Measured in
// docs/BENCH.md, "Phase 2".
//
// # Incarnations
//
// Every topic created gets an incarnation, a number never given before in the directory (the index keeps
// the last one given). State that other rooms keep about a topic (group offsets, work-queue acks) carries
// the incarnation it was written in, so that state written for a deleted topic, by a handle that outlived
// it, is never taken for a new topic of the same name.
//
// # Deleting a topic, crash-safely
//
// DeleteTopic closes the partitions' logs, then deletes everything the index holds about the topic (its
// config, log states, sparse entries, every group's offsets and every work-queue group's acks in it) and
// records a tombstone in the same synced Pebble batch. From then on the topic does not exist for Open,
// whatever files remain. Its partition directories are removed afterwards, with one fsync of the topics
// directory at the end, and the tombstone is dropped. A crash at any point leaves either the whole topic
// or its tombstone; the next Open removes whatever files a tombstone names before it opens anything, so
// a partly removed partition (segments 0 and 200 without 100) is never opened as a log.
//
// # Directories the index does not know
//
// A partition directory that belongs to no topic in the index (and to no tombstone), or lies beyond its
// topic's partition count, is reported (a log line, and Unknown) and left as it is: never adopted as a
// topic, never created, never grown. `mqlog verify` reports it too.
package catalog
