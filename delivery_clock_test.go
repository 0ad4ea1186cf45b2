package mqlog

import (
	"sync"
	"time"
)

// testClock is a clock that tests move on instead of sleeping: the work queue's leases, delays and
// delivery times, and the duplicate windows, run on it. It starts at the real time, so that record
// timestamps (taken by the append path from the real clock) and the windows agree until a test moves it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// use makes c the clock of db's work queues and duplicate windows.
func (c *testClock) use(db *DB) {
	db.queues.SetClock(c.now)
	db.dedup.SetClock(c.now)
}

// advance moves c on by d and wakes every waiting Next of db.
func (c *testClock) advance(db *DB, d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	db.queues.Wake()
}
