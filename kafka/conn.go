package kafka

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/semaphore"
)

// Framing: every request and response is an int32 size followed by that many bytes. A request starts
// with its header (api key int16, api version int16, correlation id int32, client id nullable string,
// then, in flexible versions, tagged fields); a response with the correlation id (then, in flexible
// versions but ApiVersions', an empty tag buffer). The header is read with franz-go's kbin, the bodies
// with kmsg: nothing is hand-encoded.

// minRequestSize is the smallest request: a header with a null client id.
const minRequestSize = 2 + 2 + 4 + 2

// readBufferSize is the read buffer of a connection: small requests (and pipelined ones) are read with
// one system call; a request larger than it is read straight into its own buffer.
const readBufferSize = 16 << 10

// conn is one client connection. Its reader goroutine reads requests in order, adds a pending response for
// each to the end of out.queue and starts its handler, which runs concurrently with the others (a produce
// waiting for its fsync does not hold up the next request's handling). Responses go out in request order:
// a handler that finishes writes its response itself if it is first in line, and then every finished one
// behind it; otherwise the handler ahead of it will (no goroutine is woken just to write). inflight
// bounds the requests in line, budget the bytes they hold.
type conn struct {
	s          *Server
	nc         net.Conn
	in         *bufio.Reader // over nc: a request's size field and body come in one read, usually
	remote     string
	advertised broker
	log        *slog.Logger

	ctx      context.Context // cancelled when the connection is to close
	cancel   context.CancelFunc
	budget   *semaphore.Weighted
	inflight chan struct{}  // one token per request in line
	lined    sync.WaitGroup // requests in line: serve waits for them before it closes the connection

	idle         chan func()  // handler goroutines waiting for a request to handle (workers.go)
	idleHandlers atomic.Int32 // how many wait on idle

	out struct {
		sync.Mutex
		queue   []*pending // in request order
		writing bool       // a goroutine is writing the head of queue
		broken  bool       // a write failed or the connection is to close: nothing more is written
	}

	sasl saslSession // owned by the reader goroutine
	// lastProduce is closed once the last produce request read has every batch in its place in its
	// partition (owned by the reader goroutine): the next one waits for it (produce.go).
	lastProduce chan struct{}
}

// pending is the response to one request, in the order requests came.
type pending struct {
	ready      bool // the handler is done (guarded by conn.out)
	corr       int32
	resp       kmsg.Response // nil: no response (a produce with acks 0)
	raw        []byte        // a bare SASL token (after SaslHandshake v0), written with only a size prefix
	rawSet     bool
	closeAfter bool     // close the connection once this is written (failed authentication)
	cost       int64    // budget bytes to release once written
	release    []func() // run once written (buffers back to their pools)
	sizeHint   int      // bytes the encoded response will take at least (a fetch's batches), 0 if small
}

func newConn(ctx context.Context, s *Server, nc net.Conn, advertised broker) *conn {
	c := &conn{s: s, nc: nc, in: bufio.NewReaderSize(nc, readBufferSize), remote: nc.RemoteAddr().String(), advertised: advertised}
	c.log = s.opts.Logger.With("remote", c.remote)
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.budget = semaphore.NewWeighted(s.opts.ConnectionBytes)
	c.inflight = make(chan struct{}, s.opts.MaxInflight)
	c.idle = make(chan func())
	c.lastProduce = make(chan struct{})
	close(c.lastProduce)
	return c
}

// serve runs the connection until the client goes, a limit or bad input closes it, or the server stops.
func (c *conn) serve() {
	defer c.nc.Close()
	defer c.cancel()
	// Cancelling unblocks a read in progress.
	stop := context.AfterFunc(c.ctx, func() { c.nc.SetReadDeadline(time.Now()) })
	defer stop()
	if tc, ok := c.nc.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(c.ctx, c.s.opts.RequestTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.log.Warn("kafka: TLS handshake failed; connection closed", "err", err)
			return
		}
	}
	c.readLoop()
	c.lined.Wait() // every response written, or dropped once writing failed
}

// closeWith logs why the connection closes on the client's account and closes it.
func (c *conn) closeWith(msg string, args ...any) {
	if c.ctx.Err() == nil {
		c.log.Warn("kafka: "+msg+"; connection closed", args...)
	}
	c.cancel()
}

