package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mqlog/mqlog"
)

// System names what a run measured.
type System string

// Systems.
const (
	SystemMQLog       System = "mqlog"
	SystemRaw         System = "raw"          // one write and one fdatasync per batch into a plain file
	SystemRawPrealloc System = "raw-prealloc" // the same into a file grown ahead with fallocate
)

// Workload names.
const (
	WorkloadAppend           = "append"
	WorkloadAppendConcurrent = "append-concurrent"
	WorkloadConsume          = "consume"      // warm: the log's files in the page cache
	WorkloadConsumeCold      = "consume-cold" // the log's files dropped from the page cache, open included
	WorkloadEndToEnd         = "end-to-end"   // produce and consume at once
	WorkloadCommit           = "commit"       // consumer group offset commits
	WorkloadCompaction       = "compaction"   // one DB.Compact over a compacted topic (Compaction)
)

// variant is one system's side of a case: one row of the report.
type variant struct {
	spec Spec
	sync string // for the report: mqlog's policy, or "fdatasync" for the baselines
}

// benchCase is a set of variants run in turn, round after round, and compared within each round.
type benchCase struct {
	workload string
	size     int
	variants []variant
	// Indexes into variants of the baselines the mqlog variants are compared with; -1 for none.
	raw, prealloc int
	// oneProducer is the mqlog variant with one producer (or committer) that concurrent variants are
	// compared with, or -1.
	oneProducer int
	// ideal is the variant concurrent producers' group commit is compared with, or -1 (0 is never one):
	// one producer writing batches of as many messages as there are producers, one write and one
	// fdatasync each, into a preallocated file (raw-prealloc at batch N).
	ideal int
}

const syncFdatasync = "fdatasync"

func (c Config) cases() []benchCase {
	var cases []benchCase
	v := func(workload string, sys System, size, batch, producers int, policy mqlog.SyncPolicy) variant {
		s := Spec{Workload: workload, System: sys, BaseDir: c.BaseDir, Size: size, Batch: batch,
			Producers: producers, Sync: policy, Limits: c.Limits}
		if sys == SystemMQLog {
			return variant{spec: s, sync: policy.String()}
		}
		return variant{spec: s, sync: syncFdatasync}
	}
	policies := c.SyncPolicies
	if len(policies) == 0 {
		policies = []mqlog.SyncPolicy{mqlog.SyncAlways}
	}
	for _, size := range c.Sizes {
		for _, batch := range c.Batches {
			bc := benchCase{workload: WorkloadAppend, size: size, raw: 1, prealloc: 2, oneProducer: -1, ideal: -1,
				variants: []variant{
					v(WorkloadAppend, SystemMQLog, size, batch, 1, policies[0]),
					v(WorkloadAppend, SystemRaw, size, batch, 1, 0),
					v(WorkloadAppend, SystemRawPrealloc, size, batch, 1, 0),
				}}
			if c.InFlight > 1 {
				pv := v(WorkloadAppend, SystemMQLog, size, batch, 1, mqlog.SyncAlways)
				pv.spec.InFlight = c.InFlight
				bc.variants = append(bc.variants, pv)
			}
			for _, p := range policies[1:] {
				bc.variants = append(bc.variants, v(WorkloadAppend, SystemMQLog, size, batch, 1, p))
			}
			cases = append(cases, bc)
		}
	}
	if c.Producers > 1 {
		for _, size := range c.Sizes {
			cases = append(cases, benchCase{
				workload: WorkloadAppendConcurrent, size: size, raw: 2, prealloc: 3, oneProducer: 1, ideal: 4,
				variants: []variant{
					v(WorkloadAppendConcurrent, SystemMQLog, size, 1, c.Producers, mqlog.SyncAlways),
					v(WorkloadAppendConcurrent, SystemMQLog, size, 1, 1, mqlog.SyncAlways),
					v(WorkloadAppendConcurrent, SystemRaw, size, 1, 1, 0),
					v(WorkloadAppendConcurrent, SystemRawPrealloc, size, 1, 1, 0),
					v(WorkloadAppendConcurrent, SystemRawPrealloc, size, c.Producers, 1, 0),
				},
			})
		}
	}
	if c.ConsumeMessages > 0 {
		workloads := []string{WorkloadConsume}
		if c.ConsumeCold {
			workloads = append(workloads, WorkloadConsumeCold)
		}
		for _, w := range workloads {
			bc := benchCase{workload: w, size: c.ConsumeSize, raw: 1, prealloc: -1, oneProducer: -1, ideal: -1}
			for _, sys := range []System{SystemMQLog, SystemRaw} {
				vv := v(w, sys, c.ConsumeSize, 0, 1, mqlog.SyncAlways)
				vv.spec.Messages, vv.spec.Cold, vv.sync = c.ConsumeMessages, w == WorkloadConsumeCold, ""
				bc.variants = append(bc.variants, vv)
			}
			cases = append(cases, bc)
		}
	}
	if c.EndToEnd {
		bc := benchCase{workload: WorkloadEndToEnd, size: c.Sizes[0], raw: -1, prealloc: -1, oneProducer: -1, ideal: -1}
		for _, batch := range []int{1, 16} {
			bc.variants = append(bc.variants, v(WorkloadEndToEnd, SystemMQLog, max(8, c.Sizes[0]), batch, 1, mqlog.SyncAlways))
		}
		cases = append(cases, bc)
	}
	if len(c.Committers) > 0 {
		bc := benchCase{workload: WorkloadCommit, raw: -1, prealloc: -1, oneProducer: -1, ideal: -1}
		for i, n := range c.Committers {
			if n == 1 {
				bc.oneProducer = i
			}
			vv := v(WorkloadCommit, SystemMQLog, 0, 0, n, mqlog.SyncAlways)
			vv.sync = "pebble sync"
			bc.variants = append(bc.variants, vv)
		}
		cases = append(cases, bc)
	}
	if c.Compaction {
		vv := v(WorkloadCompaction, SystemMQLog, c.ConsumeSize, 0, 1, mqlog.SyncAlways)
		vv.spec.Messages, vv.sync = c.ConsumeMessages, ""
		cases = append(cases, benchCase{workload: WorkloadCompaction, size: c.ConsumeSize, raw: -1, prealloc: -1, oneProducer: -1, ideal: -1, variants: []variant{vv}})
	}
	return cases
}

