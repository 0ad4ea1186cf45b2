package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/bench"
	"github.com/spf13/cobra"
)

const benchLong = `bench measures mqlog against the disk it runs on and prints one row per case and system.

Every workload runs against mqlog and against two raw baselines on the same disk: "raw"
writes each batch of length-prefixed records with one write and one fdatasync into a
plain file; "raw-prealloc" does the same into a file grown ahead with fallocate in
64 MiB steps (the physical limit for small batches). Cases run in interleaved rounds
(mqlog, raw, raw-prealloc, again), and "vs raw" and "vs prealloc" are mqlog's msgs/s over
the baseline's in the same round, the median over rounds: 1.00 is as fast as the
baseline. The machine is likely shared; read the ratios, not the absolute figures.

Workloads:
  append             one producer, durable appends (SyncAlways), batches of --batches
                     messages of --sizes bytes, one Append call per batch; --sync adds
                     rows for other policies in the same rounds
  append-concurrent  --producers goroutines each appending single messages durably,
                     against one producer in the same rounds (group commit at work)
  consume            a log of 1 KiB messages read back whole from the page cache
  consume-cold       the same after fsync + posix_fadvise(DONTNEED) on every file of the
                     log; the time includes opening it (a fresh reader over cold files)
  end-to-end         one producer appending and one Consumer reading at once: latency
                     from the Append call to Consumer.Next returning the message
  commit             --committers goroutines each committing a consumer group offset
                     (durable, in Pebble) in a loop: commits/s and latency
  compaction         one DB.Compact over a compacted topic (msgs/s, MB/s read)

Each run happens in a child process of its own (the mqlog binary again, with a hidden
subcommand), whose peak RSS is reported; --in-process runs everything in one process.
Consume rows also report the bytes on disk per payload byte.

--workload NAME[,NAME] runs only those workloads (of the preset's), or one of the two
separate runs:
  partitions         for each partition count of --partitions (default 1,100,1000,10000),
                     a topic of that many partitions is created in a fresh directory, the
                     DB closed and opened again: creation, close and open times, the open
                     DB's resident memory, file descriptors, goroutines and disk space
                     reserved (allocated blocks), then appends to one partition among the
                     idle others. A count the disk cannot hold is reported with how far
                     it got and the error; --disk-budget bounds what it may take from the
                     free space (default 16GiB or half of it, whichever is less).
  recovery           the same as --recovery (default sizes 256MiB,1GiB)

--recovery SIZES is a separate long run: for each log size (e.g. 1GiB,4GiB), a log of
1 KiB messages is written and closed cleanly, or written under SyncInterval by a child
process that SIGKILLs itself, and mqlog.Open is timed with the files dropped from the
page cache, then again warm.

Each run lasts until its message count or its time budget is spent, and works in a
fresh temporary directory under --base-dir (default: the system's temp directory, so
the disk measured is that one's), removed afterwards. The data directory (--dir) is not
used. --quick (the default) finishes in well under half a minute; --full takes a few
minutes.

The table printed fits 100 columns; --out DIR also writes the report as JSON and the
wide table with every figure (MB/s, p99.9, max, msgs/fsync, disk/B, peak RSS) into DIR:
bench.json and bench.txt (partitions.json and .txt, recovery.json and .txt). The charts
are drawn from those JSON files by bench/peers (make bench-partitions).`

