package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mqlog/mqlog"
)

// Recovery modes: how the writer of the log stopped before it is opened again.
const (
	RecoveryClean = "clean" // DB.Close
	RecoveryKill  = "kill"  // SIGKILL while appending under SyncInterval, in a child process
)

// workloadFill is the child-process workload of a kill recovery run: fill Spec.BaseDir itself (not a
// temporary directory in it) with Spec.Messages messages, then SIGKILL itself.
const workloadFill = "fill-and-kill"

// RecoveryConfig is the open and recovery time run: for each log size, a log of MessageSize-byte
// messages is written, the writer stops (cleanly, or killed in a child process made by Child), and
// mqlog.Open is timed, cold (the log's files dropped from the page cache) and then warm.
type RecoveryConfig struct {
	BaseDir     string
	LogBytes    []int64 // payload bytes of each log
	MessageSize int
	Modes       []string // RecoveryClean, RecoveryKill
	// Child makes the command that runs ServeChild; RecoveryKill needs it.
	Child func(ctx context.Context) *exec.Cmd
	// Progress, when set, gets a line as each log is written and opened.
	Progress io.Writer
}

// RecoveryResult is one log size and mode.
type RecoveryResult struct {
	LogBytes       int64   `json:"log_bytes"` // payload bytes written
	Mode           string  `json:"mode"`
	Messages       int64   `json:"messages"`      // messages written
	Recovered      int64   `json:"recovered"`     // the partition's end offset after Open
	WriteSeconds   float64 `json:"write_seconds"` // to write the log (SyncNever, or SyncInterval for kill)
	OpenColdMS     float64 `json:"open_cold_ms"`  // Open with the log's files dropped from the page cache
	OpenWarmMS     float64 `json:"open_warm_ms"`  // Open again right after, files cached
	DiskPerPayload float64 `json:"disk_bytes_per_payload_byte"`
}

// RecoveryReport is the result of RunRecovery.
type RecoveryReport struct {
	Version int              `json:"version"`
	Started time.Time        `json:"started"`
	Machine Machine          `json:"machine"`
	Results []RecoveryResult `json:"results"`
}

