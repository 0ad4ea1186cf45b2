package mqlog

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqlog/mqlog/wal"
)

// Errors of the root API speak as mqlog ("mqlog: ..."), not as the layer under it ("mqlog/wal: ..."), and
// errors.Is still finds both the root's sentinel and the layer's error it stands for (issue 15, item 5).
// Before the facade translated them, each of these said "mqlog/wal:" and a closed log's error was not
// ErrClosed.
func TestErrorsSayMqlog(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if fail.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, "broken-0") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	db := openMemDB(t, fs)
	ctx := context.Background()
	if _, err := db.Append(ctx, "t", Message{Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, "broken", Message{Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	c, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	q, err := db.Queue("t", "q", QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}

	type check struct {
		name   string
		err    error
		is     []error
		prefix string
	}
	var checks []check
	add := func(name string, err error, prefix string, is ...error) {
		checks = append(checks, check{name: name, err: err, is: is, prefix: prefix})
	}
	readErr := func(seq func(func(Record, error) bool)) error {
		var last error
		for _, err := range seq {
			last = err
		}
		return last
	}
	add("Read past the end", readErr(db.Read("t", 0, 99)), "mqlog: offset out of range", ErrOutOfRange, wal.ErrOutOfRange)
	add("ReadNoCopy past the end", readErr(db.ReadNoCopy("t", 0, 99)), "mqlog: offset out of range", ErrOutOfRange, wal.ErrOutOfRange)
	followCtx, cancel := context.WithTimeout(ctx, time.Millisecond)
	add("Follow past the end", readErr(db.Follow(followCtx, "t", 0, 99)), "mqlog: offset out of range", ErrOutOfRange, wal.ErrOutOfRange)
	cancel()
	add("Consumer.CommitOffset past the end", c.CommitOffset(0, 99), "mqlog: offset out of range", ErrOutOfRange, wal.ErrOutOfRange)
	add("Consumer.Seek past the end", c.Seek(0, 99), "mqlog: offset out of range", ErrOutOfRange, wal.ErrOutOfRange)

	fail.Store(true)
	_, err = db.Append(ctx, "broken", Message{Value: []byte("b")})
	add("Append after a failed write", err, "mqlog: log stopped after an I/O error", ErrFailStop, wal.ErrFailStop, errorfs.ErrInjected)
	_, err = db.AppendPartition(ctx, "broken", 0, Message{Value: []byte("c")})
	add("AppendPartition on a stopped log", err, "mqlog: log stopped after an I/O error", ErrFailStop, wal.ErrFailStop, errorfs.ErrInjected)
	fail.Store(false)

	if err := db.Close(); err != nil && !errors.Is(err, errorfs.ErrInjected) {
		t.Fatal(err)
	}
	_, err = c.Next(ctx)
	add("Consumer.Next after Close", err, "mqlog: ", ErrClosed)
	_, err = c.Poll(ctx, 10)
	add("Consumer.Poll after Close", err, "mqlog: ", ErrClosed)
	_, err = q.Next(ctx)
	add("Queue.Next after Close", err, "mqlog: ", ErrClosed)
	add("Read after Close", readErr(db.Read("t", 0, 0)), "mqlog: ", ErrClosed)
	_, err = db.OffsetForTime("t", 0, time.Now())
	add("OffsetForTime after Close", err, "mqlog: ", ErrClosed)

	for _, c := range checks {
		switch {
		case c.err == nil:
			t.Errorf("%s: no error", c.name)
			continue
		case !strings.HasPrefix(c.err.Error(), c.prefix) || strings.Contains(c.err.Error(), "mqlog/wal"):
			t.Errorf("%s: %q, want it to start with %q and not to say mqlog/wal", c.name, c.err, c.prefix)
		}
		for _, target := range c.is {
			if !errors.Is(c.err, target) {
				t.Errorf("%s: %q is not %q", c.name, c.err, target)
			}
		}
	}
}

// A partial Append's *AppendError is returned as it is (errors.As and a type switch both find it), and
// each failed partition's error says mqlog: too.
func TestAppendErrorSaysMqlog(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if fail.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, "t-1") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	db := openMemDB(t, fs)
	defer db.Close()
	if err := db.CreateTopic("t", TopicConfig{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for i := range 10 {
		msgs = append(msgs, Message{Key: []byte{byte('a' + i)}, Value: []byte("v")})
	}
	fail.Store(true)
	_, err := db.Append(context.Background(), "t", msgs...)
	ae, ok := err.(*AppendError)
	if !ok || !errors.Is(err, ErrFailStop) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Append = %T %v, want an *AppendError", err, err)
	}
	if strings.Contains(ae.Error(), "mqlog/wal") || !strings.Contains(ae.Errs[1].Error(), "mqlog: log stopped") {
		t.Fatalf("%q; partition 1: %q", ae, ae.Errs[1])
	}
	if err := db.Close(); err == nil || strings.Contains(err.Error(), "mqlog/wal") || !errors.Is(err, ErrFailStop) {
		t.Fatalf("Close of a DB with a stopped log: %v", err)
	}
}
