// Command peers runs the side-by-side comparison of mqlog, the raw baselines and the peers a user would
// pick instead (bench/peers), prints the table and writes the JSON report, a Markdown table of ratios and
// SVG charts into an output directory. Every run happens in a child process of its own (this binary with
// the argument "child"), whose peak RSS the report gives, unless --in-process.
//
// Usage:
//
//	go run ./cmd/peers [--out DIR] [--quick] [--rounds N] [--duration D] [--systems a,b] [--base-dir DIR]
//	go run ./cmd/peers --partitions before.json[,after.json] [--out DIR]
//
// The second form runs nothing: it draws partitions.svg into DIR from reports of `mqlog bench --workload
// partitions -o json` (or its --out), one line per report.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/mqlog/mqlog/bench"
	"github.com/mqlog/mqlog/bench/peers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 1 && args[0] == "child" { // one run, described on stdin: see peers.Config.Child
		return peers.ServeChild(context.Background(), os.Stdin, os.Stdout)
	}
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	out := fs.String("out", "results", "directory for peers.json, peers.txt, peers.md and the SVG charts")
	quick := fs.Bool("quick", false, "one round of a few hundred messages per run (a smoke test)")
	rounds := fs.Int("rounds", 0, "interleaved rounds of every case (default 5, 1 with --quick)")
	duration := fs.Duration("duration", 0, "time budget of each append run (default 250ms)")
	systems := fs.String("systems", "", "comma-separated systems to compare (default all; raw is always included)")
	baseDir := fs.String("base-dir", "", "directory for the runs' temporary directories (default the system's temp directory)")
	workloads := fs.String("workloads", "", "comma-separated workloads to run (default all): append, append-concurrent, consume-warm, consume-cold")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (pprof)")
	sizes := fs.String("sizes", "", "comma-separated message sizes of the append workloads (default 100,1024)")
	batches := fs.String("batches", "", "comma-separated batch sizes of the append workload (default 1,16,256)")
	inProcess := fs.Bool("in-process", false, "run every run in this process (no child processes, no peak RSS)")
	from := fs.String("from", "", "run nothing: render peers.txt, peers.md and the throughput charts again from this peers.json")
	partitions := fs.String("partitions", "", "run nothing: draw partitions.svg from these reports of mqlog bench --workload partitions (comma-separated JSON files)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		return render(*from, *out)
	}
	if *partitions != "" {
		return drawPartitions(strings.Split(*partitions, ","), *out)
	}
	cfg := peers.Default()
	if *quick {
		cfg = peers.Quick()
	}
	if *rounds > 0 {
		cfg.Rounds, cfg.Preset = *rounds, cfg.Preset+"+custom"
	}
	if *duration > 0 {
		cfg.Limits.Duration, cfg.Preset = *duration, cfg.Preset+"+custom"
	}
	if *systems != "" {
		sel, err := peers.SelectSystems(strings.Split(*systems, ","))
		if err != nil {
			return err
		}
		cfg.Systems, cfg.Preset = sel, cfg.Preset+"+custom"
	}
	for _, list := range []struct {
		flag string
		dst  *[]int
	}{{*sizes, &cfg.Sizes}, {*batches, &cfg.Batches}} {
		if list.flag == "" {
			continue
		}
		*list.dst = nil
		for _, f := range strings.Split(list.flag, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("bad number %q in %q", f, list.flag)
			}
			*list.dst = append(*list.dst, n)
		}
		cfg.Preset += "+custom"
	}
	if *workloads != "" {
		cfg.Workloads, cfg.Preset = strings.Split(*workloads, ","), cfg.Preset+"+custom"
	}
	if !*inProcess {
		cfg.Child = childCommand
	}
	cfg.BaseDir = *baseDir
	if cfg.BaseDir == "" {
		cfg.BaseDir = os.TempDir()
	}
	if bench.IsTerminal(os.Stderr) {
		cfg.Progress = os.Stderr
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rep, err := peers.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Command = strings.TrimSpace("go run ./cmd/peers " + strings.Join(args, " "))
	if err := write(rep, *out, true); err != nil {
		return err
	}
	fmt.Printf("wrote peers.json, peers.txt, peers.md and the charts to %s in %.0fs\n", *out, time.Since(start).Seconds())
	return nil
}

// childCommand makes the command that runs one run in a child process: this binary with "child".
func childCommand(ctx context.Context) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.CommandContext(ctx, exe, "child")
}

// drawPartitions draws partitions.svg into out from the partitions reports in files.
func drawPartitions(files []string, out string) error {
	var runs []peers.PartitionsRun
	for _, f := range files {
		run, err := peers.ReadPartitionsRun(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(out, "partitions.svg")
	if err := peers.WritePartitionsChart(path, runs); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

// render writes peers.txt, peers.md and the throughput charts into out from the report in the JSON file
// path.
func render(path, out string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := peers.ReadReport(f)
	if err != nil {
		return err
	}
	return write(rep, out, false)
}

// write writes peers.txt (the wide table), peers.md and the charts it can draw into out, and with all also
// peers.json; it prints the table that fits 100 columns.
func write(rep *peers.Report, out string, all bool) error {
	var table, wide, md, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		return err
	}
	if err := rep.WriteWideTable(&wide); err != nil {
		return err
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	files := map[string][]byte{"peers.txt": wide.Bytes(), "peers.md": md.Bytes()}
	if all {
		files["peers.json"] = js.Bytes()
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	// From a saved report only the throughput charts can be drawn: the latency histograms are not in it.
	if _, err := rep.WriteCharts(out); err != nil {
		return err
	}
	_, err := os.Stdout.Write(table.Bytes())
	return err
}
