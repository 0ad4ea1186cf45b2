// Command peers runs the side-by-side comparison of mqlog, the raw baselines and the peers a user would
// pick instead (bench/peers), prints the table and writes the JSON report, a Markdown table of ratios and
// SVG charts into an output directory.
//
// Usage:
//
//	go run ./cmd/peers [--out DIR] [--quick] [--rounds N] [--duration D] [--systems a,b] [--base-dir DIR]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
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
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	out := fs.String("out", "results", "directory for peers.json, peers.txt, peers.md and the SVG charts")
	quick := fs.Bool("quick", false, "one round of a few hundred messages per run (a smoke test)")
	rounds := fs.Int("rounds", 0, "interleaved rounds of every case (default 5, 1 with --quick)")
	duration := fs.Duration("duration", 0, "time budget of each append run (default 250ms)")
	systems := fs.String("systems", "", "comma-separated systems to compare (default all; raw is always included)")
	baseDir := fs.String("base-dir", "", "directory for the runs' temporary directories (default the system's temp directory)")
	workloads := fs.String("workloads", "", "comma-separated workloads to run (default all): append, append-concurrent, consume-warm, consume-cold")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (pprof)")
	if err := fs.Parse(args); err != nil {
		return err
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
	if *workloads != "" {
		cfg.Workloads, cfg.Preset = strings.Split(*workloads, ","), cfg.Preset+"+custom"
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
	rep.Command = "go run ./cmd/peers " + strings.Join(args, " ")
	var table, md, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		return err
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"peers.txt": table.Bytes(), "peers.md": md.Bytes(), "peers.json": js.Bytes()} {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			return err
		}
	}
	charts, err := rep.WriteCharts(*out)
	if err != nil {
		return err
	}
	os.Stdout.Write(table.Bytes())
	fmt.Printf("wrote peers.json, peers.txt, peers.md and %d charts to %s in %.0fs\n", len(charts), *out, time.Since(start).Seconds())
	return nil
}