// Workloads are the names Config.Workloads selects from, in the order Run runs them.
func Workloads() []string {
	return []string{WorkloadAppend, WorkloadAppendConcurrent, WorkloadConsume, WorkloadConsumeCold, WorkloadEndToEnd,
		WorkloadCommit, WorkloadCompaction}
}

// selected returns the cases of the workloads cfg.Workloads names (every case when it is empty).
func (c Config) selected() []benchCase {
	cases := c.cases()
	if len(c.Workloads) == 0 {
		return cases
	}
	return slices.DeleteFunc(cases, func(bc benchCase) bool { return !slices.Contains(c.Workloads, bc.workload) })
}

// Run runs every case of cfg, each for cfg.Rounds interleaved rounds (every variant of a case once per
// round, in turn), and reports medians and in-round ratios.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	started := time.Now()
	rep := &Report{Version: ReportVersion, Started: started.UTC(), Machine: machineInfo(cfg.BaseDir), Config: summarize(cfg),
		LoadAvgStart: LoadAvg()}
	cases := cfg.selected()
	total := 0
	for _, c := range cases {
		total += cfg.Rounds * len(c.variants)
	}
	prog := NewProgress(cfg.Progress, total)
	defer prog.Done()
	for _, c := range cases {
		runs := make([][]Measurement, len(c.variants)) // [variant][round]
		notes := make([]string, len(c.variants))       // why a variant has no runs
		for round := range cfg.Rounds {
			for i, v := range c.variants {
				s := v.spec
				prog.Start(fmt.Sprintf("%s size=%d batch=%d producers=%d %s %s, round %d/%d",
					c.workload, c.size, s.Batch, s.Producers, s.System, v.sync, round+1, cfg.Rounds))
				var m Measurement
				var err error
				if cfg.Child != nil {
					m, err = runChild(ctx, cfg.Child, s)
				} else {
					m, err = s.Run(ctx)
				}
				if errors.Is(err, ErrNotAvailable) {
					notes[i] = err.Error()
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("mqlog/bench: %s size=%d batch=%d producers=%d on %s: %w",
						c.workload, c.size, s.Batch, s.Producers, s.System, err)
				}
				runs[i] = append(runs[i], m)
			}
		}
		rep.Results = append(rep.Results, c.results(runs, notes)...)
	}
	rep.Seconds = time.Since(started).Seconds()
	rep.LoadAvgEnd = LoadAvg()
	return rep, nil
}

// results turns a case's measurements into one Result per variant; notes say why a variant has none.
func (c benchCase) results(runs [][]Measurement, notes []string) []Result {
	rate := func(i, round int) float64 { return runs[i][round].MsgsPerSec() }
	ratio := func(i, base int) *float64 {
		if base < 0 || c.variants[i].spec.System != SystemMQLog || i == base || len(runs[i]) == 0 || len(runs[i]) != len(runs[base]) {
			return nil
		}
		rs := make([]float64, len(runs[i]))
		for r := range rs {
			if b := rate(base, r); b > 0 {
				rs[r] = rate(i, r) / b
			}
		}
		v := median(rs)
		return &v
	}
	out := make([]Result, len(c.variants))
	for i, v := range c.variants {
		var msgs, mbs, msgsPerSync, count, disk, diskFiles, rss []float64
		lat := newLatencyHistogram()
		for _, m := range runs[i] {
			msgs = append(msgs, m.MsgsPerSec())
			mbs = append(mbs, m.MBPerSec())
			count = append(count, float64(m.Messages))
			if m.Syncs > 0 {
				msgsPerSync = append(msgsPerSync, float64(m.Messages)/float64(m.Syncs))
			}
			if m.Latency != nil {
				lat.Merge(m.Latency)
			}
			if m.DiskBytes > 0 && m.Bytes > 0 {
				disk = append(disk, float64(m.DiskBytes)/float64(m.Bytes))
				diskFiles = append(diskFiles, float64(m.DiskFileBytes)/float64(m.Bytes))
			}
			if m.PeakRSS > 0 {
				rss = append(rss, float64(m.PeakRSS)/(1<<20))
			}
		}
		s := v.spec
		res := Result{
			Workload: c.workload, System: s.System, Size: c.size, Batch: s.Batch, Producers: s.Producers,
			Sync: v.sync, InFlight: s.InFlight, Rounds: len(runs[i]), Messages: int64(median(count)),
			MsgsPerSec: median(msgs), MBPerSec: median(mbs), RoundMsgsPerSec: slices.Clone(msgs),
			Latency:        latencyOf(lat),
			RatioRaw:       ratio(i, c.raw),
			RatioPrealloc:  ratio(i, c.prealloc),
			DiskPerPayload: median(disk), FileBytesPerPayload: median(diskFiles),
			PeakRSSMiB: median(rss),
			Note:       notes[i],
		}
		if len(msgsPerSync) > 0 {
			res.MsgsPerSync = median(msgsPerSync)
		}
		if s.Producers > 1 {
			res.RatioOneProducer = ratio(i, c.oneProducer)
			res.RatioIdeal = ratio(i, c.ideal)
		}
		out[i] = res
	}
	return out
}

// median returns the median of xs (the mean of the middle two for an even count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
