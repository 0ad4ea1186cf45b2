package integration

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// FaultProxy forwards TCP connections to a broker. Armed with DropProduceResponses(n), it withholds the
// broker's answers to the next n Produce requests and closes the client's connection instead, as a network
// failure right after the broker wrote a batch would: the client must retry a batch that is already in the
// log, and an idempotent producer's retry must not be written twice.
type FaultProxy struct {
	l      net.Listener
	target string
	drops  atomic.Int32
	// Dropped counts the produce responses withheld.
	Dropped atomic.Int32
	wg      sync.WaitGroup
}

// NewFaultProxy listens on a loopback port and forwards to target.
func NewFaultProxy(target string) (*FaultProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, for clients (and the broker's advertised address).
func (p *FaultProxy) Addr() string { return p.l.Addr().String() }

// DropProduceResponses arms the proxy to withhold the next n produce responses.
func (p *FaultProxy) DropProduceResponses(n int32) { p.drops.Store(n) }

// Close stops accepting and waits for the connections to end.
func (p *FaultProxy) Close() error {
	err := p.l.Close()
	p.wg.Wait()
	return err
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.wg.Add(2)
		var mu sync.Mutex
		produces := map[int32]bool{} // correlation ids of produce requests in flight
		closeBoth := func() { client.Close(); server.Close() }
		go func() { // client to broker: note which requests are produces
			defer p.wg.Done()
			defer closeBoth()
			forwardFrames(client, server, func(frame []byte) bool {
				if len(frame) >= 12 && binary.BigEndian.Uint16(frame[4:]) == 0 {
					mu.Lock()
					produces[int32(binary.BigEndian.Uint32(frame[8:]))] = true
					mu.Unlock()
				}
				return true
			})
		}()
		go func() { // broker to client: withhold an armed produce response
			defer p.wg.Done()
			defer closeBoth()
			forwardFrames(server, client, func(frame []byte) bool {
				if len(frame) < 8 {
					return true
				}
				corr := int32(binary.BigEndian.Uint32(frame[4:]))
				mu.Lock()
				isProduce := produces[corr]
				delete(produces, corr)
				mu.Unlock()
				if isProduce && p.drops.Add(-1) >= 0 {
					p.Dropped.Add(1)
					return false
				}
				return true
			})
		}()
	}
}

// forwardFrames copies size-prefixed frames from src to dst while keep says so; it stops at the first
// frame keep refuses, or when either side fails.
func forwardFrames(src io.Reader, dst io.Writer, keep func(frame []byte) bool) {
	var size [4]byte
	for {
		if _, err := io.ReadFull(src, size[:]); err != nil {
			return
		}
		frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
		copy(frame, size[:])
		if _, err := io.ReadFull(src, frame[4:]); err != nil {
			return
		}
		if !keep(frame) {
			return
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}
