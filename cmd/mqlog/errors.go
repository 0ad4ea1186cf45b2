package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/kafka"
)

// Exit codes, as the root command's help documents them.
const (
	exitOK    = 0 // success
	exitError = 1 // an error, or corruption found
	exitUsage = 2 // a usage error: unknown command or flag, bad flag value
)

// usageError is a mistake on the command line (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode returns the process's exit code for err, which is not nil.
func exitCode(err error) int {
	var usage *usageError
	var verify *verifyError
	var corrupt *corruptionFound
	switch {
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &verify):
		return exitVerifyError
	case errors.As(err, &corrupt):
		return exitCorrupt
	}
	return exitError
}

// lockedError reports that another process holds the data directory's writer lock.
type lockedError struct {
	dir string
	err error // wraps mqlog.ErrLocked
}

func (e *lockedError) Error() string {
	msg := fmt.Sprintf("data directory %s is in use by another mqlog process (%s held%s)", e.dir, mqlog.LockFileName, lockHolder(e.dir))
	if info, err := kafka.FindServing(e.dir); err == nil {
		// A command that cannot go through the server's listener (repair, compact, consume --queue, ...).
		msg += fmt.Sprintf("; it serves Kafka clients on %s, which this command cannot go through", info.Listeners[0].DialAddress())
	}
	return msg
}

// lockHolder returns " by pid N, started T" from the LOCK file of dir, in which the writer holding it
// records itself, or "" when it says nothing readable.
func lockHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, mqlog.LockFileName))
	if err != nil || len(b) > 200 {
		return ""
	}
	var pid int
	var started string
	if n, _ := fmt.Sscanf(string(b), "pid %d started %s", &pid, &started); n != 2 {
		return ""
	}
	return fmt.Sprintf(" by pid %d, started %s", pid, started)
}

func (e *lockedError) Unwrap() error { return e.err }

// interruptedError reports a SIGINT or SIGTERM that arrived while the directory was being opened.
type interruptedError struct{ dir string }

func (e *interruptedError) Error() string {
	return fmt.Sprintf("interrupted while opening %s", e.dir)
}

// whileOpening runs open, which may block (a slow or full disk, a file that never answers), and returns its
// result; SIGINT or SIGTERM (ctx done) makes it return with an *interruptedError, after a short grace for
// an open about to finish. The command then ends and the process exits, which ends the open and releases
// the directory's lock; a value the open returns after that (in-process callers: tests) is closed.
func whileOpening[T any](ctx context.Context, dir string, open func() (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, &interruptedError{dir: dir}
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	closeLate := func(r result) {
		if c, ok := any(r.v).(io.Closer); ok && r.err == nil {
			c.Close()
		}
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-done:
			closeLate(r)
		case <-time.After(openGrace):
			go func() { closeLate(<-done) }()
		}
		return zero, &interruptedError{dir: dir}
	}
}

// openGrace is how long an interrupted open may still finish (and be closed) before the command ends.
const openGrace = 500 * time.Millisecond

// openWriter opens the data directory for writing (creating it when missing), taking its lock.
func (a *app) openWriter() (*mqlog.DB, error) { return a.openWriterWith(a.dbOptions()) }

// openWriterWith is openWriter with options of the command's own (a.dbOptions() changed).
func (a *app) openWriterWith(opts *mqlog.Options) (*mqlog.DB, error) {
	db, err := whileOpening(a.ctx, a.dir, func() (*mqlog.DB, error) { return mqlog.Open(a.dir, opts) })
	if errors.Is(err, mqlog.ErrLocked) {
		return nil, &lockedError{dir: a.dir, err: err}
	}
	if err == nil {
		a.warnUnknown(db)
	}
	return db, err
}

// openExistingWriter is openWriter for commands that have nothing to do in a directory that does not
// exist: they fail instead of creating it.
func (a *app) openExistingWriter() (*mqlog.DB, error) {
	if err := a.checkDirExists(); err != nil {
		return nil, err
	}
	return a.openWriter()
}

// openReader opens the data directory read-only: no lock, nothing created or written (DESIGN.md decision 8).
func (a *app) openReader() (*mqlog.DB, error) {
	db, err := whileOpening(a.ctx, a.dir, func() (*mqlog.DB, error) { return mqlog.OpenReadOnly(a.dir, a.dbOptions()) })
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		if dirErr := a.checkDirExists(); dirErr != nil {
			return nil, dirErr
		}
	}
	if err == nil {
		a.warnUnknown(db)
	}
	return db, err
}

// warnUnknown says on stderr which entries of the topics directory belong to no topic.
func (a *app) warnUnknown(db *mqlog.DB) {
	for _, path := range db.UnknownEntries() {
		fmt.Fprintf(a.stderr, "warning: %s belongs to no topic; left as it is (run mqlog verify)\n", path)
	}
}

// checkDirExists returns a clear error when the data directory is missing.
func (a *app) checkDirExists() error {
	info, err := os.Stat(a.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist (set --dir or $%s)", a.dir, envDir)
	case err != nil:
		return err
	case !info.IsDir():
		return fmt.Errorf("data directory %s is not a directory", a.dir)
	}
	return nil
}

// readIndex is mqlog.ReadIndex, interruptible.
func (a *app) readIndex() (*mqlog.IndexSnapshot, error) {
	return whileOpening(a.ctx, a.dir, func() (*mqlog.IndexSnapshot, error) { return mqlog.ReadIndex(a.dir, nil) })
}

// lockedOr turns mqlog.ErrLocked into the CLI's clear message and returns any other error as it is.
func lockedOr(dir string, err error) error {
	if errors.Is(err, mqlog.ErrLocked) {
		return &lockedError{dir: dir, err: err}
	}
	return err
}
