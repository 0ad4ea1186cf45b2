// Package prommetrics serves an mqlog DB's metrics to Prometheus (github.com/prometheus/client_golang):
// a Collector to register in any prometheus.Registerer, which `mqlog serve --metrics-listen` serves on
// /metrics and `mqlog stats` prints.
//
// Two kinds of metrics come from a DB. Counters since it was opened (appends, batches, bytes, fsyncs, the
// work queue's deliveries and redeliveries, the cleaner's runs and reclaimed bytes), with the commit
// latency as a summary of quantiles from an HDR histogram since it was opened; and the state of the data
// at the time of the scrape: each partition's offsets and size, each consumer group's offset, lag and
// members, each work-queue group's pending (unacked) and redelivering messages. The state is read at
// every scrape (the groups' positions from the index), so its cost grows with the number of groups and
// partitions; scrape accordingly.
//
// Metric names (all prefixed mqlog_) and labels:
//
//	appends_total, batches_written_total, records_written_total, bytes_written_total, writes_total,
//	fsyncs_total, fsync_seconds_total, segment_rolls_total      the write path
//	appends_per_fsync                                           group commit at work (gauge)
//	commit_latency_seconds{quantile}                            summary: 0.5, 0.9, 0.99, 0.999, and 1 (max)
//	queue_saves_total, queue_deliveries_total, queue_redeliveries_total, queue_dead_lettered_total,
//	queue_dead_letter_failures_total, queue_skipped_by_retention_total
//	cleaner_runs_total, cleaner_age_rolls_total, cleaner_segments_deleted_total,
//	compaction_bytes_read_total, cleaner_bytes_reclaimed_total
//	cleaner_running, cleaner_run_bytes_read, cleaner_run_bytes   the run under way
//	partition_start_offset, partition_high_watermark, partition_bytes, partition_segments {topic, partition}
//	consumer_group_offset, consumer_group_lag {group, topic, partition}; consumer_group_members {group}
//	queue_pending, queue_redelivering, queue_ack_floor {group, topic, partition}
//
// On a read-only DB (OpenReadOnly) the groups are not known: their metrics are left out.
package prommetrics

import (
	"errors"
	"strconv"

	"github.com/mqlog/mqlog"
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric name.
const Namespace = "mqlog"

// Collector collects a DB's metrics at each scrape. It is safe for concurrent use.
type Collector struct {
	db       *mqlog.DB
	counters []counter
	gauges   []gauge
	latency  *prometheus.Desc
	state    map[string]*prometheus.Desc
}

// counter is a metric read from mqlog.Metrics.
type counter struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(m *mqlog.Metrics) float64
}

type gauge = counter

