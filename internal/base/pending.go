package base

// PendingAppend is an append whose commit is under way: queued, its offsets assigned, not yet reported
// durable. The catalog's and the dedup room's asynchronous appends return one; the root wraps it.
type PendingAppend interface {
	// Done is closed once the outcome is known; Wait then returns at once.
	Done() <-chan struct{}
	// Wait blocks until the commit is over and returns the positions, in the order of the messages, or
	// the error (an *AppendError when some partitions failed and others did not). It may be called any
	// number of times, from any goroutine.
	Wait() ([]Position, error)
}

// Completed returns a PendingAppend whose outcome is already pos and err.
func Completed(pos []Position, err error) PendingAppend {
	return &completed{pos: pos, err: err}
}

type completed struct {
	pos []Position
	err error
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *completed) Done() <-chan struct{}     { return closedChan }
func (c *completed) Wait() ([]Position, error) { return c.pos, c.err }
