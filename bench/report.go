package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of the Report JSON document.
const ReportVersion = 1

// Report is the result of Run: the machine, the config and one Result per case and system.
type Report struct {
	Version int       `json:"version"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"` // wall time of the whole run
	// LoadAvgStart and LoadAvgEnd are /proc/loadavg's three averages when the run started and ended: on a
	// shared machine, what else was running.
	LoadAvgStart string        `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string        `json:"loadavg_end,omitempty"`
	Machine      Machine       `json:"machine"`
	Config       ConfigSummary `json:"config"`
	Results      []Result      `json:"results"`
}

// ConfigSummary is the part of a Config that says what was run.
type ConfigSummary struct {
	Preset          string   `json:"preset"`
	BaseDir         string   `json:"base_dir"`
	Rounds          int      `json:"rounds"`
	Sizes           []int    `json:"sizes"`
	Batches         []int    `json:"batches"`
	Producers       int      `json:"producers"`
	MaxMessages     int64    `json:"max_messages_per_run"`
	MaxSeconds      float64  `json:"max_seconds_per_run"`
	ConsumeSize     int      `json:"consume_size"`
	ConsumeMessages int64    `json:"consume_messages"`
	ConsumeCold     bool     `json:"consume_cold"`
	SyncPolicies    []string `json:"sync_policies,omitempty"`
	InFlight        int      `json:"in_flight,omitempty"`
	EndToEnd        bool     `json:"end_to_end"`
	Committers      []int    `json:"committers,omitempty"`
	Workloads       []string `json:"workloads,omitempty"`
	ChildProcesses  bool     `json:"child_processes"` // one process per run, peak RSS measured
}

func summarize(c Config) ConfigSummary {
	var policies []string
	for _, p := range c.SyncPolicies {
		policies = append(policies, p.String())
	}
	return ConfigSummary{
		Preset: c.Preset, BaseDir: c.BaseDir, Rounds: c.Rounds, Sizes: c.Sizes, Batches: c.Batches,
		Producers: c.Producers, MaxMessages: c.Limits.Messages, MaxSeconds: c.Limits.Duration.Seconds(),
		ConsumeSize: c.ConsumeSize, ConsumeMessages: c.ConsumeMessages, ConsumeCold: c.ConsumeCold,
		SyncPolicies: policies, InFlight: c.InFlight, EndToEnd: c.EndToEnd, Committers: c.Committers, Workloads: c.Workloads,
		ChildProcesses: c.Child != nil,
	}
}

// Result is one case on one system: medians over the rounds.
type Result struct {
	Workload  string `json:"workload"`
	System    System `json:"system"`
	Size      int    `json:"size"`            // payload bytes per message
	Batch     int    `json:"batch,omitempty"` // messages per Append call or raw batch
	Producers int    `json:"producers"`
	Sync      string `json:"sync,omitempty"` // mqlog's policy, or "fdatasync" for the baselines
	// InFlight is the most batches the row's producer kept queued with DB.AppendAsync; 0 for one at a
	// time (DB.Append, the baselines).
	InFlight int   `json:"in_flight,omitempty"`
	Rounds   int   `json:"rounds"`
	Messages int64 `json:"messages"` // per run (median)

	MsgsPerSec      float64   `json:"msgs_per_sec"`
	MBPerSec        float64   `json:"mb_per_sec"` // payload, 10^6 bytes
	RoundMsgsPerSec []float64 `json:"round_msgs_per_sec"`
	MsgsPerSync     float64   `json:"msgs_per_sync,omitempty"`
	Latency         *Latency  `json:"latency,omitempty"` // of one Append call or raw batch, rounds merged

	// Ratios of msgs/s, mqlog over the baseline, taken within each round and then the median. Absent on
	// the baselines' own rows.
	RatioRaw         *float64 `json:"ratio_raw,omitempty"`
	RatioPrealloc    *float64 `json:"ratio_prealloc,omitempty"`
	RatioOneProducer *float64 `json:"ratio_one_producer,omitempty"` // concurrent producers (committers) over one
	// RatioIdeal is concurrent producers' group commit over its ideal: one producer writing batches of as
	// many messages as there are producers (raw-prealloc at batch N, the row after), in the same round.
	RatioIdeal *float64 `json:"ratio_ideal,omitempty"`

	// Consume: bytes on disk per payload byte once the log is written: allocated blocks, and file sizes.
	DiskPerPayload      float64 `json:"disk_bytes_per_payload_byte,omitempty"`
	FileBytesPerPayload float64 `json:"file_bytes_per_payload_byte,omitempty"`
	PeakRSSMiB          float64 `json:"peak_rss_mib,omitempty"` // of the run's child process (median)
	Note                string  `json:"note,omitempty"`         // why there are no figures, when there are none
}

// WriteJSON writes r as an indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// header is the line that says where, how and under what load the report was measured.
func (r *Report) header() string {
	m := r.Machine
	load := ""
	if r.LoadAvgStart != "" {
		load = fmt.Sprintf(", load %s to %s", r.LoadAvgStart, OrDash(r.LoadAvgEnd))
	}
	return fmt.Sprintf("mqlog bench (%s, %d rounds): %s/%s, %d CPUs, %s, dir %s (%s)%s, %.1fs",
		r.Config.Preset, r.Config.Rounds, m.GOOS, m.GOARCH, m.CPUs, m.GoVersion, r.Config.BaseDir, OrDash(m.Filesystem), load, r.Seconds)
}

// WriteTable writes r as a text table under 100 columns, one row per Result, under a line on the machine:
// throughput, p50 and p99 and the ratios; WriteWideTable has every figure.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprint(w, Wrap(r.header(), 99))
	// One space between columns: at two, the widest figures a loaded machine gives (7-digit msgs/s, p99 in
	// tens of milliseconds, a mqlog interval row) pass 100 columns.
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tsize\tbatch\tprod\tsystem\tmsgs/s\tp50 µs\tp99 µs\tvs raw\tvs pre\t  note")
	var notes []string
	for _, res := range r.Results {
		p50, p99 := "-", "-"
		if l := res.Latency; l != nil {
			p50, p99 = FormatMicros(l.P50), FormatMicros(l.P99)
		}
		note := ""
		switch {
		case res.RatioOneProducer != nil:
			note = fmt.Sprintf("×%.1f", *res.RatioOneProducer)
			if *res.RatioOneProducer >= 10 {
				note = fmt.Sprintf("×%.0f", *res.RatioOneProducer) // (the table stays within 100 columns)
			}
			if res.RatioIdeal != nil {
				note += fmt.Sprintf(" %.2f", *res.RatioIdeal)
			}
		case res.Note != "":
			notes = append(notes, fmt.Sprintf("[%d] %s %s: %s", len(notes)+1, res.Workload, res.System, res.Note))
			note = fmt.Sprintf("[%d]", len(notes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t  %s\n",
			res.Workload, FormatSize(res.Size), batchOrDash(res.Batch), res.Producers, systemAndSync(res),
			res.MsgsPerSec, p50, p99, FormatRatio(res.RatioRaw), FormatRatio(res.RatioPrealloc), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	notes = append(notes, "vs raw, vs pre: mqlog msgs/s over the raw baseline's (pre: preallocated) in the "+
		"same round, median of rounds (1.00 = as fast). mqlog: SyncAlways unless named. mqlog async N: one "+
		"producer pipelining with DB.AppendAsync, at most N batches in flight (a Kafka producer's "+
		"max.in.flight), each counted once durable; raw and the other rows keep 1 in flight. ×N: msgs/s over one "+
		"producer (committer) in the same round, then over the ideal of N producers' group commit: one producer "+
		"writing batches of N (the raw-prealloc row of batch N). end-to-end: latency from Append to Consumer.Next; commit: msgs/s are commits/s, prod are "+
		"committers. Every figure (MB/s, p99.9, max, msgs/fsync, disk/B, peak RSS): the wide table, "+
		"`--out DIR`.")
	for _, n := range notes {
		fmt.Fprint(w, Wrap(n, 99))
	}
	return nil
}

// systemAndSync names a row's system, with mqlog's sync policy when it is not SyncAlways ("mqlog never").
func systemAndSync(res Result) string {
	if res.InFlight > 1 {
		return fmt.Sprintf("%s async %d", res.System, res.InFlight) // "mqlog async 2"
	}
	if res.System == SystemMQLog && res.Sync != "" && res.Sync != "always" && res.Sync != "pebble sync" {
		return string(res.System) + " " + res.Sync
	}
	return string(res.System)
}

func batchOrDash(b int) string {
	if b <= 0 {
		return "-"
	}
	return strconv.Itoa(b)
}

// FormatSize formats a message size for a table: "100 B", "1 KiB", "-" for none.
func FormatSize(n int) string {
	switch {
	case n <= 0:
		return "-"
	case n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// WriteWideTable writes r as the whole text table, every figure of every Result (about 190 columns: for
// a file), under a line on the machine.
func (r *Report) WriteWideTable(w io.Writer) error {
	fmt.Fprintln(w, r.header())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tsystem\tsize\tbatch\tproducers\tsync\tmsgs/s\tMB/s\tp50 µs\tp99 µs\tp99.9 µs\tmax µs\tvs raw\tvs prealloc\tmsgs/fsync\tdisk/B\tRSS MiB\tnote\t")
	for _, res := range r.Results {
		p50, p99, p999, pmax := "-", "-", "-", "-"
		if l := res.Latency; l != nil {
			p50, p99, p999, pmax = FormatMicros(l.P50), FormatMicros(l.P99), FormatMicros(l.P999), FormatMicros(l.Max)
		}
		note := res.Note
		if res.RatioOneProducer != nil {
			note = fmt.Sprintf("x%.2f vs 1 producer", *res.RatioOneProducer)
			if res.RatioIdeal != nil {
				note += fmt.Sprintf(", %.2f of the ideal (batch %d)", *res.RatioIdeal, res.Producers)
			}
		}
		disk, rss := "-", "-"
		if res.DiskPerPayload > 0 {
			disk = strconv.FormatFloat(res.DiskPerPayload, 'f', 2, 64)
		}
		if res.PeakRSSMiB > 0 {
			rss = strconv.FormatFloat(res.PeakRSSMiB, 'f', 0, 64)
		}
		perSync := "-"
		if res.MsgsPerSync > 0 {
			perSync = strconv.FormatFloat(res.MsgsPerSync, 'f', 1, 64)
		}
		batch := "-"
		if res.Batch > 0 {
			batch = strconv.Itoa(res.Batch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			res.Workload, wideSystem(res), res.Size, batch, res.Producers, OrDash(res.Sync),
			res.MsgsPerSec, res.MBPerSec, p50, p99, p999, pmax,
			FormatRatio(res.RatioRaw), FormatRatio(res.RatioPrealloc), perSync, disk, rss, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "vs raw, vs prealloc: mqlog msgs/s over the baseline's in the same round, median of rounds (1.00 = as fast). "+
		"end-to-end: latency from Append to Consumer.Next; commit: msgs/s are commits/s, producers are committers. "+
		"disk/B: bytes allocated on disk per payload byte; RSS: peak resident set of the run's own process.")
	return err
}

// FormatMicros formats a latency in microseconds for a table: one decimal below 10 µs, none above.
func FormatMicros(us float64) string {
	if us < 10 {
		return strconv.FormatFloat(us, 'f', 1, 64)
	}
	return strconv.FormatFloat(us, 'f', 0, 64)
}

// FormatRatio formats a ratio with two decimals, or "-" when there is none.
func FormatRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return strconv.FormatFloat(*r, 'f', 2, 64)
}

// OrDash returns s, or "-" when it is empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// wideSystem names a row's system in the wide table, which has a column of its own for the sync policy.
func wideSystem(res Result) string {
	if res.InFlight > 1 {
		return fmt.Sprintf("%s async %d", res.System, res.InFlight)
	}
	return string(res.System)
}
