package workqueue

import (
	"context"
	"strconv"
	"time"

	"github.com/mqlog/mqlog/internal/base"
)

// deadLetterRetry is how long a message whose dead-letter append failed waits before it is tried again,
// doubled at each failure up to AckWait: the queue goes on delivering other messages meanwhile.
const deadLetterRetry = 100 * time.Millisecond

// deadLetterLocked appends pm to the dead-letter topic, durably, then marks it done: at least once, so a
// crash between the two leaves it in both places. Without a dead-letter topic the message is only done.
// g.mu is released while it appends. When the append fails, the message goes back into the heap, due
// after a back-off, and the failure is counted and logged: a broken dead-letter topic must not wedge the
// whole queue. A failed save of the state is sticky, as everywhere.
func (g *group) deadLetterLocked(ctx context.Context, pm *pendingMessage) {
	p := pm.partition
	if dlq := g.opts.DeadLetterTopic; dlq != "" {
		pm.deadLetting = true
		g.mu.pending.remove(pm)
		g.mu.Unlock()
		rec := pm.rec
		headers := append(append([]base.Header(nil), rec.Headers...),
			base.Header{Key: DeadLetterHeaderTopic, Value: []byte(rec.Topic)},
			base.Header{Key: DeadLetterHeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
			base.Header{Key: DeadLetterHeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
			base.Header{Key: DeadLetterHeaderDeliveries, Value: strconv.AppendInt(nil, int64(pm.deliveries), 10)},
			base.Header{Key: DeadLetterHeaderGroup, Value: []byte(g.name)})
		_, err := g.r.appender.Append(ctx, dlq, base.Message{Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp})
		g.mu.Lock()
		pm.deadLetting = false
		if err != nil {
			g.r.metrics.deadLetterFailures.Add(1)
			pm.deadLetterFailures++
			backoff := min(deadLetterRetry<<min(pm.deadLetterFailures-1, 20), g.opts.AckWait)
			g.r.logger.Warn("mqlog: dead-letter append failed; the message is tried again later",
				"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "dead_letter_topic", dlq,
				"retry_in", backoff, "err", err)
			if p.pending[rec.Offset] == pm { // not acked meanwhile by a late worker
				pm.due = g.r.now().Add(backoff)
				g.mu.pending.push(pm)
			}
			return
		}
		g.r.metrics.deadLettered.Add(1)
	}
	if err := g.doneLocked(p, pm.rec.Offset); err != nil {
		return // sticky in g.mu.err: the next Next returns it
	}
}
