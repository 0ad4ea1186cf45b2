package dedup

import "github.com/mqlog/mqlog/internal/base"

// Forget drops every topic's id table: the next Append with an id of a topic reads its table again from
// the log's tail (the records within the window). A replicated node calls it when it becomes the leader,
// since what other leaders appended reached its logs without going through its tables. An Append in
// flight finishes on the table it had.
func (r *Registry) Forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.tables = map[base.Topic]*table{}
}
