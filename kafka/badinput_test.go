package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// frame is a request frame: a size field and a body, either of which a test may get wrong.
func frame(size int32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(size)), body...)
}

// header encodes a request header: key, version, correlation id, client id.
func header(key, version int16, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	return append(b, clientID...)
}

// TestBadInput sends each kind of bad input on a connection of its own, and checks that the server
// closes that connection with a log line saying why, while a healthy client on the same server, connected
// before, keeps being answered, and acknowledged data stays readable.
func TestBadInput(t *testing.T) {
	ts := startServer(t, &Options{MaxRequestBytes: 4096, RequestTimeout: 300 * time.Millisecond})
	if _, err := ts.db.Append(context.Background(), "t", mqlog.Message{Value: []byte("acked")}); err != nil {
		t.Fatal(err)
	}
	healthy := dial(t, ts.addr)
	healthy.do(kmsg.NewPtrApiVersionsRequest())

	metadataBody := func() []byte {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 1
		return req.AppendTo(header(metadataKey, 1, 1, "bad"))
	}
	cases := []struct {
		name string
		send func(nc net.Conn)
		log  string
	}{
		{"malformed frame: a body that does not parse", func(nc net.Conn) {
			body := append(header(metadataKey, 1, 1, "bad"), 0x7f, 0xff, 0xff, 0xff) // 2 billion topics
			nc.Write(frame(int32(len(body)), body))
		}, "malformed request body"},
		{"malformed frame: a body cut short", func(nc net.Conn) {
			req := produceReq(9, "t", 0, batch(t, 2, "x"))
			body := req.AppendTo(header(produceKey, 9, 1, "bad"))
			body = body[:len(body)-20]
			nc.Write(frame(int32(len(body)), body))
		}, "malformed request body"},
		{"oversized request", func(nc net.Conn) {
			nc.Write(frame(1<<30, nil))
		}, "request over the size limit"},
		{"oversized request, just over", func(nc net.Conn) {
			nc.Write(frame(4097, bytes.Repeat([]byte{1}, 4097)))
		}, "request over the size limit"},
		{"negative size field", func(nc net.Conn) {
			nc.Write(frame(-5, nil))
		}, "bad request size field"},
		{"size field below a header", func(nc net.Conn) {
			nc.Write(frame(3, []byte{0, 3, 0}))
		}, "bad request size field"},
		{"wrong size field: more than is sent", func(nc net.Conn) {
			body := metadataBody()
			nc.Write(frame(int32(len(body)+40), body)) // then nothing: the rest never comes
		}, "slow client"},
		{"wrong size field: the connection ends inside the request", func(nc net.Conn) {
			body := metadataBody()
			nc.Write(frame(int32(len(body)+40), body))
			nc.(*net.TCPConn).CloseWrite()
		}, "connection ended inside a request"},
		{"wrong size field: less than is sent", func(nc net.Conn) {
			body := metadataBody()
			nc.Write(frame(12, body)) // 12 bytes: the client id "bad" cut after 2 of its 3 bytes
		}, "garbage request header"},
		{"wrong size field: less than is sent, the rest read as the next request", func(nc net.Conn) {
			// A whole ApiVersions v0 request (answered), then 4 stray bytes read as the next size field.
			body := append(header(apiVersionsKey, 0, 1, ""), 0x7f, 0xff, 0xff, 0xff)
			nc.Write(frame(10, body))
		}, "request over the size limit"},
		{"garbage instead of a header", func(nc net.Conn) {
			body := []byte{0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 'x'} // client id of 32767 bytes in 11
			nc.Write(frame(int32(len(body)), body))
		}, "garbage request header"},
		{"an HTTP request instead of Kafka", func(nc net.Conn) {
			nc.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
		}, "request over the size limit"},
		{"a client sending one byte at a time", func(nc net.Conn) {
			for _, b := range frame(int32(len(metadataBody())), metadataBody()) {
				if _, err := nc.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, "slow client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ts.log.String())
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			go tc.send(nc)
			bad := &client{t: t, nc: nc}
			if !bad.closed() {
				t.Fatal("the connection was not closed")
			}
			for deadline := time.Now().Add(5 * time.Second); !bytes.Contains([]byte(ts.log.String()[before:]), []byte(tc.log)); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no log line with %q; log:\n%s", tc.log, ts.log.String()[before:])
				}
			}
			// Everybody else carries on.
			resp := healthy.do(fetchReq(11, "t", 0, 0, 0, 0)).(*kmsg.FetchResponse)
			if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.HighWatermark != 1 || len(p.RecordBatches) == 0 {
				t.Fatalf("the healthy client's fetch after the bad input: %+v", p)
			}
		})
	}
}

func TestIdleConnection(t *testing.T) {
	ts := startServer(t, &Options{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, ts.addr)
	c.do(kmsg.NewPtrApiVersionsRequest())
	if !c.closed() {
		t.Fatal("an idle connection stayed open")
	}
	ts.log.waitLog(t, "idle connection")
}

func TestTooManyConnections(t *testing.T) {
	ts := startServer(t, &Options{MaxConnections: 2})
	a, b := dial(t, ts.addr), dial(t, ts.addr)
	a.do(kmsg.NewPtrApiVersionsRequest())
	b.do(kmsg.NewPtrApiVersionsRequest())
	third := dial(t, ts.addr)
	if !third.closed() {
		t.Fatal("a third connection was served with MaxConnections 2")
	}
	ts.log.waitLog(t, "too many connections")
	a.do(kmsg.NewPtrMetadataRequest()) // the others carry on
	a.nc.Close()
	for ts.srv.Connections() > 1 {
		time.Sleep(5 * time.Millisecond)
	}
	c := dial(t, ts.addr) // room again
	c.do(kmsg.NewPtrApiVersionsRequest())
}

// TestClientThatDoesNotRead pipelines fetches whose responses it never reads: the server's writes block,
// its reads stop at the connection's byte budget (memory stays bounded), and the write timeout closes it.
func TestClientThatDoesNotRead(t *testing.T) {
	ts := startServer(t, &Options{RequestTimeout: 500 * time.Millisecond, MaxFetchBytes: 1 << 20, ConnectionBytes: 4 << 20})
	for i := 0; i < 8; i++ {
		msgs := make([]mqlog.Message, 128)
		for j := range msgs {
			msgs[j].Value = bytes.Repeat([]byte{'v'}, 1000)
		}
		if _, err := ts.db.Append(context.Background(), "t", msgs...); err != nil {
			t.Fatal(err)
		}
	}
	healthy := dial(t, ts.addr)
	c := dial(t, ts.addr)
	go func() {
		for i := 0; i < 200; i++ {
			if _, err := c.nc.Write(c.f.AppendRequest(nil, fetchReq(11, "t", 0, 0, 0, 0), int32(i))); err != nil {
				return
			}
		}
	}()
	ts.log.waitLog(t, "writing a response failed")
	for ts.srv.Connections() > 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if resp := healthy.do(fetchReq(11, "t", 0, 0, 0, 0)).(*kmsg.FetchResponse); resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("healthy client: %+v", resp.Topics[0].Partitions[0])
	}
}
