package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/mqlog/mqlog"
)

// Config is a whole benchmark: which cases, how many rounds, how long each run lasts.
type Config struct {
	Preset  string // "quick", "full" or "custom", for the report
	BaseDir string // where every run's temporary directory goes; "" is os.TempDir()
	Rounds  int    // interleaved rounds of every case

	Sizes     []int // message sizes of the append workloads, in bytes
	Batches   []int // batch sizes of the single-producer append workload
	Producers int   // goroutines of the concurrent append workload; 0 skips it

	// Limits bounds every append run: a count of messages or a duration, whichever comes first.
	Limits Limits

	ConsumeSize     int   // message size of the consume workload
	ConsumeMessages int64 // messages the consume workload writes and reads back; 0 skips it
	ConsumeCold     bool  // also consume from files dropped from the page cache

	// SyncPolicies are mqlog's policies in the append workload: the first is compared with the baselines,
	// the others are extra rows in the same rounds. Empty means SyncAlways only.
	SyncPolicies []mqlog.SyncPolicy
	// InFlight, when 2 or more, adds to every append case a SyncAlways row of one producer pipelining with
	// DB.AppendAsync, that many batches in flight at most (AppendConfig.InFlight), beside the serial row
	// and the baselines, which keep one. 0 leaves it out.
	InFlight   int
	EndToEnd   bool  // produce and consume at once: latency from Append to Consumer.Next
	Committers []int // goroutines of the commit workload, one case row each; empty skips it
	Compaction bool  // the compaction workload's row (a hook: reports "not available" in this build)
	// Workloads, when not empty, runs only the cases of these workloads (names from Workloads()).
	Workloads []string

	// Child, when set, makes the command that runs one workload in a child process of its own (it must
	// run ServeChild), so that each run's peak RSS is its own; nil runs everything in this process.
	Child func(ctx context.Context) *exec.Cmd

	// Progress, when set, gets a live progress line (carriage returns, no newlines) as runs start and
	// finish. Give it a terminal only.
	Progress io.Writer
}

// Quick is the preset for a first look: a few thousand messages per append run at most, a 32 MiB log to
// consume (smaller logs measure opening the DB more than reading), three rounds, done in about twenty
// seconds on a small virtual machine.
func Quick() Config {
	return Config{
		Preset:          "quick",
		Rounds:          3,
		Sizes:           []int{100, 1024},
		Batches:         []int{1, 16, 256},
		InFlight:        2,
		Producers:       64,
		Limits:          Limits{Messages: 4000, Duration: 150 * time.Millisecond},
		ConsumeSize:     1024,
		ConsumeMessages: 32 << 10,
		ConsumeCold:     true,
		EndToEnd:        true,
		Committers:      []int{1, 8, 64},
		Compaction:      true,
	}
}

// Full is the preset for figures worth reporting: runs of up to 1.5 s, three rounds, a 256 MiB log to
// consume; a few minutes on a small virtual machine.
func Full() Config {
	return Config{
		Preset:          "full",
		Rounds:          3,
		Sizes:           []int{100, 1024},
		Batches:         []int{1, 16, 256},
		InFlight:        2,
		Producers:       64,
		Limits:          Limits{Messages: 2_000_000, Duration: 1500 * time.Millisecond},
		ConsumeSize:     1024,
		ConsumeMessages: 256 << 10,
		ConsumeCold:     true,
		SyncPolicies:    []mqlog.SyncPolicy{mqlog.SyncAlways, mqlog.SyncInterval, mqlog.SyncNever},
		EndToEnd:        true,
		Committers:      []int{1, 8, 64},
		Compaction:      true,
	}
}

// Check reports a config that cannot run.
func (c Config) Check() error {
	if c.Rounds <= 0 {
		return fmt.Errorf("mqlog/bench: rounds must be positive, not %d", c.Rounds)
	}
	for _, s := range c.Sizes {
		if s <= 0 {
			return fmt.Errorf("mqlog/bench: message size must be positive, not %d", s)
		}
	}
	for _, b := range c.Batches {
		if b <= 0 {
			return fmt.Errorf("mqlog/bench: batch size must be positive, not %d", b)
		}
	}
	if c.InFlight < 0 {
		return fmt.Errorf("mqlog/bench: in-flight batches must not be negative, not %d", c.InFlight)
	}
	if c.Producers < 0 {
		return fmt.Errorf("mqlog/bench: producers must not be negative, not %d", c.Producers)
	}
	if c.Limits.Messages <= 0 && c.Limits.Duration <= 0 {
		return fmt.Errorf("mqlog/bench: a run needs a message count or a duration")
	}
	for _, n := range c.Committers {
		if n <= 0 {
			return fmt.Errorf("mqlog/bench: committers must be positive, not %d", n)
		}
	}
	if c.EndToEnd && len(c.Sizes) == 0 {
		return fmt.Errorf("mqlog/bench: the end-to-end workload takes the first message size: give one")
	}
	for _, w := range c.Workloads {
		if !slices.Contains(Workloads(), w) {
			return fmt.Errorf("mqlog/bench: no workload %q: want one of %s", w, strings.Join(Workloads(), ", "))
		}
	}
	if c.ConsumeMessages > 0 && c.ConsumeSize <= 0 {
		return fmt.Errorf("mqlog/bench: consume message size must be positive, not %d", c.ConsumeSize)
	}
	return nil
}
