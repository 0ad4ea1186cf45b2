package main

import (
	"log/slog"

	"github.com/mqlog/mqlog"
)

// logLevels are the values of --log-level.
var logLevels = []string{"debug", "info", "warn", "error"}

// setUpLogging makes a.logger from --log-level: slog's text format on stderr, the engine's notes
// (recovery, retention, compaction, Pebble) from that level up.
func (a *app) setUpLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usagef("invalid --log-level %q: want debug, info, warn or error", a.logLevel)
	}
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// dbOptions returns the options every command opens the data directory with.
func (a *app) dbOptions() *mqlog.Options {
	o := &mqlog.Options{Logger: a.logger}
	if o.Logger == nil { // (a command run before the root's pre-run, as completion)
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if testOptions != nil {
		testOptions(o)
	}
	return o
}

// testOptions, when set by a test, changes the options of every open (a filesystem that injects faults).
var testOptions func(*mqlog.Options)
