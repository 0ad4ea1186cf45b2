package peers

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqlog/mqlog/bench"
)

// Config is a whole comparison: which systems and cases, how many rounds, how long each run lasts.
type Config struct {
	Preset  string   // "default", "quick" or "custom", for the report
	BaseDir string   // where every run's temporary directory goes; "" is os.TempDir()
	Rounds  int      // interleaved rounds of every case
	Systems []System // the systems compared; must include the raw baseline

	Sizes     []int // message sizes of the append workloads, in bytes
	Batches   []int // batch sizes of the one-producer append workload
	Producers int   // goroutines of the concurrent append workload (batch 1, the first size); <2 skips it
	Limits    bench.Limits

	ConsumeSize     int   // message size of the consume workloads
	ConsumeMessages int64 // messages each consume run loads and reads back; 0 skips them

	// Workloads, when not empty, restricts the run to these workloads (for profiling one of them).
	Workloads []string

	Progress io.Writer // a terminal for a live progress line, or nil

	// Child, when set, makes the command that runs one run in a child process of its own (it must run
	// ServeChild), so that each run's peak RSS is its own; nil runs everything in this process.
	Child func(ctx context.Context) *exec.Cmd
}

// Default is the preset of `make bench-peers`: five rounds of every case on every system, runs of up to
// 250 ms, a 32 MiB log to consume; about three minutes on two cores (under five with the build).
func Default() Config {
	return Config{
		Preset:          "default",
		Rounds:          5,
		Systems:         Systems(),
		Sizes:           []int{100, 1024},
		Batches:         []int{1, 16, 256},
		Producers:       16,
		Limits:          bench.Limits{Messages: 1_000_000, Duration: 250 * time.Millisecond},
		ConsumeSize:     1024,
		ConsumeMessages: 32 << 10,
	}
}

// Quick is a smoke-test preset: every system and workload, a few hundred messages each.
func Quick() Config {
	c := Default()
	c.Preset = "quick"
	c.Rounds = 1
	c.Limits = bench.Limits{Messages: 512, Duration: 50 * time.Millisecond}
	c.ConsumeMessages = 1024
	return c
}

// Check reports a config that cannot run.
func (c Config) Check() error {
	if c.Rounds <= 0 {
		return fmt.Errorf("mqlog/bench/peers: rounds must be positive, not %d", c.Rounds)
	}
	if indexOf(c.Systems, NameRaw) < 0 {
		return fmt.Errorf("mqlog/bench/peers: the raw baseline must be among the systems")
	}
	for _, s := range c.Sizes {
		if s <= 0 {
			return fmt.Errorf("mqlog/bench/peers: message size must be positive, not %d", s)
		}
	}
	for _, b := range c.Batches {
		if b <= 0 {
			return fmt.Errorf("mqlog/bench/peers: batch size must be positive, not %d", b)
		}
	}
	if c.Limits.Messages <= 0 && c.Limits.Duration <= 0 {
		return fmt.Errorf("mqlog/bench/peers: a run needs a message count or a duration")
	}
	if c.ConsumeMessages > 0 && c.ConsumeSize <= 0 {
		return fmt.Errorf("mqlog/bench/peers: consume message size must be positive, not %d", c.ConsumeSize)
	}
	for _, w := range c.Workloads {
		if !slices.Contains([]string{WorkloadAppend, WorkloadAppendConcurrent, WorkloadConsumeWarm, WorkloadConsumeCold}, w) {
			return fmt.Errorf("mqlog/bench/peers: no workload %q", w)
		}
	}
	return nil
}