// readLoop reads requests until the connection ends.
func (c *conn) readLoop() {
	var size [4]byte
	for c.ctx.Err() == nil {
		// The first byte may take up to the idle timeout; the rest of the request, the request timeout.
		// Bytes already in the read buffer take no read, so no deadline is set for them: a pipelined
		// request, or the rest of one that arrived in one segment, costs no timer update.
		if c.in.Buffered() == 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
		}
		if _, err := io.ReadFull(c.in, size[:1]); err != nil {
			c.endOfInput(err, "waiting for a request", 0)
			return
		}
		requestDeadline := false
		if c.in.Buffered() < 3 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.opts.RequestTimeout))
			requestDeadline = true
		}
		if _, err := io.ReadFull(c.in, size[1:]); err != nil {
			c.endOfInput(err, "in a request's size field", 4)
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		switch {
		case c.sasl.rawTokens && n >= 0 && n <= int32(c.s.opts.MaxRequestBytes):
		case n < minRequestSize:
			c.closeWith("bad request size field", "size", n, "min", minRequestSize)
			return
		case n > int32(c.s.opts.MaxRequestBytes):
			c.closeWith("request over the size limit", "size", n, "limit", c.s.opts.MaxRequestBytes)
			return
		}
		cost := int64(n)
		if err := c.budget.Acquire(c.ctx, cost); err != nil {
			return
		}
		if !requestDeadline && c.in.Buffered() < int(n) {
			c.nc.SetReadDeadline(time.Now().Add(c.s.opts.RequestTimeout))
		}
		p := &pending{cost: cost}
		body := c.requestBody(p, int(n)) // workers.go
		if _, err := io.ReadFull(c.in, body); err != nil {
			c.budget.Release(cost)
			c.endOfInput(err, "in a request's body", int(n))
			return
		}
		if c.sasl.rawTokens {
			c.rawToken(p, body)
		} else if !c.request(p, body) {
			c.budget.Release(cost)
			return
		}
		if c.ctx.Err() != nil {
			return
		}
	}
}

// endOfInput handles a failed read: the client left, went idle, was too slow, or the server is stopping.
func (c *conn) endOfInput(err error, where string, size int) {
	switch {
	case c.ctx.Err() != nil: // closing: nothing to say
	case errors.Is(err, io.EOF) && where == "waiting for a request":
		c.log.Debug("kafka: client closed the connection")
	case errors.Is(err, os.ErrDeadlineExceeded) && where == "waiting for a request":
		c.closeWith("idle connection", "idle_timeout", c.s.opts.IdleTimeout)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.closeWith("slow client: request incomplete after the request timeout", "where", where, "size", size, "timeout", c.s.opts.RequestTimeout)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.closeWith("connection ended inside a request (a wrong size field?)", "where", where, "size", size)
	default:
		c.closeWith("read failed", "err", err)
	}
	c.cancel()
}

// enqueue adds p at the end of the line of responses; false when the connection is closing.
func (c *conn) enqueue(p *pending) bool {
	select {
	case c.inflight <- struct{}{}:
	case <-c.ctx.Done():
		return false
	}
	c.lined.Add(1)
	c.out.Lock()
	c.out.queue = append(c.out.queue, p)
	c.out.Unlock()
	return true
}

// complete marks p's response as set and writes, in order, every response at the head of the line that
// is ready, unless another goroutine is doing so (it will pick p up). After a failed write nothing more is
// written, but each response still releases what it held.
func (c *conn) complete(p *pending) {
	c.out.Lock()
	p.ready = true
	if c.out.writing {
		c.out.Unlock()
		return
	}
	c.out.writing = true
	for len(c.out.queue) > 0 && c.out.queue[0].ready {
		head := c.out.queue[0]
		c.out.queue[0] = nil
		c.out.queue = c.out.queue[1:]
		broken := c.out.broken
		c.out.Unlock()
		if !broken && (head.resp != nil || head.rawSet) {
			if err := c.write(head); err != nil {
				broken = true
				if c.ctx.Err() == nil {
					c.log.Warn("kafka: writing a response failed (a client not reading?); connection closed", "err", err)
				}
				c.cancel()
			}
		}
		if head.closeAfter {
			broken = true
			c.cancel()
		}
		for _, f := range head.release {
			f()
		}
		c.budget.Release(head.cost)
		<-c.inflight
		c.lined.Done()
		c.out.Lock()
		c.out.broken = c.out.broken || broken
	}
	c.out.writing = false
	c.out.Unlock()
}

// write encodes p's response into a buffer (a large one from the server's cache when the response is
// large) and writes it.
func (c *conn) write(p *pending) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.RequestTimeout))
	if fr, ok := p.resp.(*kmsg.FetchResponse); ok && p.sizeHint >= spliceMinBytes {
		buf := smallBuffers.Get().(*[]byte)
		out, enc, ok := c.spliceFetch((*buf)[:0], p, fr)
		*buf = enc
		if ok {
			_, err := out.bufs.WriteTo(c.nc) // writev: the stored batches are not copied into the frame
			putSmall(buf)
			return err
		}
		putSmall(buf)
	}
	if p.sizeHint > 0 {
		buf := c.encode(c.s.large.get(p.sizeHint+responseFraming), p)
		_, err := c.nc.Write(buf)
		c.s.large.put(buf)
		return err
	}
	buf := smallBuffers.Get().(*[]byte)
	*buf = c.encode((*buf)[:0], p)
	_, err := c.nc.Write(*buf)
	putSmall(buf)
	return err
}

// putSmall gives a buffer back to smallBuffers unless it grew large.
func putSmall(buf *[]byte) {
	if cap(*buf) <= 1<<20 {
		*buf = (*buf)[:0]
		smallBuffers.Put(buf)
	}
}

