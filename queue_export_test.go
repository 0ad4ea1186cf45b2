package mqlog

import "time"

// QueueSavesForTest returns how many synced saves of work-queue state db has made, for the external
// benchmarks' acks-per-save figure.
func QueueSavesForTest(db *DB) int64 { return db.queues.Metrics().Saves }

// workQueueFloors returns the durable floors of topic's work-queue groups (an empty map when it has
// none), as retention by interest sees them.
func (db *DB) workQueueFloors(topic string) (map[int32]int64, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return nil, err
	}
	floors, err := db.queues.Floors(t)
	if floors == nil {
		floors = map[int32]int64{}
	}
	return floors, err
}

// incarnation returns topic's incarnation, for tests that write the index directly.
func (db *DB) incarnation(topic string) uint64 {
	t, err := db.catalog.Get(topic)
	if err != nil {
		panic(err)
	}
	return t.Incarnation()
}

// SetQueueClockForTest makes now the clock of db's work queues (leases, delays, delivery times) and
// duplicate windows, for the external benchmarks of delayed delivery; WakeQueuesForTest wakes every
// waiting Next after the clock moved.
func SetQueueClockForTest(db *DB, now func() time.Time) {
	db.queues.SetClock(now)
	db.dedup.SetClock(now)
}

// WakeQueuesForTest wakes every waiting Next of db.
func WakeQueuesForTest(db *DB) { db.queues.Wake() }

// QueueScheduledForTest returns how many messages db's work queues have moved to the timer index.
func QueueScheduledForTest(db *DB) int64 { return db.queues.Metrics().Scheduled }