// NewCollector returns a Collector of db's metrics. Register it once (prometheus.MustRegister).
func NewCollector(db *mqlog.DB) *Collector {
	c := &Collector{db: db, state: map[string]*prometheus.Desc{}}
	add := func(name, help string, kind prometheus.ValueType, value func(m *mqlog.Metrics) float64) {
		c.counters = append(c.counters, counter{desc: prometheus.NewDesc(Namespace+"_"+name, help, nil, nil), kind: kind, value: value})
	}
	cnt, gau := prometheus.CounterValue, prometheus.GaugeValue
	add("appends_total", "Append calls queued to partition logs.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Appends) })
	add("batches_written_total", "Record batches written to segments.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Batches) })
	add("records_written_total", "Records written to segments.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Records) })
	add("bytes_written_total", "Segment bytes written.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Bytes) })
	add("writes_total", "Write calls to segment files.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Writes) })
	add("fsyncs_total", "Fsyncs of segment data.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Syncs) })
	add("fsync_seconds_total", "Time spent in fsyncs of segment data.", cnt, func(m *mqlog.Metrics) float64 { return m.SyncTime.Seconds() })
	add("segment_rolls_total", "Segments closed and new ones started.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Rolls) })
	add("preallocations_total", "Preallocation steps taken ahead of the active segments' writes.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.Preallocations) })
	add("prealloc_failures_total", "Failed preallocations (the segment then grows as it is written).", cnt, func(m *mqlog.Metrics) float64 { return float64(m.PreallocFailures) })
	add("appends_per_fsync", "Mean Append calls that shared one fsync since the DB was opened (group commit).", gau,
		func(m *mqlog.Metrics) float64 { return m.AppendsPerSync() })
	add("queue_saves_total", "Synced saves of work-queue state.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.QueueSaves) })
	add("queue_deliveries_total", "Work-queue messages delivered, redeliveries included.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.QueueDeliveries) })
	add("queue_redeliveries_total", "Work-queue deliveries of a message delivered before.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.QueueRedeliveries) })
	add("queue_dead_lettered_total", "Work-queue messages moved to their dead-letter topic.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.QueueDeadLettered) })
	add("queue_dead_letter_failures_total", "Failed dead-letter appends.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.QueueDeadLetterFailures) })
	add("queue_skipped_by_retention_total", "Work-queue messages retention deleted before any group finished them.", cnt,
		func(m *mqlog.Metrics) float64 { return float64(m.QueueSkippedByRetention) })
	add("cleaner_runs_total", "Retention and compaction runs (background and on demand).", cnt, func(m *mqlog.Metrics) float64 { return float64(m.CleanerRuns) })
	add("cleaner_age_rolls_total", "Active segments rolled for their age (segment.ms).", cnt, func(m *mqlog.Metrics) float64 { return float64(m.CleanerRolls) })
	add("cleaner_segments_deleted_total", "Segments deleted by retention.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.CleanerSegmentsDeleted) })
	add("compaction_bytes_read_total", "Bytes compaction read.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.CompactionBytesRead) })
	add("cleaner_bytes_reclaimed_total", "Bytes retention and compaction freed.", cnt, func(m *mqlog.Metrics) float64 { return float64(m.CleanerBytesReclaimed) })
	add("cleaner_running", "1 while a retention and compaction run is under way.", gau, func(m *mqlog.Metrics) float64 { return b2f(m.CleanerRunning) })
	add("cleaner_run_bytes_read", "Bytes the run under way has read.", gau, func(m *mqlog.Metrics) float64 { return float64(m.CleanerRunBytesRead) })
	add("cleaner_run_bytes", "Closed bytes the run under way looks at.", gau, func(m *mqlog.Metrics) float64 { return float64(m.CleanerRunBytesTotal) })
	c.latency = prometheus.NewDesc(Namespace+"_commit_latency_seconds",
		"Time of an append from the call until its messages were durable (under SyncAlways), since the DB was opened.", nil, nil)
	state := func(name, help string, labels ...string) {
		c.state[name] = prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
	}
	state("partition_start_offset", "First offset the partition holds.", "topic", "partition")
	state("partition_high_watermark", "Offset after the partition's last readable record (its log end offset).", "topic", "partition")
	state("partition_bytes", "Bytes of the partition's segments.", "topic", "partition")
	state("partition_segments", "Segment files of the partition.", "topic", "partition")
	state("consumer_group_offset", "Where the consumer group reads next in the partition (its committed offset, clamped to the log).", "group", "topic", "partition")
	state("consumer_group_lag", "Records between the consumer group's offset and the partition's high watermark.", "group", "topic", "partition")
	state("consumer_group_members", "Active members of the consumer group.", "group")
	state("queue_pending", "Messages of the partition the work-queue group has not finished (unacked).", "group", "topic", "partition")
	state("queue_redelivering", "Pending messages delivered more than once.", "group", "topic", "partition")
	state("queue_ack_floor", "Offset below which the work-queue group has finished every message.", "group", "topic", "partition")
	return c
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.counters {
		ch <- m.desc
	}
	ch <- c.latency
	for _, d := range c.state {
		ch <- d
	}
}

// Collect reads the DB's metrics and the state of its data.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.db.Metrics()
	for _, k := range c.counters {
		ch <- prometheus.MustNewConstMetric(k.desc, k.kind, k.value(&m))
	}
	l := m.CommitLatency
	ch <- prometheus.MustNewConstSummary(c.latency, uint64(l.Count), l.Sum.Seconds(), map[float64]float64{
		0.5: l.P50.Seconds(), 0.9: l.P90.Seconds(), 0.99: l.P99.Seconds(), 0.999: l.P999.Seconds(), 1: l.Max.Seconds(),
	})
	c.collectPartitions(ch)
	if !c.db.ReadOnly() {
		c.collectGroups(ch)
		c.collectQueues(ch)
	}
}

func (c *Collector) gauge(ch chan<- prometheus.Metric, name string, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(c.state[name], prometheus.GaugeValue, v, labels...)
}

func (c *Collector) invalid(ch chan<- prometheus.Metric, name string, err error) {
	ch <- prometheus.NewInvalidMetric(c.state[name], err)
}

func (c *Collector) collectPartitions(ch chan<- prometheus.Metric) {
	for _, topic := range c.db.Topics() {
		parts, err := c.db.Partitions(topic)
		if errors.Is(err, mqlog.ErrTopicNotFound) {
			continue // deleted since Topics
		}
		if err != nil {
			c.invalid(ch, "partition_high_watermark", err)
			continue
		}
		for _, p := range parts {
			id := strconv.Itoa(int(p.Partition))
			var bytes int64
			for _, s := range p.Segments {
				bytes += s.Size
			}
			c.gauge(ch, "partition_start_offset", float64(p.StartOffset), topic, id)
			c.gauge(ch, "partition_high_watermark", float64(p.HighWatermark), topic, id)
			c.gauge(ch, "partition_bytes", float64(bytes), topic, id)
			c.gauge(ch, "partition_segments", float64(len(p.Segments)), topic, id)
		}
	}
}

func (c *Collector) collectGroups(ch chan<- prometheus.Metric) {
	groups, err := c.db.Groups()
	if err != nil {
		c.invalid(ch, "consumer_group_lag", err)
		return
	}
	for _, g := range groups {
		offsets, err := c.db.GroupOffsets(g)
		if err != nil {
			c.invalid(ch, "consumer_group_lag", err)
			continue
		}
		for _, o := range offsets {
			id := strconv.Itoa(int(o.Partition))
			c.gauge(ch, "consumer_group_offset", float64(o.Offset), g, o.Topic, id)
			c.gauge(ch, "consumer_group_lag", float64(o.Lag), g, o.Topic, id)
		}
		desc, err := c.db.DescribeGroup(g)
		if err != nil {
			c.invalid(ch, "consumer_group_members", err)
			continue
		}
		c.gauge(ch, "consumer_group_members", float64(len(desc.Members)), g)
	}
}

func (c *Collector) collectQueues(ch chan<- prometheus.Metric) {
	groups, err := c.db.QueueGroups()
	if err != nil {
		c.invalid(ch, "queue_pending", err)
		return
	}
	for _, g := range groups {
		states, err := c.db.QueueGroupState(g)
		if err != nil {
			c.invalid(ch, "queue_pending", err)
			continue
		}
		for _, s := range states {
			id := strconv.Itoa(int(s.Partition))
			c.gauge(ch, "queue_pending", float64(s.Unacked), g, s.Topic, id)
			c.gauge(ch, "queue_redelivering", float64(s.Redelivering), g, s.Topic, id)
			c.gauge(ch, "queue_ack_floor", float64(s.Floor), g, s.Topic, id)
		}
	}
}
