package main

import (
	"context"
	"testing"
	"time"
)

// TestNotify runs the service with a restart half-way and checks its promises: every notification is
// sent and acked or (poison) dead-lettered; none is sent after its ack, before its delivery time, out of
// its customer's order, or at the same time as another of its customer's on the channel; every producer
// retry is answered by the duplicate window, before and after the restart.
func TestNotify(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	if testing.Short() {
		cfg.Notifications = 300
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *rep)
	for _, v := range rep.Violations {
		t.Error(v)
	}
	if rep.Enqueued != cfg.Notifications {
		t.Errorf("enqueued %d of %d", rep.Enqueued, cfg.Notifications)
	}
	if rep.Sent != cfg.Notifications-rep.Poison || rep.DeadLettered != rep.Poison || rep.Poison == 0 {
		t.Errorf("sent %d and dead-lettered %d of %d (%d poison)", rep.Sent, rep.DeadLettered, cfg.Notifications, rep.Poison)
	}
	if rep.Duplicates == 0 || rep.Reminders == 0 || rep.Failures == 0 || rep.Urgent == 0 || rep.LeftAtRestart == 0 || rep.RemindersAfter == 0 {
		t.Errorf("the run did not exercise every feature: %+v", *rep)
	}
}

// TestMain runs the program's main path once: it prints its summary and succeeds.
func TestRunProgram(t *testing.T) {
	if err := run(t.TempDir(), 100, 2); err != nil {
		t.Fatal(err)
	}
}
