package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/mqlog/mqlog"
)

// Server answers Kafka clients from one DB: a single-node Kafka broker. It is safe for concurrent use;
// Serve may run on several listeners at once.
type Server struct {
	db    *mqlog.DB
	opts  Options
	apis  apiTable
	ids   topicIDs
	large *bufferCache // fetched batches and encoded fetch responses (buffers.go)

	mu struct {
		sync.Mutex
		conns map[*conn]struct{}
	}
	wg sync.WaitGroup // connections
}

// NewServer returns a server of db. db stays the caller's: the server never closes it.
func NewServer(db *mqlog.DB, opts *Options) (*Server, error) {
	o := opts.withDefaults()
	if o.SASL != nil {
		if err := o.SASL.check(); err != nil {
			return nil, err
		}
	}
	s := &Server{db: db, opts: o, large: newBufferCache()}
	s.mu.conns = make(map[*conn]struct{})
	s.apis = s.newAPITable()
	s.ids.db, s.ids.incarnation = db, topicIncarnations(db, o.Replication) // (topicid.go)
	return s, nil
}

// Serve is NewServer(db, nil) and Server.Serve: it answers Kafka clients on l until ctx is done.
func Serve(ctx context.Context, db *mqlog.DB, l net.Listener) error {
	s, err := NewServer(db, nil)
	if err != nil {
		return err
	}
	return s.Serve(ctx, l)
}

// Serve accepts connections on l and answers them until ctx is done, then closes l and every connection
// it accepted (a request in progress is answered first, a long-polling fetch at once with what it has)
// and returns nil once they are all gone. A failing l ends it with that error.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		l.Close()
	}()
	advertised, err := s.advertised(l.Addr())
	if err != nil {
		return err
	}
	defer s.recordListener(l.Addr(), advertised)() // the SERVING file, for the CLI (serving.go)
	if s.opts.Listening != nil {
		s.opts.Listening(l.Addr())
	}
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // e.g. out of file descriptors: back off, as net/http does
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn("kafka: accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			cancel()
			s.wg.Wait()
			return fmt.Errorf("mqlog/kafka: accept: %w", err)
		}
		delay = 0
		s.accept(ctx, nc, advertised)
	}
}

// accept starts serving nc, or closes it at once when the server has MaxConnections open.
func (s *Server) accept(ctx context.Context, nc net.Conn, advertised broker) {
	s.mu.Lock()
	if len(s.mu.conns) >= s.opts.MaxConnections {
		s.mu.Unlock()
		s.opts.Logger.Warn("kafka: connection refused: too many connections", "remote", nc.RemoteAddr().String(), "limit", s.opts.MaxConnections)
		nc.Close()
		return
	}
	if s.opts.TLS != nil {
		nc = tls.Server(nc, s.opts.TLS) // the handshake runs in the connection's goroutine, with a deadline
	}
	c := newConn(ctx, s, nc, advertised)
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		s.mu.Unlock()
	}()
}

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// broker is this node as Metadata describes it.
type broker struct {
	host string
	port int32
}

func (s *Server) advertised(addr net.Addr) (broker, error) {
	hostPort := s.opts.AdvertisedAddr
	if hostPort == "" {
		hostPort = addr.String()
	}
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return broker{}, fmt.Errorf("mqlog/kafka: advertised address %q: %w", hostPort, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return broker{}, fmt.Errorf("mqlog/kafka: advertised address %q: bad port", hostPort)
	}
	return broker{host: host, port: int32(port)}, nil
}
