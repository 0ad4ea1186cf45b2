package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog/bench"
)

// Spec is one run of one workload on one system: what a child process is told to run.
type Spec struct {
	Workload  string       `json:"workload"`
	System    string       `json:"system"`
	BaseDir   string       `json:"base_dir"`
	Size      int          `json:"size"`
	Batch     int          `json:"batch"`
	Producers int          `json:"producers"`
	Limits    bench.Limits `json:"limits"`
	Messages  int64        `json:"messages"` // the consume workloads' log
}

// Run runs the spec in this process.
func (s Spec) Run(ctx context.Context) (run, error) {
	i := indexOf(Systems(), s.System)
	if i < 0 {
		return run{}, fmt.Errorf("mqlog/bench/peers: unknown system %q", s.System)
	}
	sys := Systems()[i]
	switch s.Workload {
	case WorkloadAppend, WorkloadAppendConcurrent:
		return appendRun(ctx, sys, s.BaseDir, s.Size, s.Batch, s.Producers, s.Limits)
	case WorkloadConsumeWarm, WorkloadConsumeCold:
		return consumeRun(ctx, sys, s.BaseDir, s.Size, s.Messages, s.Workload == WorkloadConsumeCold)
	}
	return run{}, fmt.Errorf("mqlog/bench/peers: no workload %q", s.Workload)
}

// runJSON is a run as a child process reports it.
type runJSON struct {
	Messages      int64                  `json:"messages"`
	Bytes         int64                  `json:"bytes"`
	ElapsedNS     int64                  `json:"elapsed_ns"`
	Latency       *hdrhistogram.Snapshot `json:"latency,omitempty"`
	DiskBytes     int64                  `json:"disk_bytes"`
	DiskFileBytes int64                  `json:"disk_file_bytes"`
	PeakRSS       int64                  `json:"peak_rss"`
	Error         string                 `json:"error,omitempty"`
}

// ServeChild reads a Spec as JSON from r, runs it and writes the run (or its error) as JSON to w, with
// the peak RSS of this process: the body of `peers child`. It returns an error only when it cannot read
// the spec or write the result.
func ServeChild(ctx context.Context, r io.Reader, w io.Writer) error {
	var s Spec
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("mqlog/bench/peers: child: reading the spec: %w", err)
	}
	res, err := s.Run(ctx)
	out := runJSON{
		Messages: res.Messages, Bytes: res.Bytes, ElapsedNS: int64(res.Elapsed),
		DiskBytes: res.diskBytes, DiskFileBytes: res.diskFileBytes, PeakRSS: bench.PeakRSS(),
	}
	if res.Latency != nil {
		out.Latency = res.Latency.Export()
	}
	if err != nil {
		out.Error = err.Error()
	}
	return json.NewEncoder(w).Encode(out)
}

// runChild runs s in a child process made by newCmd, which must run ServeChild.
func runChild(ctx context.Context, newCmd func(context.Context) *exec.Cmd, s Spec) (run, error) {
	spec, err := json.Marshal(s)
	if err != nil {
		return run{}, err
	}
	cmd := newCmd(ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(spec), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return run{}, fmt.Errorf("mqlog/bench/peers: child process: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out runJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return run{}, fmt.Errorf("mqlog/bench/peers: child process output: %w", err)
	}
	if out.Error != "" {
		return run{}, fmt.Errorf("%s", out.Error)
	}
	r := run{diskBytes: out.DiskBytes, diskFileBytes: out.DiskFileBytes, peakRSS: out.PeakRSS}
	r.Messages, r.Bytes, r.Elapsed = out.Messages, out.Bytes, time.Duration(out.ElapsedNS)
	if out.Latency != nil {
		r.Latency = hdrhistogram.Import(out.Latency)
	}
	return r, nil
}
