package mqlog

// QueueSavesForTest returns how many synced saves of work-queue ack state db has made, for the external
// benchmarks' acks-per-save figure.
func QueueSavesForTest(db *DB) int64 { return db.queues.saves.Load() }
