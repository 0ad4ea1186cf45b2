// Package cleaner is the room of retention and compaction policy: which closed segments a topic's limits
// (size, age) and its consumers' progress (interest) let go, and when a compacted topic is compacted
// again. It runs in the background every interval and on demand (DB.Compact, `mqlog compact`).
//
// It knows the consumers only through FloorSource (how far each kind of consumer has gone in a topic)
// and tells them through Observer when retention moved a partition's log start, so that a work queue
// that had not finished the deleted messages moves its floor instead of reading a hole for ever.
package cleaner
