package base

import (
	"fmt"
	"strconv"
	"strings"
)

// Names in a data directory:
//
//	<dir>/LOCK                              flock(2) of the one writer
//	<dir>/SERVING                           addresses of the writer's Kafka listeners (kafka package)
//	<dir>/index/                            Pebble
//	<dir>/topics/<topic>-<partition>/       one partition's segments
//	<dir>/lost+found/<topic>-<partition>/   what repair cut
const (
	IndexDirName     = "index"
	TopicsDirName    = "topics"
	LockFileName     = "LOCK"
	ServingFileName  = "SERVING"
	LostFoundDirName = "lost+found"
)

// MaxTopicNameLength is Kafka's limit on a topic name.
const MaxTopicNameLength = 249

// MaxPartitions bounds the partitions of a topic: a stored config or a request for more is refused.
const MaxPartitions = 100_000

// ValidateTopicName reports whether name follows Kafka's rule: 1 to 249 characters of [a-zA-Z0-9._-],
// not "." or "..". Such a name cannot escape the data directory.
func ValidateTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxTopicNameLength {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has %q", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// ValidateGroup reports whether group is a valid group name: not empty, without a NUL byte.
func ValidateGroup(group string) error {
	if group == "" || strings.IndexByte(group, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrInvalidGroup, group)
	}
	return nil
}

// PartitionDirName is the directory name of a partition: <topic>-<partition>.
func PartitionDirName(topic string, partition int) string {
	return topic + "-" + strconv.Itoa(partition)
}

// ParsePartitionDir splits "<topic>-<partition>" at its last dash. It refuses a partition number at or
// above MaxPartitions, which no topic can have.
func ParsePartitionDir(name string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	digits := name[i+1:]
	if digits == "" || len(digits) > 1 && digits[0] == '0' { // "t-07" is not a name mqlog writes
		return "", 0, false
	}
	p, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || p < 0 || p >= MaxPartitions || ValidateTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], int32(p), true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
