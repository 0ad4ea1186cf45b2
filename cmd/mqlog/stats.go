package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/mqlog/mqlog/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// stdoutIsTerminal reports whether w, the command's stdout, is a terminal: stats --watch redraws the screen
// there. Tests replace it.
var stdoutIsTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type statsOptions struct {
	url      string
	watch    bool
	interval time.Duration
}

func (a *app) newStatsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [--url URL] [--watch]",
		Short: "Show the metrics: writes, commit latency, lag per group, queues, the cleaner",
		Long: `Show one snapshot of the metrics that prommetrics serves to Prometheus: appends, batches,
bytes, fsyncs and appends per fsync, commit latency percentiles, each partition's offsets
and size, each consumer group's lag, each work-queue group's pending and redelivering
messages, and what the cleaner (retention, compaction, rolls by age) has done.

Counters and latencies belong to a running process: with --url, stats reads them from the
metrics endpoint of one (mqlog serve --metrics-listen ADDR serves http://ADDR/metrics).
Without --url it reads the data directory itself, taking the writer's lock for a moment
(so not while another process writes), and shows the state of the data only.

--watch shows a new snapshot every --interval until interrupted, redrawing the screen on a
terminal. -o json prints one JSON document per snapshot (one a line with --watch).`,
		Example: `  mqlog stats
  mqlog serve --metrics-listen 127.0.0.1:9100 &  mqlog stats --url http://127.0.0.1:9100/metrics --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.interval <= 0 {
				return usagef("invalid --interval %s", o.interval)
			}
			return a.stats(cmd.Context(), o)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.url, "url", "", "read the metrics of a running process from its metrics endpoint (http://host:port/metrics)")
	flags.BoolVarP(&o.watch, "watch", "w", false, "show a new snapshot every --interval until interrupted")
	flags.DurationVar(&o.interval, "interval", 2*time.Second, "time between snapshots with --watch")
	return cmd
}

func (a *app) stats(ctx context.Context, o statsOptions) error {
	redraw := o.watch && stdoutIsTerminal(a.stdout) && !a.jsonOutput()
	for n := 0; ; n++ {
		doc, err := a.statsSnapshot(ctx, o.url)
		if err != nil {
			if o.watch && n > 0 && ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		switch {
		case a.jsonOutput() && o.watch:
			err = writeJSONLine(a.stdout, doc)
		case a.jsonOutput():
			err = writeJSONDocument(a.stdout, doc)
		default:
			if redraw {
				fmt.Fprint(a.stdout, "\x1b[H\x1b[2J") // home, clear
				fmt.Fprintf(a.stdout, "mqlog stats of %s at %s, every %s (Ctrl-C to stop)\n\n", doc.Source, doc.Time.Format(time.TimeOnly), o.interval)
			}
			err = a.printStats(doc, n == 0)
		}
		if err != nil || !o.watch {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
		if !redraw && !a.jsonOutput() {
			fmt.Fprintln(a.stdout)
		}
	}
}

// statsSnapshot gathers the metrics: from the endpoint at url, or from the data directory.
func (a *app) statsSnapshot(ctx context.Context, url string) (*statsDoc, error) {
	if url != "" {
		families, err := scrape(ctx, url)
		if err != nil {
			return nil, err
		}
		return newStatsDoc(url, families, true), nil
	}
	if err := a.checkDirExists(); err != nil {
		return nil, err
	}
	opts := a.dbOptions()
	opts.RetentionCheckInterval = -1
	db, err := a.openWriterWith(opts)
	var locked *lockedError
	if errors.As(err, &locked) {
		return nil, fmt.Errorf("%w; the metrics of the process holding it are at its metrics endpoint: mqlog stats --url http://ADDR/metrics (mqlog serve --metrics-listen ADDR)", err)
	}
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prommetrics.NewCollector(db))
	families, err := reg.Gather()
	err = errors.Join(err, db.Close())
	if err != nil {
		return nil, err
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return newStatsDoc(a.dir, byName, false), nil
}

// scrape reads the metrics in Prometheus's text format from url.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("invalid --url %q: %v", url, err)
	}
	req.Header.Set("Accept", string(expfmt.FmtText))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read metrics from %s: %s", url, resp.Status)
	}
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read metrics from %s: %w", url, err)
	}
	return families, nil
}

// statsDoc is stats' JSON document, and what its tables show.
type statsDoc struct {
	Version int       `json:"version"`
	Source  string    `json:"source"` // the data directory or the URL
	Time    time.Time `json:"time"`
	// Writes, Latency, Queue and Cleaner are a running process's counters: null when read from the
	// directory, where they would be this command's own.
	Writes     *statsWrites     `json:"writes"`
	Latency    *statsLatency    `json:"commit_latency"`
	Queue      *statsQueue      `json:"queue"`
	Cleaner    *statsCleaner    `json:"cleaner"`
	Partitions []statsPartition `json:"partitions"`
	Groups     []statsGroup     `json:"groups"`
	Queues     []statsQueueItem `json:"queues"`
}

type statsWrites struct {
	Appends        int64   `json:"appends"`
	Batches        int64   `json:"batches"`
	Records        int64   `json:"records"`
	Bytes          int64   `json:"bytes"`
	Fsyncs         int64   `json:"fsyncs"`
	AppendsPerSync float64 `json:"appends_per_fsync"`
	Rolls          int64   `json:"segment_rolls"`
}

// statsLatency is in microseconds.
type statsLatency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

type statsQueue struct {
	Deliveries   int64 `json:"deliveries"`
	Redeliveries int64 `json:"redeliveries"`
	DeadLettered int64 `json:"dead_lettered"`
}

type statsCleaner struct {
	Runs            int64 `json:"runs"`
	AgeRolls        int64 `json:"age_rolls"`
	SegmentsDeleted int64 `json:"segments_deleted"`
	BytesRead       int64 `json:"compaction_bytes_read"`
	BytesReclaimed  int64 `json:"bytes_reclaimed"`
	Running         bool  `json:"running"`
	RunBytesRead    int64 `json:"run_bytes_read"`
	RunBytesTotal   int64 `json:"run_bytes_total"`
}

type statsPartition struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	StartOffset  int64  `json:"start_offset"`
	LogEndOffset int64  `json:"log_end_offset"`
	Segments     int64  `json:"segments"`
	Bytes        int64  `json:"bytes"`
}

type statsGroup struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Lag       int64  `json:"lag"`
}

type statsQueueItem struct {
	Group        string `json:"group"`
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	AckFloor     int64  `json:"ack_floor"`
	Pending      int64  `json:"pending"`
	Redelivering int64  `json:"redelivering"`
}

// newStatsDoc reads the metric families of prommetrics into a statsDoc; counters only when withCounters.
func newStatsDoc(source string, families map[string]*dto.MetricFamily, withCounters bool) *statsDoc {
	f := metricFamilies(families)
	doc := &statsDoc{Version: jsonVersion, Source: source, Time: time.Now().UTC(),
		Partitions: []statsPartition{}, Groups: []statsGroup{}, Queues: []statsQueueItem{}}
	if withCounters {
		doc.Writes = &statsWrites{Appends: f.int("appends_total"), Batches: f.int("batches_written_total"), Records: f.int("records_written_total"),
			Bytes: f.int("bytes_written_total"), Fsyncs: f.int("fsyncs_total"), AppendsPerSync: f.value("appends_per_fsync"), Rolls: f.int("segment_rolls_total")}
		if s := f.summary("commit_latency_seconds"); s != nil {
			q := func(quantile float64) float64 {
				for _, v := range s.GetQuantile() {
					if v.GetQuantile() == quantile {
						return v.GetValue() * 1e6
					}
				}
				return 0
			}
			doc.Latency = &statsLatency{Count: int64(s.GetSampleCount()), P50: q(0.5), P90: q(0.9), P99: q(0.99), P999: q(0.999), Max: q(1)}
		}
		doc.Queue = &statsQueue{Deliveries: f.int("queue_deliveries_total"), Redeliveries: f.int("queue_redeliveries_total"), DeadLettered: f.int("queue_dead_lettered_total")}
		doc.Cleaner = &statsCleaner{Runs: f.int("cleaner_runs_total"), AgeRolls: f.int("cleaner_age_rolls_total"), SegmentsDeleted: f.int("cleaner_segments_deleted_total"),
			BytesRead: f.int("compaction_bytes_read_total"), BytesReclaimed: f.int("cleaner_bytes_reclaimed_total"), Running: f.value("cleaner_running") > 0,
			RunBytesRead: f.int("cleaner_run_bytes_read"), RunBytesTotal: f.int("cleaner_run_bytes")}
	}
	starts, segments, bytes := f.byKey("partition_start_offset"), f.byKey("partition_segments"), f.byKey("partition_bytes")
	for _, m := range f.samples("partition_high_watermark") {
		k := m.key()
		doc.Partitions = append(doc.Partitions, statsPartition{Topic: m.label("topic"), Partition: m.partition(), LogEndOffset: int64(m.value),
			StartOffset: starts[k], Segments: segments[k], Bytes: bytes[k]})
	}
	offsets := f.byKey("consumer_group_offset")
	for _, m := range f.samples("consumer_group_lag") {
		doc.Groups = append(doc.Groups, statsGroup{Group: m.label("group"), Topic: m.label("topic"), Partition: m.partition(),
			Lag: int64(m.value), Offset: offsets[m.key()]})
	}
	floors, redelivering := f.byKey("queue_ack_floor"), f.byKey("queue_redelivering")
	for _, m := range f.samples("queue_pending") {
		k := m.key()
		doc.Queues = append(doc.Queues, statsQueueItem{Group: m.label("group"), Topic: m.label("topic"), Partition: m.partition(),
			Pending: int64(m.value), AckFloor: floors[k], Redelivering: redelivering[k]})
	}
	sort.Slice(doc.Partitions, func(i, j int) bool {
		a, b := doc.Partitions[i], doc.Partitions[j]
		return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
	})
	sort.Slice(doc.Groups, func(i, j int) bool {
		a, b := doc.Groups[i], doc.Groups[j]
		return a.Group < b.Group || (a.Group == b.Group && (a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)))
	})
	sort.Slice(doc.Queues, func(i, j int) bool {
		a, b := doc.Queues[i], doc.Queues[j]
		return a.Group < b.Group || (a.Group == b.Group && (a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)))
	})
	return doc
}

// printStats prints doc as tables, a blank line between them, and, when notes is set, what it leaves out
// on stderr.
func (a *app) printStats(doc *statsDoc, notes bool) error {
	w := a.stdout
	first := true
	section := func(header ...string) *table {
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		return newTable(w, header...)
	}
	if s := doc.Writes; s != nil {
		t := section("APPENDS", "BATCHES", "RECORDS", "BYTES", "FSYNCS", "APPENDS/FSYNC", "ROLLS")
		t.row(s.Appends, s.Batches, s.Records, s.Bytes, s.Fsyncs, fmt.Sprintf("%.1f", s.AppendsPerSync), s.Rolls)
		if err := t.flush(); err != nil {
			return err
		}
	}
	if l := doc.Latency; l != nil {
		t := section("COMMITS", "P50", "P90", "P99", "P99.9", "MAX")
		us := func(v float64) string { return (time.Duration(v) * time.Microsecond).String() }
		t.row(l.Count, us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max))
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(doc.Partitions) > 0 {
		t := section("TOPIC", "PARTITION", "START-OFFSET", "LOG-END-OFFSET", "SEGMENTS", "BYTES")
		for _, p := range doc.Partitions {
			t.row(p.Topic, p.Partition, p.StartOffset, p.LogEndOffset, p.Segments, p.Bytes)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(doc.Groups) > 0 {
		// Lag per group and topic, as a dashboard shows it; -o json has every partition.
		type key struct{ group, topic string }
		lag, partitions := map[key]int64{}, map[key]int{}
		var keys []key
		for _, g := range doc.Groups {
			k := key{g.Group, g.Topic}
			if _, ok := partitions[k]; !ok {
				keys = append(keys, k)
			}
			lag[k] += g.Lag
			partitions[k]++
		}
		t := section("GROUP", "TOPIC", "PARTITIONS", "LAG")
		for _, k := range keys {
			t.row(k.group, k.topic, partitions[k], lag[k])
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(doc.Queues) > 0 {
		t := section("QUEUE GROUP", "TOPIC", "PARTITION", "ACK FLOOR", "PENDING", "REDELIVERING")
		for _, q := range doc.Queues {
			t.row(q.Group, q.Topic, q.Partition, q.AckFloor, q.Pending, q.Redelivering)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if q := doc.Queue; q != nil {
		t := section("QUEUE DELIVERIES", "REDELIVERIES", "DEAD-LETTERED")
		t.row(q.Deliveries, q.Redeliveries, q.DeadLettered)
		if err := t.flush(); err != nil {
			return err
		}
	}
	if c := doc.Cleaner; c != nil {
		t := section("CLEANER RUNS", "AGE ROLLS", "SEGMENTS DELETED", "COMPACTION BYTES READ", "BYTES RECLAIMED", "RUN")
		run := "idle"
		if c.Running {
			run = fmt.Sprintf("running: %d of %d bytes", c.RunBytesRead, c.RunBytesTotal)
		}
		t.row(c.Runs, c.AgeRolls, c.SegmentsDeleted, c.BytesRead, c.BytesReclaimed, run)
		if err := t.flush(); err != nil {
			return err
		}
	}
	if notes && doc.Writes == nil {
		fmt.Fprintln(a.stderr, "note: counters and latencies (appends, fsyncs, commit latency, the cleaner) are a running process's: mqlog stats --url http://ADDR/metrics of mqlog serve --metrics-listen ADDR")
	}
	if notes && len(doc.Partitions) == 0 {
		fmt.Fprintf(a.stderr, "no topics in %s\n", doc.Source)
	}
	return nil
}

// metricFamilies looks up prommetrics' families by their names without the namespace.
type metricFamilies map[string]*dto.MetricFamily

// sample is one metric of a family: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

func (s sample) label(name string) string { return s.labels[name] }

func (s sample) partition() int32 {
	p, _ := strconv.ParseInt(s.labels["partition"], 10, 32)
	return int32(p)
}

// key identifies a sample by the values of its labels, in prommetrics' order (group, topic, partition).
func (s sample) key() string {
	return s.labels["group"] + "\x00" + s.labels["topic"] + "\x00" + s.labels["partition"]
}

func (f metricFamilies) family(name string) *dto.MetricFamily {
	return f[prommetrics.Namespace+"_"+name]
}

// samples returns the family's metrics.
func (f metricFamilies) samples(name string) []sample {
	fam := f.family(name)
	if fam == nil {
		return nil
	}
	var out []sample
	for _, m := range fam.GetMetric() {
		s := sample{labels: map[string]string{}}
		for _, l := range m.GetLabel() {
			s.labels[l.GetName()] = l.GetValue()
		}
		switch {
		case m.Counter != nil:
			s.value = m.GetCounter().GetValue()
		case m.Gauge != nil:
			s.value = m.GetGauge().GetValue()
		case m.Untyped != nil:
			s.value = m.GetUntyped().GetValue()
		}
		out = append(out, s)
	}
	return out
}

// value returns the value of the family's one metric without labels (0 when it is missing).
func (f metricFamilies) value(name string) float64 {
	if s := f.samples(name); len(s) > 0 {
		return s[0].value
	}
	return 0
}

func (f metricFamilies) int(name string) int64 { return int64(f.value(name)) }

// byKey returns the family's values by sample key.
func (f metricFamilies) byKey(name string) map[string]int64 {
	out := map[string]int64{}
	for _, s := range f.samples(name) {
		out[s.key()] = int64(s.value)
	}
	return out
}

// summary returns the family's first summary, or nil.
func (f metricFamilies) summary(name string) *dto.Summary {
	fam := f.family(name)
	if fam == nil || len(fam.GetMetric()) == 0 {
		return nil
	}
	return fam.GetMetric()[0].GetSummary()
}
