package dedup

import (
	"errors"
	"fmt"
	"io"

	"github.com/mqlog/mqlog/internal/base"
)

// rebuild reads the ids of tb's topic back from the tail of every partition: from the first record
// whose timestamp is within the window to the end. The first record of an id is its original. It runs
// with tb.mu held, before the first lookup after Open; Appends with ids to the topic wait for it, others
// do not (they have no id to record).
func (r *Registry) rebuild(tb *table) error {
	now := r.now().UnixMilli()
	window := tb.topic.Config().DuplicateWindow().Milliseconds()
	for p, l := range tb.topic.Logs() {
		start, err := l.OffsetForTime(now - window)
		if err != nil {
			return fmt.Errorf("mqlog: rebuild the message ids of %s-%d: %w", tb.topic.Name(), p, err)
		}
		reader, err := l.NewReader(max(start, l.StartOffset()), false)
		if err != nil {
			return fmt.Errorf("mqlog: rebuild the message ids of %s-%d: %w", tb.topic.Name(), p, err)
		}
		for {
			rec, err := reader.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("mqlog: rebuild the message ids of %s-%d: %w", tb.topic.Name(), p, err)
			}
			if len(rec.Headers) == 0 || rec.Timestamp+window <= now {
				continue
			}
			id := base.MessageID(rec.Headers)
			if id == "" || tb.ids[id] != nil {
				continue
			}
			e := &entry{id: id, pos: base.Position{Partition: int32(p), Offset: rec.Offset}, ts: rec.Timestamp, heapIndex: -1}
			tb.ids[id] = e
			tb.byTime.push(e)
		}
	}
	tb.rebuilt = true
	return nil
}
