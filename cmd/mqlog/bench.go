package main

import (
	"os"
	"time"

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
                     messages of --sizes bytes, one Append call per batch
  append-concurrent  --producers goroutines each appending single messages durably,
                     against one producer in the same rounds (group commit at work)
  consume            a log of 1 KiB messages read back whole from the page cache

Each run lasts until its message count or its time budget is spent, and works in a
fresh temporary directory under --base-dir (default: the system's temp directory, so
the disk measured is that one's), removed afterwards. The data directory (--dir) is not
used. --quick (the default) finishes in well under half a minute; --full takes a few
minutes.`

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
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure append and consume throughput and latency against raw-file baselines",
		Long:  benchLong,
		Example: `  mqlog bench
  mqlog bench --full -o json > bench.json
  mqlog bench --sizes 4096 --batches 1,64 --rounds 5 --base-dir /mnt/nvme/tmp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			output, err := benchOutput(cmd)
			if err != nil {
				return err
			}
			if quick && full {
				return usagef("--quick and --full are exclusive")
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
			for _, name := range []string{"rounds", "sizes", "batches", "producers", "duration"} {
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
	cmd.MarkFlagDirname("base-dir")
	return cmd
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
