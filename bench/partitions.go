package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mqlog/mqlog"
)

// Child-process workloads of the partitions run (RunPartitions): create a topic of Spec.Partitions
// partitions in Spec.BaseDir itself, then close; or open that directory again and measure what the open DB
// holds.
const (
	workloadPartitionsCreate = "partitions-create"
	workloadPartitionsOpen   = "partitions-open"
)

// WorkloadPartitions names the partitions run in Config.Workloads and on the command line.
const WorkloadPartitions = "partitions"

// DefaultPartitionCounts are the partition counts of the partitions run.
var DefaultPartitionCounts = []int{1, 100, 1000, 10000}

// DefaultDiskBudget is the most the partitions run lets one topic take from the free space of its
// filesystem (and never more than half of it): today's mqlog preallocates a whole segment per partition,
// and filling a shared disk to ENOSPC would fail everybody else's writes too.
const DefaultDiskBudget = 16 << 30

// PartitionsConfig is the partitions run: for each count, a topic of that many partitions is created in a
// fresh data directory (timed), the DB is closed (timed) and opened again (timed), and what the open DB
// holds is measured: resident memory, open file descriptors, goroutines and disk space reserved. Then one
// partition is appended to (batches of one 100-byte message, SyncAlways) among the idle others.
type PartitionsConfig struct {
	BaseDir string
	Counts  []int
	// SegmentBytes of the topic; 0 is mqlog's default (64 MiB).
	SegmentBytes int64
	// DiskBudget bounds the free space one topic may take: creation stops, with an error, once the
	// filesystem's free space falls below what it was less DiskBudget. 0 is DefaultDiskBudget or half of
	// the free space, whichever is less. A filesystem with less free space gives a real ENOSPC instead.
	DiskBudget int64
	// HotAppend is how long the hot partition is appended to after the open; 0 skips it.
	HotAppend time.Duration
	// Child makes the command that runs ServeChild: the create and the open each in a process of their
	// own, so that the memory, descriptors and goroutines measured are the open DB's. Nil runs both in
	// this process (the memory figures then include the creation's).
	Child func(ctx context.Context) *exec.Cmd
	// Progress, when set, gets a live line as each count is created and opened.
	Progress io.Writer
}

// PartitionsResult is one partition count.
type PartitionsResult struct {
	Partitions int `json:"partitions"` // asked for
	// Created is the number of partition directories that existed when creation returned: Partitions when
	// it succeeded, how far it got when it failed.
	Created     int    `json:"created"`
	CreateError string `json:"create_error,omitempty"`
	OpenError   string `json:"open_error,omitempty"`

	CreateMS float64 `json:"create_ms"`          // DB.CreateTopic
	CloseMS  float64 `json:"close_ms,omitempty"` // DB.Close after the creation
	OpenMS   float64 `json:"open_ms,omitempty"`  // mqlog.Open of the closed directory (files cached)

	// Disk space: allocated blocks (st_blocks × 512, what du counts) of the data directory, and the most
	// the filesystem's free space fell during the creation (preallocations released by a failed creation
	// included).
	ReservedCreatedBytes int64 `json:"reserved_created_bytes"` // after CreateTopic, DB open
	ReservedClosedBytes  int64 `json:"reserved_closed_bytes"`  // after DB.Close
	ReservedOpenBytes    int64 `json:"reserved_open_bytes"`    // after mqlog.Open again
	PeakFreeDropBytes    int64 `json:"peak_free_drop_bytes"`   // statfs free space, start minus lowest seen

	// What the opened DB holds: the process before mqlog.Open and after (VmRSS; the Go heap's live bytes
	// after a GC; entries of /proc/self/fd; runtime.NumGoroutine).
	RSSBeforeBytes   int64 `json:"rss_before_bytes"`
	RSSAfterBytes    int64 `json:"rss_after_bytes"`
	HeapBeforeBytes  int64 `json:"heap_before_bytes"`
	HeapAfterBytes   int64 `json:"heap_after_bytes"`
	FDsBefore        int   `json:"fds_before"`
	FDsAfter         int   `json:"fds_after"`
	GoroutinesBefore int   `json:"goroutines_before"`
	GoroutinesAfter  int   `json:"goroutines_after"`

	// One partition appended to among the others: batches of one 100-byte message, SyncAlways.
	HotAppendMsgsPerSec float64  `json:"hot_append_msgs_per_sec,omitempty"`
	HotAppendLatency    *Latency `json:"hot_append_latency,omitempty"`

	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"` // VmHWM of the open's child process
}

