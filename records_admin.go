package mqlog

import (
	"fmt"

	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/producers"
)

// Administrative deletes by offset: Kafka's DeleteRecords (a partition's start offset raised, as
// retention raises it) and OffsetDelete (some of a group's committed positions removed).

// DeleteRecords removes the records of a partition below before, durably: the partition's start offset
// is raised to before, so that the records below it are never read again (ErrOutOfRange; a consumer
// group's position below it reads from the new start), and the closed segments wholly below it are
// deleted as retention deletes them (the state first, synced, then the files: docs/FORMAT.md, "Cutting a
// log by offset"); a segment that straddles before stays until retention or a later call passes its end.
// before -1 is the high watermark (everything appended so far). It returns the start offset after the
// call, which is before, or the start when that was already above it. An offset past the high watermark
// (or below -1) is ErrOutOfRange, naming the partition's range; a compacted topic is ErrCompactedTopic,
// as Kafka refuses it.
func (db *DB) DeleteRecords(topic string, partition int32, before int64) (int64, error) {
	if err := db.writable(); err != nil {
		return 0, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return 0, err
	}
	if t.Config().Compacted() {
		return 0, fmt.Errorf("%w: %s", ErrCompactedTopic, topic)
	}
	l, err := t.Partition(partition)
	if err != nil {
		return 0, err
	}
	hw := l.HighWatermark()
	if before == -1 {
		before = hw
	}
	if before < 0 || before > hw {
		return 0, fmt.Errorf("%w: delete records of %s/%d below %d: the partition holds [%d, %d)",
			ErrOutOfRange, topic, partition, before, l.StartOffset(), hw)
	}
	res, err := l.DeleteBefore(before)
	if err != nil {
		return 0, facade(err)
	}
	db.queues.LogStartMoved(t, partition, res.StartOffset) // the work queues' floors follow, as after retention
	return res.StartOffset, nil
}

// TopicPartition names one partition of a topic.
type TopicPartition = index.TopicPartition

// DeleteGroupOffsets deletes group's committed positions in partitions (Kafka's OffsetDelete), in one
// synced batch, with no member joining meanwhile; the group then reads those partitions as a group
// without a position does. subscribed gets the group's description when it has members and returns the
// topics they read (the kafka package reads them from its consumers' subscriptions; an embedded member
// reads its Topic): a partition of such a topic is refused with ErrGroupSubscribed. It returns one error
// per partition, nil for those deleted or that had no position, or one error for all.
func (db *DB) DeleteGroupOffsets(group string, partitions []TopicPartition, subscribed func(GroupDescription) map[string]bool) ([]error, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if subscribed == nil {
		subscribed = embeddedTopics
	}
	return db.groups.DeleteOffsets(group, partitions, subscribed)
}

// embeddedTopics is the topics an embedded group's members read.
func embeddedTopics(d GroupDescription) map[string]bool {
	topics := map[string]bool{}
	for _, m := range d.Members {
		if m.Topic != "" {
			topics[m.Topic] = true
		}
	}
	return topics
}

// Epoch returns the partition's write epoch: the partition leader epoch of the batches appended since
// the DB was opened (raised at every open, never lowered; stored batches carry the epoch they were
// written in).
func (p *RawPartition) Epoch() int32 { return p.log.Epoch() }

// ProducerInfo is what a partition remembers of one idempotent producer: its ID and Epoch, the
// LastSequence and LastOffset of its last batch there, and that batch's LastTimestamp (ms since the
// epoch). Kafka's DescribeProducers shows it.
type ProducerInfo = producers.Info

// Producers returns the idempotent producers the partition remembers (those within the producer state's
// expiry), by id.
func (p *RawPartition) Producers() ([]ProducerInfo, error) {
	s, err := p.db.producerState(p)
	if err != nil {
		return nil, err
	}
	return s.List(), nil
}
