package index

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleLogger is Pebble's Logger over a *slog.Logger, so that Pebble never writes to stderr on its own.
type pebbleLogger struct {
	logger *slog.Logger
}

var _ pebble.Logger = pebbleLogger{}

// newPebbleLogger returns a Pebble logger writing to logger, or discarding everything when logger is nil.
func newPebbleLogger(logger *slog.Logger) pebbleLogger {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return pebbleLogger{logger: logger.With("component", "pebble")}
}

// Infof logs a Pebble message at level Info.
func (l pebbleLogger) Infof(format string, args ...any) {
	l.log(slog.LevelInfo, format, args)
}

// Errorf logs a Pebble message at level Error.
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log(slog.LevelError, format, args)
}

// Fatalf logs a Pebble message at level Error and panics with it. Pebble calls Fatalf when it cannot
// continue safely; it expects the call not to return, and a panic (unlike os.Exit) lets the process's
// own handlers and deferred calls see what happened.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := message(format, args)
	l.logger.Log(context.Background(), slog.LevelError, msg, "fatal", true)
	panic("mqlog/index: pebble: " + msg)
}

func (l pebbleLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.Log(ctx, level, message(format, args))
}

// message formats a Pebble log message without its trailing newline.
func message(format string, args []any) string {
	return strings.TrimRight(fmt.Sprintf(format, args...), "\n")
}