// RunRecovery runs cfg: a long run (several GiB of writes), separate from Run.
func RunRecovery(ctx context.Context, cfg RecoveryConfig) (*RecoveryReport, error) {
	if cfg.MessageSize <= 0 || len(cfg.LogBytes) == 0 {
		return nil, fmt.Errorf("mqlog/bench: recovery needs log sizes and a positive message size")
	}
	rep := &RecoveryReport{Version: ReportVersion, Started: time.Now().UTC(), Machine: machineInfo(cfg.BaseDir)}
	for _, size := range cfg.LogBytes {
		for _, mode := range cfg.Modes {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "\r\x1b[Krecovery: writing %d MiB, %s", size>>20, mode)
			}
			res, err := recoveryRun(ctx, cfg, size, mode)
			if err != nil {
				return nil, fmt.Errorf("mqlog/bench: recovery of %d bytes, %s: %w", size, mode, err)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	if cfg.Progress != nil {
		fmt.Fprint(cfg.Progress, "\r\x1b[K")
	}
	return rep, nil
}

func recoveryRun(ctx context.Context, cfg RecoveryConfig, size int64, mode string) (res RecoveryResult, err error) {
	res = RecoveryResult{LogBytes: size, Mode: mode, Messages: max(1, size/int64(cfg.MessageSize))}
	dir, cleanup, err := tempDir(cfg.BaseDir)
	if err != nil {
		return res, err
	}
	defer cleanup()
	start := time.Now()
	switch mode {
	case RecoveryClean:
		err = fill(ctx, dir, cfg.MessageSize, res.Messages, mqlog.SyncNever)
	case RecoveryKill:
		if cfg.Child == nil {
			return res, errors.New("a kill run needs a child process command")
		}
		err = fillAndKillChild(ctx, cfg.Child, Spec{Workload: workloadFill, BaseDir: dir, Size: cfg.MessageSize, Messages: res.Messages})
	default:
		return res, fmt.Errorf("unknown recovery mode %q", mode)
	}
	if err != nil {
		return res, err
	}
	res.WriteSeconds = time.Since(start).Seconds()
	alloc, _, err := DiskUsage(dir)
	if err != nil {
		return res, err
	}
	res.DiskPerPayload = float64(alloc) / float64(res.Messages*int64(cfg.MessageSize))
	if err := DropPageCache(dir); err != nil {
		return res, err
	}
	for i, ms := range []*float64{&res.OpenColdMS, &res.OpenWarmMS} {
		t0 := time.Now()
		db, err := mqlog.Open(dir, nil)
		if err != nil {
			return res, err
		}
		*ms = float64(time.Since(t0).Microseconds()) / 1e3
		if i == 0 {
			parts, err := db.Partitions(Topic)
			if err == nil && len(parts) > 0 {
				res.Recovered = parts[0].HighWatermark
			}
			err = errors.Join(err, db.Close())
			if err != nil {
				return res, err
			}
			continue
		}
		if err := db.Close(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// fill writes messages messages of size bytes to a one-partition topic in dir, in batches of 256.
func fill(ctx context.Context, dir string, size int, messages int64, policy mqlog.SyncPolicy) (err error) {
	db, err := mqlog.Open(dir, &mqlog.Options{Sync: policy})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	return fillOpen(ctx, db, size, messages)
}

func fillOpen(ctx context.Context, db *mqlog.DB, size int, messages int64) error {
	if err := db.CreateTopic(Topic, mqlog.TopicConfig{Partitions: 1}); err != nil {
		return err
	}
	msgs := make([]mqlog.Message, consumeWriteBatch)
	return writeBatches(ctx, messages, size, func(batch [][]byte) error {
		for i, v := range batch {
			msgs[i] = mqlog.Message{Value: v}
		}
		_, err := db.Append(ctx, Topic, msgs[:len(batch)]...)
		return err
	})
}

// fillAndKill is the child's side of a kill run: fill under SyncInterval, then SIGKILL this process
// without closing anything.
func fillAndKill(ctx context.Context, s Spec) error {
	db, err := mqlog.Open(s.BaseDir, &mqlog.Options{Sync: mqlog.SyncInterval})
	if err != nil {
		return err
	}
	if err := fillOpen(ctx, db, s.Size, s.Messages); err != nil {
		return err
	}
	return syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// fillAndKillChild runs a fill-and-kill spec in a child process and checks that it died of SIGKILL.
func fillAndKillChild(ctx context.Context, newCmd func(context.Context) *exec.Cmd, s Spec) error {
	_, err := runChild(ctx, newCmd, s)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil
		}
	}
	if err == nil {
		return errors.New("the child process was not killed")
	}
	return err
}

// WriteTable writes r as a text table.
func (r *RecoveryReport) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "mqlog bench --recovery: %s/%s, %d CPUs, %s, %s\n", m.GOOS, m.GOARCH, m.CPUs, m.GoVersion, OrDash(m.Filesystem))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "log MiB\tstop\tmessages\trecovered\twrite s\topen cold ms\topen warm ms\tdisk/B\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%.2f\t%.1f\t%.1f\t%.2f\t\n", res.LogBytes>>20, res.Mode, res.Messages,
			res.Recovered, res.WriteSeconds, res.OpenColdMS, res.OpenWarmMS, res.DiskPerPayload)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, strings.TrimSpace(`
clean: written under SyncNever and closed; kill: written under SyncInterval in a child process that
SIGKILLs itself (the kernel keeps what it wrote; recovery re-validates the tail past the durable point).
open cold: mqlog.Open after fsync + posix_fadvise(DONTNEED) on every file of the log.`))
	return err
}

// WriteJSON writes r as an indented JSON document.
func (r *RecoveryReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
