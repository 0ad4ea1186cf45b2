package kafka

import (
	"encoding/binary"
	"sync"
)

// Handler goroutines. Each request is handled in a goroutine of its own (conn.go), and a goroutine
// started for each one begins with the smallest stack and grows it, copying, on the way down the produce
// path (kmsg, the DB's append, the log's group commit): in a profile of 64 connections producing one
// record per request, runtime.newstack and copystack were a tenth of the server's CPU. So a connection
// keeps the goroutines it started: one that has handled its request waits for the next one of the same
// connection (keeping its grown stack) until the connection closes. At most maxIdleHandlers of them wait
// per connection (a burst of pipelined requests leaves no more behind it), and a connection has at most
// MaxInflight requests in line, so at most that many run.

// maxIdleHandlers bounds the handler goroutines a connection keeps waiting: a client rarely has more
// requests in flight at once (franz-go's producer, idempotent, has up to five per broker).
const maxIdleHandlers = 4

// spawn runs f in an idle handler goroutine of the connection, or in a new one when none is idle.
func (c *conn) spawn(f func()) {
	select {
	case c.idle <- f:
	default:
		go c.handlerLoop(f)
	}
}

// handlerLoop runs f, then each function spawn hands it, until the connection closes or maxIdleHandlers
// others are waiting already.
func (c *conn) handlerLoop(f func()) {
	for {
		f()
		if c.idleHandlers.Add(1) > maxIdleHandlers {
			c.idleHandlers.Add(-1)
			return
		}
		select {
		case f = <-c.idle:
			c.idleHandlers.Add(-1)
		case <-c.ctx.Done():
			c.idleHandlers.Add(-1)
			return
		}
	}
}

// Request bodies. A request's body is read into a buffer of its own, which the decoded request aliases
// (kmsg's byte fields point into it; its strings are copied). Only a produce request's is reused: its
// one aliasing field, each partition's records, is copied by the log before AppendBatch returns, so its
// buffer goes back to producePool once the response is written. Other requests' bytes may be kept by the
// engine (a JoinGroup's member metadata) and get a buffer of their own. The pool keeps buffers of at
// most maxPooledBody bytes, so that an idle server holds little; a larger produce request gets its own.

// maxPooledBody is the largest produce body producePool keeps.
const maxPooledBody = 1 << 20

var producePool = sync.Pool{New: func() any { return new([]byte) }}

// requestBody returns a buffer of n bytes for the body of p's request: a pooled one, given back once the
// response is written, when the body is a produce request's (its first two bytes, the key, say so).
func (c *conn) requestBody(p *pending, n int) []byte {
	if n > maxPooledBody {
		return make([]byte, n)
	}
	if key, err := c.in.Peek(2); err != nil || int16(binary.BigEndian.Uint16(key)) != produceKey {
		return make([]byte, n) // (a failed peek fails the read that follows)
	}
	buf := producePool.Get().(*[]byte)
	if cap(*buf) < n {
		*buf = make([]byte, n, max(n, 32<<10))
	}
	p.release = append(p.release, func() { producePool.Put(buf) })
	return (*buf)[:n]
}
