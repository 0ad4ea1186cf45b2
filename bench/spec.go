package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog"
)

// ErrNotAvailable is what a workload that cannot run in this build returns; the report shows it as a note,
// with no figures.
var ErrNotAvailable = errors.New("not available")

// Spec is one run of one workload on one system: everything a child process needs to run it.
type Spec struct {
	Workload  string           `json:"workload"`
	System    System           `json:"system"`
	BaseDir   string           `json:"base_dir"`
	Size      int              `json:"size"`
	Batch     int              `json:"batch"`
	Producers int              `json:"producers"`           // producers, or committers for the commit workload
	InFlight  int              `json:"in_flight,omitempty"` // pipelined appends (AppendConfig.InFlight)
	Sync      mqlog.SyncPolicy `json:"sync"`
	Limits    Limits           `json:"limits"`
	Messages  int64            `json:"messages"` // the consume workloads' log
	Cold      bool             `json:"cold"`     // consume from files dropped from the page cache

	// The partitions run (RunPartitions): the topic's partition count and segment size, and the free space
	// below which its filesystem refuses new files (budgetFS).
	Partitions   int   `json:"partitions,omitempty"`
	SegmentBytes int64 `json:"segment_bytes,omitempty"`
	DiskFloor    int64 `json:"disk_floor,omitempty"`
}

// Run runs the spec in this process.
func (s Spec) Run(ctx context.Context) (Measurement, error) {
	appendCfg := AppendConfig{BaseDir: s.BaseDir, Size: s.Size, Batch: s.Batch, Producers: s.Producers, Limits: s.Limits, Sync: s.Sync, InFlight: s.InFlight}
	consumeCfg := ConsumeConfig{BaseDir: s.BaseDir, Size: s.Size, Messages: s.Messages, Cold: s.Cold}
	switch {
	case (s.Workload == WorkloadAppend || s.Workload == WorkloadAppendConcurrent) && s.System == SystemMQLog:
		return AppendMQLog(ctx, appendCfg)
	case s.Workload == WorkloadAppend || s.Workload == WorkloadAppendConcurrent:
		return AppendRaw(ctx, appendCfg, s.System == SystemRawPrealloc)
	case (s.Workload == WorkloadConsume || s.Workload == WorkloadConsumeCold) && s.System == SystemMQLog:
		return ConsumeMQLog(ctx, consumeCfg)
	case s.Workload == WorkloadConsume || s.Workload == WorkloadConsumeCold:
		return ConsumeRaw(ctx, consumeCfg)
	case s.Workload == WorkloadEndToEnd:
		return EndToEndMQLog(ctx, appendCfg)
	case s.Workload == WorkloadCommit:
		return CommitMQLog(ctx, CommitConfig{BaseDir: s.BaseDir, Committers: s.Producers, Limits: s.Limits})
	case s.Workload == workloadFill:
		return Measurement{}, fillAndKill(ctx, s)
	case s.Workload == WorkloadCompaction:
		return Compaction(ctx, s)
	case s.Workload == workloadPartitionsCreate:
		res, err := partitionsCreate(s)
		return Measurement{Partitions: &res}, err
	case s.Workload == workloadPartitionsOpen:
		res, err := partitionsOpen(ctx, s)
		return Measurement{Partitions: &res}, err
	}
	return Measurement{}, fmt.Errorf("mqlog/bench: no workload %q on %s", s.Workload, s.System)
}

// measurementJSON is a Measurement as a child process reports it.
type measurementJSON struct {
	Messages      int64                  `json:"messages"`
	Bytes         int64                  `json:"bytes"`
	ElapsedNS     int64                  `json:"elapsed_ns"`
	Latency       *hdrhistogram.Snapshot `json:"latency,omitempty"`
	Syncs         uint64                 `json:"syncs"`
	DiskBytes     int64                  `json:"disk_bytes"`
	DiskFileBytes int64                  `json:"disk_file_bytes"`
	PeakRSS       int64                  `json:"peak_rss"` // VmHWM of the child's own address space
	Error         string                 `json:"error,omitempty"`
	NotAvailable  string                 `json:"not_available,omitempty"`
	Partitions    *partitionsMeasurement `json:"partitions,omitempty"`
}

// ServeChild reads a Spec as JSON from r, runs it and writes the Measurement (or the error) as JSON to w:
// the body of the hidden command a Config.Child command runs. It returns an error only when it cannot
// read the spec or write the result.
func ServeChild(ctx context.Context, r io.Reader, w io.Writer) error {
	var s Spec
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("mqlog/bench: child: reading the spec: %w", err)
	}
	m, err := s.Run(ctx)
	out := measurementJSON{
		Messages: m.Messages, Bytes: m.Bytes, ElapsedNS: int64(m.Elapsed), Syncs: m.Syncs,
		DiskBytes: m.DiskBytes, DiskFileBytes: m.DiskFileBytes, PeakRSS: peakRSS(), Partitions: m.Partitions,
	}
	if m.Latency != nil {
		out.Latency = m.Latency.Export()
	}
	if errors.Is(err, ErrNotAvailable) {
		out.NotAvailable = err.Error()
	} else if err != nil {
		out.Error = err.Error()
	}
	return json.NewEncoder(w).Encode(out)
}

// runChild runs s in a child process made by newCmd (which must run ServeChild) and returns its
// Measurement with the child's peak resident set size.
func runChild(ctx context.Context, newCmd func(context.Context) *exec.Cmd, s Spec) (Measurement, error) {
	spec, err := json.Marshal(s)
	if err != nil {
		return Measurement{}, err
	}
	cmd := newCmd(ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(spec), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Measurement{}, fmt.Errorf("mqlog/bench: child process: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out measurementJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Measurement{}, fmt.Errorf("mqlog/bench: child process output: %w", err)
	}
	if out.Error != "" {
		return Measurement{}, errors.New(out.Error)
	}
	if out.NotAvailable != "" {
		why := strings.TrimPrefix(out.NotAvailable, ErrNotAvailable.Error()+": ")
		return Measurement{}, fmt.Errorf("%w: %s", ErrNotAvailable, why)
	}
	m := Measurement{
		Messages: out.Messages, Bytes: out.Bytes, Elapsed: time.Duration(out.ElapsedNS), Syncs: out.Syncs,
		DiskBytes: out.DiskBytes, DiskFileBytes: out.DiskFileBytes, PeakRSS: out.PeakRSS, Partitions: out.Partitions,
	}
	if out.Latency != nil {
		m.Latency = hdrhistogram.Import(out.Latency)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && m.PeakRSS == 0 {
		// rusage's maxrss also counts the parent's pages the child shared until exec (os/exec uses
		// vfork), so it is only the fallback.
		m.PeakRSS = ru.Maxrss << 10 // Linux reports KiB
	}
	return m, nil
}

// peakRSS returns the peak resident set size of this process's address space since exec (VmHWM of
// /proc/self/status), in bytes; 0 where it cannot be read.
func peakRSS() int64 { return procStatusBytes("VmHWM:") }

// procStatusBytes returns the field of /proc/self/status named by key ("VmHWM:"), a count of kB, in bytes;
// 0 where it cannot be read.
func procStatusBytes(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