// PartitionsReport is the result of RunPartitions.
type PartitionsReport struct {
	Version    int                `json:"version"`
	Started    time.Time          `json:"started"`
	Seconds    float64            `json:"seconds"`
	Machine    Machine            `json:"machine"`
	BaseDir    string             `json:"base_dir"`
	DiskBudget int64              `json:"disk_budget_bytes"` // as configured; 0 is the default
	Segment    int64              `json:"segment_bytes"`
	Children   bool               `json:"child_processes"`
	LoadAvg    string             `json:"loadavg,omitempty"` // /proc/loadavg at the start
	Results    []PartitionsResult `json:"results"`
}

// partitionsMeasurement is what a partitions child reports (Measurement.Partitions).
type partitionsMeasurement = PartitionsResult

// RunPartitions runs cfg. A count that cannot be created (ENOSPC, the disk budget) is reported with how
// far it got and the error, and its directory is removed like every other; RunPartitions itself fails
// only when it cannot run at all.
func RunPartitions(ctx context.Context, cfg PartitionsConfig) (*PartitionsReport, error) {
	if len(cfg.Counts) == 0 {
		return nil, errors.New("mqlog/bench: the partitions run needs partition counts")
	}
	for _, n := range cfg.Counts {
		if n <= 0 || n > 1<<20 {
			return nil, fmt.Errorf("mqlog/bench: partition count %d out of range 1..%d", n, 1<<20)
		}
	}
	base := cfg.BaseDir
	if base == "" {
		base = os.TempDir()
	}
	started := time.Now()
	rep := &PartitionsReport{Version: ReportVersion, Started: started.UTC(), Machine: machineInfo(base), BaseDir: base,
		DiskBudget: cfg.DiskBudget, Segment: cfg.SegmentBytes, Children: cfg.Child != nil, LoadAvg: LoadAvg()}
	if rep.Segment == 0 {
		rep.Segment = mqlog.DefaultSegmentBytes
	}
	prog := NewProgress(cfg.Progress, 2*len(cfg.Counts))
	defer prog.Done()
	for _, n := range cfg.Counts {
		res, err := partitionsRun(ctx, cfg, base, n, prog)
		if err != nil {
			return nil, fmt.Errorf("mqlog/bench: %d partitions: %w", n, err)
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

// partitionsRun measures one count in a fresh directory, removed at the end whatever happened.
func partitionsRun(ctx context.Context, cfg PartitionsConfig, base string, n int, prog *Progress) (PartitionsResult, error) {
	dir, cleanup, err := tempDir(base)
	if err != nil {
		return PartitionsResult{}, err
	}
	defer cleanup()
	free, err := freeSpace(base)
	if err != nil {
		return PartitionsResult{}, err
	}
	budget := cfg.DiskBudget
	if budget <= 0 {
		budget = min(DefaultDiskBudget, free/2)
	}
	spec := Spec{Workload: workloadPartitionsCreate, BaseDir: dir, Partitions: n, SegmentBytes: cfg.SegmentBytes,
		DiskFloor: free - budget, Limits: Limits{Duration: cfg.HotAppend}}
	run := func(s Spec) (Measurement, error) {
		if cfg.Child != nil {
			return runChild(ctx, cfg.Child, s)
		}
		return s.Run(ctx)
	}
	prog.Start(fmt.Sprintf("partitions: creating %d", n))
	m, err := run(spec)
	if ctx.Err() != nil {
		return PartitionsResult{}, ctx.Err()
	}
	if err != nil || m.Partitions == nil {
		// The child could not even report (it failed to open the DB, or died): a result all the same,
		// with how far the directory got.
		res := PartitionsResult{Partitions: n, CreateError: fmt.Sprint("creating: ", err)}
		res.Created, _ = countPartitionDirs(dir)
		return res, nil
	}
	res := *m.Partitions
	if res.CreateError != "" {
		prog.Start(fmt.Sprintf("partitions: %d not created, no open", n))
		return res, nil
	}
	prog.Start(fmt.Sprintf("partitions: opening %d", n))
	spec.Workload = workloadPartitionsOpen
	m, err = run(spec)
	if ctx.Err() != nil {
		return PartitionsResult{}, ctx.Err()
	}
	if err != nil || m.Partitions == nil {
		res.OpenError = fmt.Sprint("opening: ", err)
		return res, nil
	}
	o := m.Partitions
	res.OpenError, res.OpenMS, res.ReservedOpenBytes = o.OpenError, o.OpenMS, o.ReservedOpenBytes
	res.RSSBeforeBytes, res.RSSAfterBytes, res.HeapBeforeBytes, res.HeapAfterBytes = o.RSSBeforeBytes, o.RSSAfterBytes, o.HeapBeforeBytes, o.HeapAfterBytes
	res.FDsBefore, res.FDsAfter, res.GoroutinesBefore, res.GoroutinesAfter = o.FDsBefore, o.FDsAfter, o.GoroutinesBefore, o.GoroutinesAfter
	res.HotAppendMsgsPerSec, res.HotAppendLatency = o.HotAppendMsgsPerSec, o.HotAppendLatency
	res.PeakRSSBytes = m.PeakRSS
	return res, nil
}

// partitionsCreate is the child's side of the creation: create the topic in s.BaseDir, count how far it
// got, close. Failures of the creation are results, not errors.
func partitionsCreate(s Spec) (res PartitionsResult, err error) {
	res.Partitions = s.Partitions
	fs := newBudgetFS(s.BaseDir, s.DiskFloor)
	db, err := mqlog.Open(s.BaseDir, &mqlog.Options{FS: fs})
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	cerr := db.CreateTopic(Topic, mqlog.TopicConfig{Partitions: s.Partitions, SegmentBytes: s.SegmentBytes})
	res.CreateMS = msSince(t0)
	if cerr != nil {
		res.CreateError = cerr.Error()
	}
	res.Created, err = countPartitionDirs(s.BaseDir)
	if err != nil {
		return res, errors.Join(err, db.Close())
	}
	if res.ReservedCreatedBytes, _, err = DiskUsage(s.BaseDir); err != nil {
		return res, errors.Join(err, db.Close())
	}
	t0 = time.Now()
	if err := db.Close(); err != nil {
		if cerr == nil {
			return res, err
		}
		// The creation already failed (say ENOSPC): closing what it left may fail the same way.
		res.CreateError += "; close: " + err.Error()
	}
	res.CloseMS = msSince(t0)
	res.PeakFreeDropBytes = fs.peakDrop()
	if res.ReservedClosedBytes, _, err = DiskUsage(s.BaseDir); err != nil {
		return res, err
	}
	return res, nil
}

// partitionsOpen is the child's side of the open: what the process holds before mqlog.Open and after,
// then the hot partition's appends.
func partitionsOpen(ctx context.Context, s Spec) (res PartitionsResult, err error) {
	res.Partitions = s.Partitions
	res.RSSBeforeBytes, res.HeapBeforeBytes = residentBytes(), liveHeapBytes()
	res.FDsBefore, res.GoroutinesBefore = openFDs(), runtime.NumGoroutine()
	t0 := time.Now()
	db, err := mqlog.Open(s.BaseDir, &mqlog.Options{FS: newBudgetFS(s.BaseDir, s.DiskFloor)})
	if err != nil {
		res.OpenError = err.Error()
		return res, nil
	}
	res.OpenMS = msSince(t0)
	defer func() { err = errors.Join(err, db.Close()) }()
	res.RSSAfterBytes = residentBytes()
	res.HeapAfterBytes = liveHeapBytes()
	res.FDsAfter, res.GoroutinesAfter = openFDs(), runtime.NumGoroutine()
	if res.ReservedOpenBytes, _, err = DiskUsage(s.BaseDir); err != nil {
		return res, err
	}
	if s.Limits.Duration <= 0 {
		return res, nil
	}
	msg := mqlog.Message{Value: Payloads(1, 100)[0]}
	m, err := drive(ctx, 1, 1, Limits{Duration: s.Limits.Duration}, func(int) error {
		_, err := db.AppendPartition(ctx, Topic, 0, msg)
		return err
	})
	if err != nil {
		return res, err
	}
	res.HotAppendMsgsPerSec, res.HotAppendLatency = m.MsgsPerSec(), latencyOf(m.Latency)
	return res, nil
}

// countPartitionDirs counts the directories of Topic's partitions in a data directory.
func countPartitionDirs(dir string) (int, error) {
	entries, err := os.ReadDir(dir + "/" + mqlog.TopicsDirName)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), Topic+"-") {
			n++
		}
	}
	return n, nil
}

