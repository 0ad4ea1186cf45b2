package kafka

import "sync"

// Buffers of responses. Small responses are encoded into buffers from a sync.Pool. A fetch response is
// megabytes, and at the rate a consumer fetches the collector runs every few responses, emptying any
// sync.Pool: so the batches a fetch reads go into buffers kept in a small cache of its own, sized for
// them, so that none grows (and is copied) while it is filled. The response is written from that buffer
// (splice.go): only kmsg's encoding of the rest, kilobytes, goes into a small buffer. A response that
// cannot be spliced is encoded whole into a large buffer from the same cache.

// largeBuffers is how many large buffers the server keeps between responses (each at most
// MaxFetchBytes plus the response's framing): a bound on the memory held while idle.
const largeBuffers = 4

// bufferCache keeps up to largeBuffers buffers.
type bufferCache struct{ ch chan []byte }

func newBufferCache() *bufferCache { return &bufferCache{ch: make(chan []byte, largeBuffers)} }

// get returns an empty buffer with room for n bytes.
func (c *bufferCache) get(n int) []byte {
	select {
	case b := <-c.ch:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

// put gives a buffer back (it is dropped when the cache is full).
func (c *bufferCache) put(b []byte) {
	select {
	case c.ch <- b[:0]:
	default:
	}
}

// smallBuffers holds write buffers of ordinary responses.
var smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// responseFraming bounds what a fetch response holds besides its batches: per-partition fields and the
// header, for the partitions of one request.
const responseFraming = 1 << 20