// encode appends p's response frame to dst.
func (c *conn) encode(dst []byte, p *pending) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if p.rawSet {
		dst = append(dst, p.raw...)
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.corr))
		if p.resp.IsFlexible() && p.resp.Key() != apiVersionsKey { // ApiVersions answers with header v0
			dst = append(dst, 0)
		}
		dst = p.resp.AppendTo(dst)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// request parses one request and starts its handling; false (after a log line) when the connection must
// close: a header that does not parse, a body that does not parse, or a request before authentication.
func (c *conn) request(p *pending, body []byte) bool {
	r := kbin.Reader{Src: body}
	key, version, corr := r.Int16(), r.Int16(), r.Int32()
	clientID := r.NullableString()
	if !r.Ok() {
		c.closeWith("garbage request header", "size", len(body))
		return false
	}
	p.corr = corr
	req := &request{c: c, key: key, version: version, p: p}
	if clientID != nil {
		req.clientID = *clientID
	}
	if c.s.opts.SASL != nil && !c.sasl.authenticated && key != apiVersionsKey && key != saslHandshakeKey && key != saslAuthenticateKey {
		c.closeWith("request before SASL authentication", "api", kmsg.NameForKey(key), "key", key)
		return false
	}
	api, served := c.s.apis[key]
	kreq := kmsg.RequestForKey(key)
	parseable := kreq != nil && version >= 0 && version <= kreq.MaxVersion()
	if key == apiVersionsKey && version > api.max || !parseable {
		// Kafka's downgrade: a version (or key) this broker cannot even parse is answered in the
		// ApiVersions v0 layout with UNSUPPORTED_VERSION and the supported ranges.
		if key != apiVersionsKey {
			c.log.Info("kafka: unsupported request answered with UNSUPPORTED_VERSION", "key", key, "version", version, "client", req.clientID)
		}
		if !c.enqueue(p) {
			return false
		}
		p.resp = c.s.apis.unsupportedVersions()
		c.complete(p)
		return true
	}
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if err := kreq.ReadFrom(r.Src); err != nil || !r.Ok() {
		c.closeWith("malformed request body", "api", kmsg.NameForKey(key), "version", version, "size", len(body), "err", err)
		return false
	}
	req.kreq = kreq
	if key == produceKey {
		req.after, c.lastProduce = c.lastProduce, make(chan struct{})
		req.ordered = c.lastProduce
	}
	if !served || version < api.min || version > api.max {
		if req.ordered != nil {
			close(req.ordered)
		}
		c.log.Info("kafka: unsupported request answered with UNSUPPORTED_VERSION", "api", kmsg.NameForKey(key), "version", version, "client", req.clientID)
		if !c.enqueue(p) {
			return false
		}
		p.resp = errorResponse(api, kreq, unsupportedVersion)
		c.complete(p)
		return true
	}
	if !c.enqueue(p) {
		return false
	}
	if api.inline { // SASL: its state decides how the next request is read
		req.finish(api.handle(c.ctx, req))
		return true
	}
	c.spawn(func() { req.finish(api.handle(c.ctx, req)) })
	return true
}

// rawToken answers one bare SASL token (after SaslHandshake v0): a size-prefixed answer, and on failure a
// closed connection, as Kafka does.
func (c *conn) rawToken(p *pending, token []byte) {
	answer, done, err := c.sasl.step(c.s.opts.SASL, token)
	if err != nil {
		c.log.Warn("kafka: SASL authentication failed; connection closed", "mechanism", c.sasl.mechanism, "err", err)
		c.cancel()
		return
	}
	if done {
		c.sasl.rawTokens = false
		c.log.Debug("kafka: authenticated", "user", c.sasl.user, "mechanism", c.sasl.mechanism)
	}
	if c.enqueue(p) {
		p.raw, p.rawSet = answer, true
		c.complete(p)
	}
}

// request is one request being handled.
type request struct {
	c        *conn
	key      int16
	version  int16
	clientID string
	kreq     kmsg.Request
	p        *pending
	// after and ordered sequence the produce requests of a connection (produce.go): this one appends once
	// after is closed, and closes ordered once each of its batches has its place.
	after, ordered chan struct{}
}

// finish sets the response of a handled request. An error closes the connection after the responses
// before it (a produce with acks 0 that failed: Kafka's way of telling such a client).
func (r *request) finish(resp kmsg.Response, err error) {
	if err != nil {
		r.c.closeWith("request failed", "api", kmsg.NameForKey(r.key), "err", err)
	}
	r.p.resp = resp
	r.c.complete(r.p)
}

// reserve takes n bytes of the connection's budget for this request's response; they are released once it
// is written. unreserve gives back what it did not use.
func (r *request) reserve(ctx context.Context, n int64) error {
	if err := r.c.budget.Acquire(ctx, n); err != nil {
		return err
	}
	r.p.cost += n
	return nil
}

func (r *request) unreserve(n int64) {
	r.c.budget.Release(n)
	r.p.cost -= n
}

// onWritten runs f once the response is written (or dropped).
func (r *request) onWritten(f func()) { r.p.release = append(r.p.release, f) }

// errorf formats a message for a response's ErrorMessage field.
func errorf(format string, args ...any) *string {
	s := fmt.Sprintf(format, args...)
	return &s
}
