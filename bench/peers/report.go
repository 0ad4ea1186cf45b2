package peers

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog/bench"
)

// ReportVersion is the version of the Report JSON document.
const ReportVersion = 1

// Report is the result of Run: the machine, the config, the systems and one Result per case and system.
type Report struct {
	Version int           `json:"version"`
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"` // wall time of the whole run
	Command string        `json:"command,omitempty"`
	Machine bench.Machine `json:"machine"`
	Config  ConfigSummary `json:"config"`
	Systems []SystemInfo  `json:"systems"`
	Results []Result      `json:"results"`
}

// SystemInfo is what the report says of a system: its durability setting and how it batches.
type SystemInfo struct {
	Name       string `json:"name"`
	Durability string `json:"durability"`
	Batching   string `json:"batching"`
}

// ConfigSummary is the part of a Config that says what was run.
type ConfigSummary struct {
	Preset          string  `json:"preset"`
	BaseDir         string  `json:"base_dir"`
	Rounds          int     `json:"rounds"`
	Sizes           []int   `json:"sizes"`
	Batches         []int   `json:"batches"`
	Producers       int     `json:"producers"`
	MaxMessages     int64   `json:"max_messages_per_run"`
	MaxSeconds      float64 `json:"max_seconds_per_run"`
	ConsumeSize     int     `json:"consume_size"`
	ConsumeMessages int64   `json:"consume_messages"`
	ChildProcesses  bool    `json:"child_processes"` // one process per run, peak RSS measured
}

