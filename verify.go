package mqlog

import (
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/check"
)

// VerifyOptions configure Verify: FS (nil: the operating system's), Topic (one topic only),
// MaxBatchBytes and MaxMessageBytes (what reading may allocate), and Progress (called with the bytes
// checked so far and in all).
type VerifyOptions = check.VerifyOptions

// VerifyReport is Verify's finding for a data directory: the partitions' reports, what was checked,
// whether the durable state in Pebble was read, the Problems (empty when clean) and Notes. Its methods
// Corrupt (any problem?) and Err (the first problem's error) answer the usual questions.
type VerifyReport = check.VerifyReport

// PartitionReport is Verify's finding for one partition.
type PartitionReport = check.PartitionReport

// Problem is one thing Verify found wrong: its Kind (one of the Problem... constants), where, and Err (a
// *CorruptionError naming the file and byte offset for damage, unexpected files and epochs).
type Problem = check.Problem

// Kinds of Problem.
const (
	ProblemDamage     = check.ProblemDamage     // damaged durable data: a *CorruptionError naming file and byte
	ProblemUnexpected = check.ProblemUnexpected // a file or directory that is not part of the layout
	ProblemState      = check.ProblemState      // a durable state record that cannot be decoded, or is missing
	ProblemIndex      = check.ProblemIndex      // a sparse index entry that does not match the segments
	ProblemEpoch      = check.ProblemEpoch      // a batch of durable data whose epoch field went backwards
)

// Verify checks a data directory without the writer's lock, writing and creating nothing: every batch's
// length, magic and CRC-32C, offsets strictly increasing and, unless the topic is compacted, contiguous,
// each segment's name against its first batch; and when no writer holds the directory, the segments
// against the durable state in Pebble and the sparse index. It judges a partition's tail as Open's
// recovery does: what the next Open repairs by design is a note, not damage. The error is for what stops
// the check itself; what is wrong with the data is in the report.
func Verify(dir string, opts *VerifyOptions) (*VerifyReport, error) { return check.Verify(dir, opts) }

// RepairOptions configure Repair: FS, Topic, Execute (without it a dry run that changes nothing), and the
// read limits.
type RepairOptions = check.RepairOptions

// RepairReport is the outcome of Repair: the check it was planned from, the partitions that need (or
// got) repair, the group positions moved back, the topics recorded from a lost index, where dropped
// bytes go, and whether it was carried out. Empty reports whether there is nothing to repair.
type RepairReport = check.RepairReport

// PartitionRepair is what Repair does (or would do) to one partition.
type PartitionRepair = check.PartitionRepair

// RepairedGroup is a committed group position moved back to the end of a log Repair shortened.
type RepairedGroup = check.RepairedGroup

// TopicFound is a topic Repair found on disk without a config (a lost index) and records.
type TopicFound = check.TopicFound

// Repair checks a data directory as Verify does, with the writer's lock held (ErrLocked if a writer has
// it), and plans what makes it a directory that Open accepts again; with Execute it carries the plan out.
// It drops only damaged bytes (into <dir>/lost+found/<topic>-<partition>/, with a note), keeps every valid
// batch at its offsets, rewrites the durable state to describe exactly the kept segments, rebuilds the
// sparse index, moves group positions past a log's new end back to it, and records the topics of
// partition directories that have no config (Open never adopts them itself).
func Repair(dir string, opts *RepairOptions) (*RepairReport, error) { return check.Repair(dir, opts) }

// IndexSnapshot is what the index holds about topics and consumer groups.
type IndexSnapshot = check.IndexSnapshot

// ReadIndex reads the topic configs and group positions of a data directory without the writer's lock,
// writing and creating nothing. It returns ErrLocked when a writer holds the directory and an error
// wrapping os.ErrNotExist when there is no index.
func ReadIndex(dir string, fs vfs.FS) (*IndexSnapshot, error) { return check.ReadIndex(dir, fs) }