// residentBytes returns this process's resident set (VmRSS of /proc/self/status), 0 where unknown.
func residentBytes() int64 { return procStatusBytes("VmRSS:") }

// liveHeapBytes runs a GC and returns the bytes of live heap objects.
func liveHeapBytes() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// openFDs returns the number of this process's open file descriptors, -1 where unknown.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries) - 1 // the directory being read is one of them
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1e3 }

// LoadAvg returns the first three fields of /proc/loadavg ("1.02 0.87 0.60"), or "".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// formatMiB formats bytes in MiB for a table: one decimal below 10, none above.
func formatMiB(b float64) string {
	mib := b / (1 << 20)
	if mib < 10 {
		return strconv.FormatFloat(mib, 'f', 1, 64)
	}
	return strconv.FormatFloat(mib, 'f', 0, 64)
}

// WriteTable writes r as two tables under 100 columns: totals per count, then per partition (what the
// opened DB holds over the process before the open, divided by the partition count), and a note per
// count that could not be created or opened.
func (r *PartitionsReport) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprint(w, Wrap(fmt.Sprintf("mqlog bench --workload partitions: %s/%s, %d CPUs, %s, dir %s (%s), load %s, %.1fs",
		m.GOOS, m.GOARCH, m.CPUs, m.GoVersion, r.BaseDir, OrDash(m.Filesystem), OrDash(r.LoadAvg), r.Seconds), 99))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "partitions\tcreated\tcreate ms\tclose ms\topen ms\tRSS MiB\tfds\tgoroutines\treserved MiB\t")
	for _, res := range r.Results {
		open, rss, fds, gs, reserved := "-", "-", "-", "-", "-"
		if res.OpenMS > 0 {
			open = FormatMicros(res.OpenMS)
			rss = formatMiB(float64(res.RSSAfterBytes))
			fds, gs = strconv.Itoa(res.FDsAfter), strconv.Itoa(res.GoroutinesAfter)
			reserved = formatMiB(float64(res.ReservedOpenBytes))
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.Partitions, res.Created,
			FormatMicros(res.CreateMS), FormatMicros(res.CloseMS), open, rss, fds, gs, reserved)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "partitions\tRSS KiB/p\theap KiB/p\tfds/p\tgoroutines/p\tdisk MiB/p\thot msgs/s\thot p99 µs\t")
	for _, res := range r.Results {
		if res.OpenMS <= 0 {
			continue
		}
		n := float64(res.Partitions)
		hot, p99 := "-", "-"
		if res.HotAppendMsgsPerSec > 0 {
			hot = strconv.FormatFloat(res.HotAppendMsgsPerSec, 'f', 0, 64)
		}
		if l := res.HotAppendLatency; l != nil {
			p99 = FormatMicros(l.P99)
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n", res.Partitions,
			float64(res.RSSAfterBytes-res.RSSBeforeBytes)/1024/n, float64(res.HeapAfterBytes-res.HeapBeforeBytes)/1024/n,
			float64(res.FDsAfter-res.FDsBefore)/n, float64(res.GoroutinesAfter-res.GoroutinesBefore)/n,
			float64(res.ReservedOpenBytes)/(1<<20)/n, hot, p99)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, res := range r.Results {
		switch {
		case res.CreateError != "":
			notes = append(notes, fmt.Sprintf("%d partitions: creation stopped (%d partition directories left), %.1f s, "+
				"the free space down by %.1f GiB at most: %s", res.Partitions, res.Created, res.CreateMS/1e3,
				float64(res.PeakFreeDropBytes)/(1<<30), res.CreateError))
		case res.OpenError != "":
			notes = append(notes, fmt.Sprintf("%d partitions: open failed: %s", res.Partitions, res.OpenError))
		}
	}
	notes = append(notes, fmt.Sprintf("Each count in a fresh directory: CreateTopic, Close, then mqlog.Open again "+
		"(files cached)%s. RSS, fds and goroutines: the process after the open; /p: after minus before the open, "+
		"per partition; heap: live Go heap after a GC. reserved, disk: allocated blocks (du) of the data directory "+
		"while open. hot: batches of one 100 B message appended to partition 0 (SyncAlways) among the others. "+
		"Disk budget %s; segments of %d MiB.",
		map[bool]string{true: ", each in a process of its own", false: ", in this process"}[r.Children],
		budgetText(r.DiskBudget), r.Segment>>20))
	for _, n := range notes {
		if _, err := io.WriteString(w, "\n"+Wrap(n, 99)); err != nil {
			return err
		}
	}
	return nil
}

func budgetText(b int64) string {
	if b <= 0 {
		return fmt.Sprintf("%d GiB or half the free space, whichever is less", DefaultDiskBudget>>30)
	}
	return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30))
}

// WriteJSON writes r as an indented JSON document.
func (r *PartitionsReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Wrap breaks s into lines of at most width columns at spaces (a longer word keeps a line of its own),
// each ended by a newline.
func Wrap(s string, width int) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		if line > 0 && line+1+n > width {
			b.WriteByte('\n')
			line = 0
		}
		if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	b.WriteByte('\n')
	return b.String()
}