// newBenchCommand returns "mqlog bench". It reads -o from the root command's persistent flag.
func newBenchCommand() *cobra.Command {
	var (
		quick, full bool
		rounds      int
		baseDir     string
		sizes       []int
		batches     []int
		producers   int
		duration    time.Duration
		syncs       []string
		committers  []int
		inFlight    int
		inProcess   bool
		recovery    []string
		workloads   []string
		partitions  []int
		diskBudget  string
		outDir      string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure append and consume throughput and latency against raw-file baselines",
		Long:  benchLong,
		Example: `  mqlog bench
  mqlog bench --full -o json > bench.json
  mqlog bench --sizes 4096 --batches 1,64 --rounds 5 --base-dir /mnt/nvme/tmp
  mqlog bench --full --workload append --batches 1 --out results
  mqlog bench --workload partitions --partitions 1,100,1000 --out results`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			output, err := benchOutput(cmd)
			if err != nil {
				return err
			}
			if quick && full {
				return usagef("--quick and --full are exclusive")
			}
			child := benchChild
			if inProcess {
				child = nil
			}
			separate := slices.ContainsFunc(workloads, func(w string) bool { return w == bench.WorkloadPartitions || w == workloadRecovery })
			if separate && len(workloads) > 1 {
				return usagef("--workload %s and %s run alone", bench.WorkloadPartitions, workloadRecovery)
			}
			if len(recovery) > 0 || slices.Contains(workloads, workloadRecovery) {
				if len(recovery) == 0 {
					recovery = []string{"256MiB", "1GiB"}
				}
				return runRecovery(cmd, output, outDir, baseDir, recovery, child)
			}
			if slices.Contains(workloads, bench.WorkloadPartitions) {
				budget := int64(0)
				if diskBudget != "" {
					if budget, err = parseByteSize(diskBudget); err != nil {
						return err
					}
				}
				pcfg := bench.PartitionsConfig{BaseDir: baseDir, Counts: partitions, DiskBudget: budget,
					HotAppend: 300 * time.Millisecond, Child: child}
				if cmd.Flags().Changed("duration") {
					pcfg.HotAppend = duration
				}
				return runPartitions(cmd, output, outDir, pcfg)
			}
			cfg := bench.Quick()
			if full {
				cfg = bench.Full()
			}
			flags := cmd.Flags()
			if flags.Changed("rounds") {
				cfg.Rounds = rounds
			}
			if flags.Changed("sizes") {
				cfg.Sizes = sizes
			}
			if flags.Changed("batches") {
				cfg.Batches = batches
			}
			if flags.Changed("producers") {
				cfg.Producers = producers
			}
			if flags.Changed("duration") {
				cfg.Limits.Duration = duration
			}
			if flags.Changed("sync") {
				cfg.SyncPolicies = nil
				for _, name := range syncs {
					p, err := parseSyncPolicy(name)
					if err != nil {
						return err
					}
					cfg.SyncPolicies = append(cfg.SyncPolicies, p)
				}
			}
			if flags.Changed("in-flight") {
				cfg.InFlight = inFlight
			}
			if flags.Changed("committers") {
				cfg.Committers = committers
			}
			cfg.Workloads = workloads
			cfg.Child = child
			for _, name := range []string{"rounds", "sizes", "batches", "producers", "duration", "sync", "committers", "workload", "in-flight"} {
				if flags.Changed(name) {
					cfg.Preset += "+custom"
					break
				}
			}
			cfg.BaseDir = baseDir
			if cfg.BaseDir == "" {
				cfg.BaseDir = os.TempDir()
			}
			if err := cfg.Check(); err != nil {
				return &usageError{err: err}
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && bench.IsTerminal(f) {
				cfg.Progress = f
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := writeBenchFiles(outDir, "bench", rep.WriteJSON, rep.WriteWideTable); err != nil {
				return err
			}
			if output == outputJSON {
				return writeJSONDocument(cmd.OutOrStdout(), rep)
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "small runs, a few thousand messages each (the default)")
	f.BoolVar(&full, "full", false, "runs of up to 1.5 s each and a 256 MiB log to consume")
	f.IntVar(&rounds, "rounds", 3, "interleaved rounds of every case")
	f.StringVar(&baseDir, "base-dir", "", "directory for the runs' temporary directories (default the system's temp directory)")
	f.IntSliceVar(&sizes, "sizes", []int{100, 1024}, "message sizes in bytes, comma-separated")
	f.IntSliceVar(&batches, "batches", []int{1, 16, 256}, "batch sizes of the one-producer append workload")
	f.IntVar(&producers, "producers", 64, "goroutines of the concurrent append workload (0 or 1 skips it)")
	f.DurationVar(&duration, "duration", 0, "time budget of each run (default 150ms with --quick, 1.5s with --full)")
	f.StringSliceVar(&syncs, "sync", nil, "mqlog sync policies of the append workload: always, interval, never (default always; all three with --full)")
	f.IntVar(&inFlight, "in-flight", 2, "batches in flight of the pipelined append row (DB.AppendAsync); 0 or 1 leaves the row out")
	f.IntSliceVar(&committers, "committers", []int{1, 8, 64}, "goroutines of the commit workload, one row each (empty skips it)")
	f.BoolVar(&inProcess, "in-process", false, "run every workload in this process (no child processes, no peak RSS)")
	f.StringSliceVar(&recovery, "recovery", nil, "run only the open/recovery long run, for these log sizes (e.g. 256MiB,1GiB,4GiB)")
	f.StringSliceVar(&workloads, "workload", nil, "run only these workloads: "+strings.Join(bench.Workloads(), ", ")+
		"; or alone "+bench.WorkloadPartitions+" or "+workloadRecovery)
	f.IntSliceVar(&partitions, "partitions", bench.DefaultPartitionCounts, "partition counts of the partitions workload")
	f.StringVar(&diskBudget, "disk-budget", "", "most free space the partitions workload may take (default 16GiB or half the free space, whichever is less)")
	f.StringVar(&outDir, "out", "", "also write the report as JSON and the wide table into this directory")
	cmd.MarkFlagDirname("out")
	cmd.MarkFlagDirname("base-dir")
	cmd.AddCommand(&cobra.Command{
		Use:    "child",
		Short:  "Run one benchmark workload described on stdin (used by bench itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.ServeChild(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	})
	return cmd
}

// benchChild makes the command that runs one workload in a child process: this binary's hidden
// "bench child" subcommand.
func benchChild(ctx context.Context) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.CommandContext(ctx, exe, "bench", "child")
}

// parseSyncPolicy reads a sync policy by name.
func parseSyncPolicy(name string) (mqlog.SyncPolicy, error) {
	for _, p := range []mqlog.SyncPolicy{mqlog.SyncAlways, mqlog.SyncInterval, mqlog.SyncNever} {
		if strings.EqualFold(name, p.String()) {
			return p, nil
		}
	}
	return 0, usagef("invalid sync policy %q for --sync: want always, interval or never", name)
}

// runRecovery runs the open/recovery long run for the log sizes given.
func runRecovery(cmd *cobra.Command, output, outDir, baseDir string, sizes []string, child func(context.Context) *exec.Cmd) error {
	cfg := bench.RecoveryConfig{BaseDir: baseDir, MessageSize: 1024, Modes: []string{bench.RecoveryClean}, Child: child}
	if child != nil {
		cfg.Modes = append(cfg.Modes, bench.RecoveryKill)
	}
	for _, s := range sizes {
		n, err := parseByteSize(s)
		if err != nil {
			return err
		}
		cfg.LogBytes = append(cfg.LogBytes, n)
	}
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && bench.IsTerminal(f) {
		cfg.Progress = f
	}
	rep, err := bench.RunRecovery(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	if err := writeBenchFiles(outDir, "recovery", rep.WriteJSON, rep.WriteTable); err != nil {
		return err
	}
	if output == outputJSON {
		return writeJSONDocument(cmd.OutOrStdout(), rep)
	}
	return rep.WriteTable(cmd.OutOrStdout())
}

// workloadRecovery names the recovery run for --workload.
const workloadRecovery = "recovery"

// runPartitions runs the partitions workload.
func runPartitions(cmd *cobra.Command, output, outDir string, cfg bench.PartitionsConfig) error {
	if cfg.BaseDir == "" {
		cfg.BaseDir = os.TempDir()
	}
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && bench.IsTerminal(f) {
		cfg.Progress = f
	}
	rep, err := bench.RunPartitions(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	if err := writeBenchFiles(outDir, bench.WorkloadPartitions, rep.WriteJSON, rep.WriteTable); err != nil {
		return err
	}
	if output == outputJSON {
		return writeJSONDocument(cmd.OutOrStdout(), rep)
	}
	return rep.WriteTable(cmd.OutOrStdout())
}

// writeBenchFiles writes name.json and name.txt into dir (nothing when dir is empty).
func writeBenchFiles(dir, name string, writeJSON, writeTable func(io.Writer) error) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		ext   string
		write func(io.Writer) error
	}{{".json", writeJSON}, {".txt", writeTable}} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+f.ext), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// parseByteSize reads a size such as 512MiB, 4GiB, 1048576 or 64KiB.
func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}, {"", 0}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n <= 0 || n > 1<<(62-u.shift) {
				break
			}
			return n << u.shift, nil
		}
	}
	return 0, usagef("invalid size %q: want a positive count of bytes, KiB, MiB or GiB", s)
}

// benchOutput returns the -o format: the root command's persistent flag when there is one, else table.
func benchOutput(cmd *cobra.Command) (string, error) {
	output, err := cmd.Flags().GetString("output")
	if err != nil {
		return outputTable, nil // no -o flag: run as a command of its own
	}
	switch output {
	case outputTable, outputJSON:
		return output, nil
	}
	return "", usagef("invalid output format %q for -o: want %s or %s", output, outputTable, outputJSON)
}