// Result is one case on one system: medians over the rounds.
type Result struct {
	Workload  string `json:"workload"`
	System    string `json:"system"`
	Size      int    `json:"size"`            // payload bytes per message
	Batch     int    `json:"batch,omitempty"` // messages per Append
	Producers int    `json:"producers"`
	Rounds    int    `json:"rounds"`
	Messages  int64  `json:"messages"` // per run (median)

	MsgsPerSec      float64   `json:"msgs_per_sec"`
	MBPerSec        float64   `json:"mb_per_sec"` // payload, 10^6 bytes
	RoundMsgsPerSec []float64 `json:"round_msgs_per_sec"`
	Latency         *Latency  `json:"latency,omitempty"` // of one Append, rounds merged

	// Ratios of msgs/s taken within each round, then the median over rounds.
	RatioRaw      *float64 `json:"ratio_raw,omitempty"`      // this system over the raw baseline
	RatioPrealloc *float64 `json:"ratio_prealloc,omitempty"` // this system over the preallocated baseline
	MQLogOver     *float64 `json:"mqlog_over,omitempty"`     // mqlog over this system (>1: mqlog faster)

	// Disk bytes per payload byte after loading the consume log: allocated blocks, and file sizes.
	DiskPerPayload      float64 `json:"disk_bytes_per_payload_byte,omitempty"`
	FileBytesPerPayload float64 `json:"file_bytes_per_payload_byte,omitempty"`
	// PeakRSSMiB is the median peak resident set of the run's own child process (VmHWM), when runs had
	// one: the Go runtime, the harness and the system's memory, servers and caches included.
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`

	hist *hdrhistogram.Histogram // rounds merged, for the charts; not in the JSON document
}

// Latency is bench.Latency: p50, p99, p99.9 and max of one operation, in microseconds.
type Latency = bench.Latency

func newReport(cfg Config, started time.Time) *Report {
	rep := &Report{
		Version: ReportVersion, Started: started.UTC(), Machine: bench.MachineInfo(cfg.BaseDir),
		Config: ConfigSummary{
			Preset: cfg.Preset, BaseDir: cfg.BaseDir, Rounds: cfg.Rounds, Sizes: cfg.Sizes, Batches: cfg.Batches,
			Producers: cfg.Producers, MaxMessages: cfg.Limits.Messages, MaxSeconds: cfg.Limits.Duration.Seconds(),
			ConsumeSize: cfg.ConsumeSize, ConsumeMessages: cfg.ConsumeMessages, ChildProcesses: cfg.Child != nil,
		},
	}
	for _, s := range cfg.Systems {
		rep.Systems = append(rep.Systems, SystemInfo{Name: s.Name, Durability: s.Durability, Batching: s.Batching})
	}
	return rep
}

// WriteJSON writes r as an indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// header is the one line that says where and how the report was measured.
func (r *Report) header() string {
	m := r.Machine
	return fmt.Sprintf("mqlog bench peers (%s, %d rounds): %s/%s, %d CPUs (%s), %s, dir %s (%s), %.0fs",
		r.Config.Preset, r.Config.Rounds, m.GOOS, m.GOARCH, m.CPUs, bench.OrDash(m.CPUModel), m.GoVersion,
		bench.OrDash(r.Config.BaseDir), bench.OrDash(m.Filesystem), r.Seconds)
}

// WriteTable writes r as a text table under 100 columns, one row per Result: throughput, p50 and p99, the
// ratio to raw and mqlog's over the system; WriteWideTable has every figure.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprint(w, bench.Wrap(r.header(), 99))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tsize\tbatch\tprod\tsystem\tmsgs/s\tp50 µs\tp99 µs\tvs raw\tmqlog ×\t")
	for _, res := range r.Results {
		p50, p99 := "-", "-"
		if l := res.Latency; l != nil {
			p50, p99 = bench.FormatMicros(l.P50), bench.FormatMicros(l.P99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t\n",
			res.Workload, bench.FormatSize(res.Size), batchOf(res), res.Producers, res.System, res.MsgsPerSec,
			p50, p99, bench.FormatRatio(res.RatioRaw), bench.FormatRatio(res.MQLogOver))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, bench.Wrap("vs raw: the system's msgs/s over the raw baseline's in the same round; "+
		"mqlog ×: mqlog's msgs/s over the system's in the same round (>1: mqlog faster); medians over rounds. "+
		"Every figure (MB/s, p99.9, max, vs prealloc, disk/B, peak RSS): peers.txt; ratios per system: "+
		"peers.md; charts: the SVG files.", 99))
	return err
}

// WriteWideTable writes r as the whole text table, every figure of every Result (about 150 columns: for
// peers.txt).
func (r *Report) WriteWideTable(w io.Writer) error {
	fmt.Fprintln(w, r.header())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tsystem\tsize\tbatch\tprod\tmsgs/s\tMB/s\tp50 µs\tp99 µs\tp99.9 µs\tmax µs\tvs raw\tvs prealloc\tmqlog ×\tdisk/B\tRSS MiB\t")
	for _, res := range r.Results {
		p50, p99, p999, pmax := "-", "-", "-", "-"
		if l := res.Latency; l != nil {
			p50, p99, p999, pmax = bench.FormatMicros(l.P50), bench.FormatMicros(l.P99), bench.FormatMicros(l.P999), bench.FormatMicros(l.Max)
		}
		disk, rss := "-", "-"
		if res.DiskPerPayload > 0 {
			disk = strconv.FormatFloat(res.DiskPerPayload, 'f', 2, 64)
		}
		if res.PeakRSSMiB > 0 {
			rss = strconv.FormatFloat(res.PeakRSSMiB, 'f', 0, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			res.Workload, res.System, res.Size, batchOf(res), res.Producers, res.MsgsPerSec, res.MBPerSec,
			p50, p99, p999, pmax, bench.FormatRatio(res.RatioRaw), bench.FormatRatio(res.RatioPrealloc), bench.FormatRatio(res.MQLogOver), disk, rss)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "vs raw, vs prealloc: the system's msgs/s over the baseline's in the same round; "+
		"mqlog ×: mqlog's msgs/s over the system's in the same round (>1: mqlog faster); medians over rounds. "+
		"disk/B: bytes allocated on disk per payload byte after loading the consume log. "+
		"RSS: peak resident set of the run's own process (VmHWM), median of rounds.")
	return err
}

// WriteMarkdown writes the ratio table of r, one row per case and one column per system: each system's
// msgs/s over the raw baseline's in the same round (median over rounds), with mqlog's own msgs/s.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var names []string
	for _, s := range r.Systems {
		if s.Name != NameRaw {
			names = append(names, s.Name)
		}
	}
	fmt.Fprintf(w, "| workload | size | batch | producers | mqlog msgs/s | %s | mqlog over its closest peer |\n", strings.Join(names, " | "))
	fmt.Fprintf(w, "|---|---|---|---|---|%s---|\n", strings.Repeat("---|", len(names)))
	type key struct {
		workload         string
		size, batch, prs int
	}
	rows := map[key]map[string]Result{}
	var order []key
	for _, res := range r.Results {
		k := key{res.Workload, res.Size, res.Batch, res.Producers}
		if rows[k] == nil {
			rows[k] = map[string]Result{}
			order = append(order, k)
		}
		rows[k][res.System] = res
	}
	for _, k := range order {
		row := rows[k]
		cells := make([]string, len(names))
		for i, n := range names {
			cells[i] = bench.FormatRatio(row[n].RatioRaw)
		}
		batch := "–"
		if k.batch > 0 {
			batch = strconv.Itoa(k.batch)
		}
		fmt.Fprintf(w, "| %s | %d B | %s | %d | %s | %s | %s |\n", k.workload, k.size, batch, k.prs,
			thousands(row[NameMQLog].MsgsPerSec), strings.Join(cells, " | "), closestPeer(row))
	}
	return nil
}

// closestPeer names the peer (not a baseline) mqlog is slowest against in a row, with mqlog's in-round
// ratio over it: "1.07 (pebble)"; below 1 the peer was faster.
func closestPeer(row map[string]Result) string {
	best, name := 0.0, ""
	for n, res := range row {
		if n == NameMQLog || n == NameRaw || n == NameRawPrealloc || res.MQLogOver == nil {
			continue
		}
		if name == "" || *res.MQLogOver < best || (*res.MQLogOver == best && n < name) {
			best, name = *res.MQLogOver, n
		}
	}
	if name == "" {
		return "-"
	}
	return fmt.Sprintf("%.2f (%s)", best, name)
}

// ReadReport reads a report written by WriteJSON (without the latency histograms the charts need).
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("mqlog/bench/peers: reading a report: %w", err)
	}
	if rep.Version != ReportVersion {
		return nil, fmt.Errorf("mqlog/bench/peers: report version %d, want %d", rep.Version, ReportVersion)
	}
	return &rep, nil
}

func batchOf(res Result) string {
	if res.Batch > 0 {
		return strconv.Itoa(res.Batch)
	}
	return "-"
}

func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
