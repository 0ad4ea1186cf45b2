package main

import (
	"bufio"
	"context"
	"errors"

	"github.com/mqlog/mqlog"
)

// consumeQueue takes records from a work-queue group: each message it prints is acked once stdout has it
// (at least once: a message printed but not acked, say on a crash, is delivered again), or, with --nak,
// returned to the queue when the command ends.
func (a *app) consumeQueue(ctx context.Context, o consumeOptions, printer *recordPrinter) (err error) {
	if o.nak && o.follow {
		return usagef("--nak returns the messages when consume ends, so it cannot --follow")
	}
	db, err := a.openExistingWriter()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	q, err := db.Queue(o.topic, o.queue, mqlog.QueueOptions{})
	if err != nil {
		return err
	}
	var held []*mqlog.QueueMessage // --nak: returned at the end
	defer func() {
		for _, m := range held {
			err = errors.Join(err, m.Nak(0))
		}
		err = errors.Join(err, q.Close())
	}()

	// A context that is already done: Next with it returns a message only if one is ready now.
	ready, cancelReady := context.WithCancel(context.Background())
	cancelReady()

	printer.w = bufio.NewWriter(a.stdout)
	var printed int64
	for o.count == 0 || printed < o.count {
		wait := ready
		if o.follow {
			wait = ctx
		}
		m, err := q.Next(wait)
		if err != nil {
			if isCancelled(err) {
				return nil // nothing ready (or interrupted)
			}
			return err
		}
		// Take what else is ready now, then print it all, flush, and ack (or hold) each.
		batch := []*mqlog.QueueMessage{m}
		for len(batch) < groupBatchMax && (o.count == 0 || printed+int64(len(batch)) < o.count) {
			m, err := q.Next(ready)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		for _, m := range batch {
			if err := printer.print(&m.Record); err != nil {
				return errors.Join(err, nakAll(batch))
			}
		}
		if err := printer.w.Flush(); err != nil {
			return errors.Join(err, nakAll(batch)) // not acked: delivered again
		}
		for _, m := range batch {
			if o.nak {
				held = append(held, m)
			} else if err := m.Ack(); err != nil {
				return err
			}
		}
		printed += int64(len(batch))
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// nakAll returns messages that were not printed to the queue.
func nakAll(msgs []*mqlog.QueueMessage) error {
	var errs []error
	for _, m := range msgs {
		errs = append(errs, m.Nak(0))
	}
	return errors.Join(errs...)
}
