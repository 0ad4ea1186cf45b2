// Command notify is a notification service on mqlog's work queue: producers enqueue push, email and SMS
// notifications with priorities, some as reminders for later, each with a message id; a pool of senders
// per channel sends them through a provider that fails now and then; failed sends are retried with
// back-off, notifications that can never be sent go to a dead-letter topic, and a customer's
// notifications on a channel go out one at a time, in order. Half-way, the service stops and starts
// again on the same data directory: nothing is lost, and nothing acked is sent twice.
//
//	go run ./examples/notify            # in a temporary directory
//	go run ./examples/notify -dir DIR -n 2000
//
// What each part uses: priorities are a topic per level read by DB.PriorityQueue; reminders are
// Message.DeliverAt; producer retries are answered by the duplicate window of Message.ID; retries back off
// by QueueOptions.BackOff; poison notifications reach QueueOptions.DeadLetterTopic after MaxDeliver;
// per-customer order is QueueOptions.OrderedKeys.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	dir := flag.String("dir", "", "data directory (default: a new temporary one, removed at the end)")
	n := flag.Int("n", 600, "notifications to enqueue")
	seed := flag.Uint64("seed", 1, "seed of the notifications and the failures")
	flag.Parse()
	if err := run(*dir, *n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, seed uint64) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mqlog-notify-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg := DefaultConfig(dir)
	cfg.Notifications, cfg.Seed = n, seed
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("enqueued %d notifications (%d urgent, %d reminders, %d poison) in %v, with a restart half-way\n",
		rep.Enqueued, rep.Urgent, rep.Reminders, rep.Poison, rep.Elapsed.Round(time.Millisecond))
	fmt.Printf("producer retries answered by the duplicate window: %d\n", rep.Duplicates)
	fmt.Printf("sent and acked: %d, in %d attempts (%d failed and were retried with back-off)\n", rep.Sent, rep.Attempts, rep.Failures)
	fmt.Printf("at the restart %d were not done yet (%d of them reminders); %d had been sent without an ack and were sent again\n",
		rep.LeftAtRestart, rep.RemindersAfter, rep.ResentAfterStop)
	fmt.Printf("dead-lettered: %d\n", rep.DeadLettered)
	fmt.Printf("mean wait before the first attempt: urgent %v, normal %v\n", rep.UrgentWait.Round(time.Microsecond), rep.NormalWait.Round(time.Microsecond))
	if len(rep.Violations) > 0 {
		for _, v := range rep.Violations {
			fmt.Println("VIOLATION:", v)
		}
		return fmt.Errorf("%d promises broken", len(rep.Violations))
	}
	fmt.Println("every notification sent or dead-lettered; none out of order, early, or sent twice after its ack")
	return nil
}