func indexOf(systems []System, name string) int {
	for i, s := range systems {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// benchCase is one workload with its parameters, run on every system once per round.
type benchCase struct {
	workload         string
	size, batch, prs int
	messages         int64 // consume workloads
}

// spec is the run of the case on sys.
func (c benchCase) spec(cfg Config, sys System) Spec {
	return Spec{Workload: c.workload, System: sys.Name, BaseDir: cfg.BaseDir, Size: c.size, Batch: c.batch,
		Producers: c.prs, Limits: cfg.Limits, Messages: c.messages}
}

func (c Config) cases() []benchCase {
	var cases []benchCase
	for _, size := range c.Sizes {
		for _, batch := range c.Batches {
			cases = append(cases, benchCase{workload: WorkloadAppend, size: size, batch: batch, prs: 1})
		}
	}
	if c.Producers > 1 && len(c.Sizes) > 0 {
		size := c.Sizes[0]
		cases = append(cases, benchCase{workload: WorkloadAppendConcurrent, size: size, batch: 1, prs: c.Producers})
	}
	if c.ConsumeMessages > 0 {
		for _, w := range []string{WorkloadConsumeWarm, WorkloadConsumeCold} {
			cases = append(cases, benchCase{workload: w, size: c.ConsumeSize, prs: 1, messages: c.ConsumeMessages})
		}
	}
	if len(c.Workloads) > 0 {
		cases = slices.DeleteFunc(cases, func(bc benchCase) bool { return !slices.Contains(c.Workloads, bc.workload) })
	}
	return cases
}

// Run runs every case of cfg on every system for cfg.Rounds interleaved rounds (each round runs every
// system once, starting one system later than the round before, so that no system always runs first) and
// reports medians and in-round ratios.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	started := time.Now()
	rep := newReport(cfg, started)
	cases := cfg.cases()
	n := len(cfg.Systems)
	prog := bench.NewProgress(cfg.Progress, len(cases)*cfg.Rounds*n)
	defer prog.Done()
	for _, c := range cases {
		runs := make([][]run, n) // [system][round]
		for round := range cfg.Rounds {
			for k := range n {
				i := (round + k) % n
				sys := cfg.Systems[i]
				prog.Start(fmt.Sprintf("%s size=%d batch=%d producers=%d %s, round %d/%d",
					c.workload, c.size, c.batch, c.prs, sys.Name, round+1, cfg.Rounds))
				var r run
				var err error
				if cfg.Child != nil {
					r, err = runChild(ctx, cfg.Child, c.spec(cfg, sys))
				} else {
					r, err = c.spec(cfg, sys).Run(ctx)
				}
				if err != nil {
					return nil, fmt.Errorf("mqlog/bench/peers: %s size=%d batch=%d producers=%d on %s: %w",
						c.workload, c.size, c.batch, c.prs, sys.Name, err)
				}
				runs[i] = append(runs[i], r)
			}
		}
		rep.addCase(c, cfg.Systems, runs)
	}
	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

// addCase turns a case's runs into one Result per system.
func (rep *Report) addCase(c benchCase, systems []System, runs [][]run) {
	raw, prealloc, mq := indexOf(systems, NameRaw), indexOf(systems, NameRawPrealloc), indexOf(systems, NameMQLog)
	// ratio is the median over rounds of a's msgs/s over b's in the same round.
	ratio := func(a, b int) *float64 {
		if a < 0 || b < 0 || a == b {
			return nil
		}
		rs := make([]float64, len(runs[a]))
		for r := range rs {
			if den := runs[b][r].MsgsPerSec(); den > 0 {
				rs[r] = runs[a][r].MsgsPerSec() / den
			}
		}
		v := bench.Median(rs)
		return &v
	}
	for i, sys := range systems {
		var msgs, mbs, count, disk, diskFile, rss []float64
		lat := bench.NewLatencyHistogram()
		for _, r := range runs[i] {
			msgs = append(msgs, r.MsgsPerSec())
			mbs = append(mbs, r.MBPerSec())
			count = append(count, float64(r.Messages))
			if r.Bytes > 0 && r.diskBytes > 0 {
				disk = append(disk, float64(r.diskBytes)/float64(r.Bytes))
				diskFile = append(diskFile, float64(r.diskFileBytes)/float64(r.Bytes))
			}
			if r.Latency != nil {
				lat.Merge(r.Latency)
			}
			if r.peakRSS > 0 {
				rss = append(rss, float64(r.peakRSS)/(1<<20))
			}
		}
		res := Result{
			Workload: c.workload, System: sys.Name, Size: c.size, Batch: c.batch, Producers: c.prs,
			Rounds: len(runs[i]), Messages: int64(bench.Median(count)),
			MsgsPerSec: bench.Median(msgs), MBPerSec: bench.Median(mbs), RoundMsgsPerSec: msgs,
			Latency:       bench.LatencyOf(lat),
			RatioRaw:      ratio(i, raw),
			RatioPrealloc: ratio(i, prealloc),
			MQLogOver:     ratio(mq, i),
			PeakRSSMiB:    bench.Median(rss),
		}
		if len(disk) > 0 {
			res.DiskPerPayload, res.FileBytesPerPayload = bench.Median(disk), bench.Median(diskFile)
		}
		if lat.TotalCount() > 0 {
			res.hist = lat
		}
		rep.Results = append(rep.Results, res)
	}
}

// histogram returns the merged latency histogram of a result, nil when it has none (consume, or a result
// read back from JSON).
func (r Result) histogram() *hdrhistogram.Histogram { return r.hist }
