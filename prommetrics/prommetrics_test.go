package prommetrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// The collector's metrics pass Prometheus's lint and say what the DB did: appends, fsyncs, the commit
// latency, each partition's offsets, a group's lag, a queue's pending messages, the cleaner's work.
func TestCollector(t *testing.T) {
	db, err := mqlog.Open(t.TempDir(), &mqlog.Options{RetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateTopic("prices", mqlog.TopicConfig{SegmentBytes: 512, CleanupPolicy: mqlog.CleanupCompact}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := db.Append(ctx, "prices", mqlog.Message{Key: fmt.Appendf(nil, "sku-%d", i%5), Value: []byte("price")}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.Consumer("prices", "billing")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffset(0, 40); err != nil {
		t.Fatal(err)
	}
	q, err := db.Queue("prices", "workers", mqlog.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range 3 { // offset 0 acked; offset 1 nak'd, delivered again, acked
		m, err := q.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			err = m.Nak(0)
		} else {
			err = m.Ack()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Compact(ctx, mqlog.CompactOptions{}); err != nil {
		t.Fatal(err)
	}

	collector := prommetrics.NewCollector(db)
	if problems, err := testutil.CollectAndLint(collector); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		for _, f := range families {
			if f.GetName() != "mqlog_"+name {
				continue
			}
			for _, m := range f.GetMetric() {
				if labelValues(m) == strings.Join(labels, ",") {
					switch {
					case m.Counter != nil:
						return m.GetCounter().GetValue()
					case m.Gauge != nil:
						return m.GetGauge().GetValue()
					case m.Summary != nil:
						return float64(m.GetSummary().GetSampleCount())
					}
				}
			}
		}
		t.Fatalf("no mqlog_%s{%v}", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
	}{
		{"appends_total", nil, func(v float64) bool { return v == 100 }},
		{"records_written_total", nil, func(v float64) bool { return v == 100 }},
		{"fsyncs_total", nil, func(v float64) bool { return v >= 1 }},
		{"commit_latency_seconds", nil, func(v float64) bool { return v == 100 }}, // (the sample count)
		{"partition_high_watermark", []string{"prices", "0"}, func(v float64) bool { return v == 100 }},
		{"partition_segments", []string{"prices", "0"}, func(v float64) bool { return v > 1 }},
		{"consumer_group_offset", []string{"billing", "prices", "0"}, func(v float64) bool { return v == 40 }},
		{"consumer_group_lag", []string{"billing", "prices", "0"}, func(v float64) bool { return v == 60 }},
		{"consumer_group_members", []string{"billing"}, func(v float64) bool { return v == 1 }},
		{"queue_pending", []string{"workers", "prices", "0"}, func(v float64) bool { return v == 98 }},
		{"queue_ack_floor", []string{"workers", "prices", "0"}, func(v float64) bool { return v == 2 }},
		{"queue_deliveries_total", nil, func(v float64) bool { return v == 3 }},
		{"queue_redeliveries_total", nil, func(v float64) bool { return v == 1 }},
		{"cleaner_runs_total", nil, func(v float64) bool { return v == 1 }},
		{"compaction_bytes_read_total", nil, func(v float64) bool { return v > 0 }},
		{"cleaner_bytes_reclaimed_total", nil, func(v float64) bool { return v > 0 }},
		{"cleaner_running", nil, func(v float64) bool { return v == 0 }},
	}
	for _, c := range checks {
		if v := value(c.name, c.labels...); !c.want(v) {
			t.Errorf("mqlog_%s%v = %v", c.name, c.labels, v)
		}
	}
	if l := db.Metrics().CommitLatency; l.Count != 100 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > time.Minute {
		t.Errorf("commit latency %+v", l)
	}
}

// On a read-only DB the groups are not known: the collector leaves them out and still collects.
func TestCollectorReadOnly(t *testing.T) {
	dir := t.TempDir()
	w, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(context.Background(), "t", mqlog.Message{Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := mqlog.OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := testutil.GatherAndCount(registry(db), "mqlog_partition_high_watermark", "mqlog_consumer_group_lag")
	if err != nil || n != 1 {
		t.Fatalf("%d metrics, %v", n, err)
	}
}

func registry(db *mqlog.DB) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prommetrics.NewCollector(db))
	return reg
}

// labelValues joins m's label values in the collector's order: group, topic, partition.
func labelValues(m *dto.Metric) string {
	byName := map[string]string{}
	for _, l := range m.GetLabel() {
		byName[l.GetName()] = l.GetValue()
	}
	var vs []string
	for _, n := range []string{"group", "topic", "partition"} {
		if v, ok := byName[n]; ok {
			vs = append(vs, v)
		}
	}
	return strings.Join(vs, ",")
}
