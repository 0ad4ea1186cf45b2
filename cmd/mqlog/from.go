package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mqlog/mqlog"
)

// fromKind is the kind of a --from position.
type fromKind int

const (
	fromEarliest fromKind = iota // the partition's start offset
	fromLatest                   // its high watermark: only what is appended from now on
	fromOffset                   // an absolute offset
	fromBack                     // n records before the high watermark
	fromTime                     // the first record with a timestamp at or after a time
)

// fromSpec is a parsed --from: where each partition starts.
type fromSpec struct {
	kind   fromKind
	n      int64 // the offset of fromOffset, the count of fromBack, the milliseconds of fromTime
	source string
}

// parseFrom parses --from: earliest, latest, N, -N, or @time (RFC 3339 or milliseconds since the epoch).
func parseFrom(s string) (fromSpec, error) {
	spec := fromSpec{source: s}
	switch {
	case s == "earliest" || s == "beginning":
		spec.kind = fromEarliest
	case s == "latest" || s == "end":
		spec.kind = fromLatest
	case strings.HasPrefix(s, "@"):
		ms, err := parseTime(s[1:])
		if err != nil {
			return spec, usagef("invalid --from %q: %v", s, err)
		}
		spec.kind, spec.n = fromTime, ms
	case strings.HasPrefix(s, "-"):
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 {
			return spec, usagef("invalid --from %q: want -N, N records before the end", s)
		}
		spec.kind, spec.n = fromBack, n
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return spec, usagef("invalid --from %q: want earliest, latest, N, -N or @time", s)
		}
		spec.kind, spec.n = fromOffset, n
	}
	return spec, nil
}

// parseTime parses an RFC 3339 time or a number of milliseconds since the Unix epoch.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("want an RFC 3339 time or milliseconds since the epoch")
	}
	return t.UnixMilli(), nil
}

// Values of --offset-reset: what --from N does in a partition that does not hold offset N (Kafka's
// auto.offset.reset).
const (
	resetEarliest = "earliest" // the partition's start offset
	resetLatest   = "latest"   // its high watermark
	resetError    = "error"    // fail (Kafka's "none")
)

var offsetResets = []string{resetEarliest, resetLatest, resetError}

// checkOffsetReset validates --offset-reset.
func checkOffsetReset(s string) error {
	for _, r := range offsetResets {
		if s == r {
			return nil
		}
	}
	return usagef("invalid --offset-reset %q: want earliest, latest or error", s)
}

// resolveWithReset is resolve, with an offset that partition p does not hold moved as reset says (Kafka's
// auto.offset.reset): to its start (earliest), to its high watermark (latest), or an error. It returns a
// note for stderr when it moved the offset.
func (f fromSpec) resolveWithReset(db offsetTimer, topic string, p mqlog.PartitionInfo, reset string) (int64, string, error) {
	off, err := f.resolve(db, topic, p)
	if f.kind != fromOffset || err == nil || reset == resetError {
		return off, "", err
	}
	off = p.HighWatermark
	if reset == resetEarliest {
		off = p.StartOffset
	}
	note := fmt.Sprintf("note: --from %d is out of range for %s partition %d, which holds offsets [%d, %d): --offset-reset %s starts it at %d",
		f.n, topic, p.Partition, p.StartOffset, p.HighWatermark, reset, off)
	return off, note, nil
}

// resolve returns the offset where partition p of topic starts under the spec.
func (f fromSpec) resolve(db offsetTimer, topic string, p mqlog.PartitionInfo) (int64, error) {
	start, hw := p.StartOffset, p.HighWatermark
	switch f.kind {
	case fromEarliest:
		return start, nil
	case fromLatest:
		return hw, nil
	case fromBack:
		return max(start, hw-min(f.n, hw)), nil
	case fromOffset:
		if f.n < start || f.n > hw {
			return 0, fmt.Errorf("--from %d is out of range for %s partition %d, which holds offsets [%d, %d) (--offset-reset error)",
				f.n, topic, p.Partition, start, hw)
		}
		return f.n, nil
	case fromTime:
		return offsetForTime(db, topic, p, f.n)
	}
	panic("unreachable")
}

// offsetForTime returns the offset of the first record of partition p with a timestamp at or after ms, or
// the high watermark when there is none, through DB.OffsetForTime (segment timestamps and a binary search
// over the sparse index, then a short forward read), no longer a scan from the partition's start.
func offsetForTime(db offsetTimer, topic string, p mqlog.PartitionInfo, ms int64) (int64, error) {
	return db.OffsetForTime(topic, p.Partition, time.UnixMilli(ms))
}

// offsetTimer finds the first offset at or after a time: a DB, or a broker (brokerGroups).
type offsetTimer interface {
	OffsetForTime(topic string, partition int32, t time.Time) (int64, error)
}
