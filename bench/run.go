package bench

import (
	"context"
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
	WorkloadConsume          = "consume"
)

// variant is one system's side of a case: one row of the report.
type variant struct {
	system    System
	batch     int
	producers int
	sync      string
	run       func(ctx context.Context) (Measurement, error)
}

// benchCase is a set of variants run in turn, round after round, and compared within each round.
type benchCase struct {
	workload string
	size     int
	variants []variant
	// Indexes into variants of the baselines the mqlog variants are compared with; -1 for none.
	raw, prealloc int
	// oneProducer is the mqlog variant with one producer that concurrent variants are compared with, or -1.
	oneProducer int
}

const syncFdatasync = "fdatasync"

func (c Config) cases() []benchCase {
	var cases []benchCase
	appendRun := func(size, batch, producers int, sys System) variant {
		cfg := AppendConfig{BaseDir: c.BaseDir, Size: size, Batch: batch, Producers: producers, Limits: c.Limits}
		v := variant{system: sys, batch: batch, producers: producers, sync: syncFdatasync}
		switch sys {
		case SystemMQLog:
			v.sync = mqlog.SyncAlways.String()
			v.run = func(ctx context.Context) (Measurement, error) { return AppendMQLog(ctx, cfg) }
		case SystemRaw, SystemRawPrealloc:
			v.run = func(ctx context.Context) (Measurement, error) { return AppendRaw(ctx, cfg, sys == SystemRawPrealloc) }
		}
		return v
	}
	for _, size := range c.Sizes {
		for _, batch := range c.Batches {
			cases = append(cases, benchCase{
				workload: WorkloadAppend, size: size, raw: 1, prealloc: 2, oneProducer: -1,
				variants: []variant{
					appendRun(size, batch, 1, SystemMQLog),
					appendRun(size, batch, 1, SystemRaw),
					appendRun(size, batch, 1, SystemRawPrealloc),
				},
			})
		}
	}
	if c.Producers > 1 {
		for _, size := range c.Sizes {
			cases = append(cases, benchCase{
				workload: WorkloadAppendConcurrent, size: size, raw: 2, prealloc: 3, oneProducer: 1,
				variants: []variant{
					appendRun(size, 1, c.Producers, SystemMQLog),
					appendRun(size, 1, 1, SystemMQLog),
					appendRun(size, 1, 1, SystemRaw),
					appendRun(size, 1, 1, SystemRawPrealloc),
				},
			})
		}
	}
	if c.ConsumeMessages > 0 {
		cfg := ConsumeConfig{BaseDir: c.BaseDir, Size: c.ConsumeSize, Messages: c.ConsumeMessages}
		cases = append(cases, benchCase{
			workload: WorkloadConsume, size: c.ConsumeSize, raw: 1, prealloc: -1, oneProducer: -1,
			variants: []variant{
				{system: SystemMQLog, producers: 1, run: func(ctx context.Context) (Measurement, error) { return ConsumeMQLog(ctx, cfg) }},
				{system: SystemRaw, producers: 1, run: func(ctx context.Context) (Measurement, error) { return ConsumeRaw(ctx, cfg) }},
			},
		})
	}
	return cases
}

// Run runs every case of cfg, each for cfg.Rounds interleaved rounds (every variant of a case once per
// round, in turn), and reports medians and in-round ratios.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	started := time.Now()
	rep := &Report{Version: ReportVersion, Started: started.UTC(), Machine: machineInfo(cfg.BaseDir), Config: summarize(cfg)}
	cases := cfg.cases()
	total := 0
	for _, c := range cases {
		total += cfg.Rounds * len(c.variants)
	}
	prog := newProgress(cfg.Progress, total)
	defer prog.done()
	for _, c := range cases {
		runs := make([][]Measurement, len(c.variants)) // [variant][round]
		for round := range cfg.Rounds {
			for i, v := range c.variants {
				prog.start(fmt.Sprintf("%s size=%d batch=%d producers=%d %s, round %d/%d",
					c.workload, c.size, v.batch, v.producers, v.system, round+1, cfg.Rounds))
				m, err := v.run(ctx)
				if err != nil {
					return nil, fmt.Errorf("mqlog/bench: %s size=%d batch=%d producers=%d on %s: %w",
						c.workload, c.size, v.batch, v.producers, v.system, err)
				}
				runs[i] = append(runs[i], m)
			}
		}
		rep.Results = append(rep.Results, c.results(runs)...)
	}
	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

// results turns a case's measurements into one Result per variant.
func (c benchCase) results(runs [][]Measurement) []Result {
	rate := func(i, round int) float64 { return runs[i][round].MsgsPerSec() }
	ratio := func(i, base int) *float64 {
		if base < 0 || c.variants[i].system != SystemMQLog || i == base {
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
		var msgs, mbs, msgsPerSync, perRound []float64
		var count []float64
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
		}
		perRound = slices.Clone(msgs)
		res := Result{
			Workload: c.workload, System: v.system, Size: c.size, Batch: v.batch, Producers: v.producers,
			Sync: v.sync, Rounds: len(runs[i]), Messages: int64(median(count)),
			MsgsPerSec: median(msgs), MBPerSec: median(mbs), RoundMsgsPerSec: perRound,
			Latency:       latencyOf(lat),
			RatioRaw:      ratio(i, c.raw),
			RatioPrealloc: ratio(i, c.prealloc),
		}
		if len(msgsPerSync) > 0 {
			res.MsgsPerSync = median(msgsPerSync)
		}
		if v.producers > 1 {
			res.RatioOneProducer = ratio(i, c.oneProducer)
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
