package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkOffsetCommit: one synced commit of one partition, through OffsetCommit on a connection (v8,
// generation -1: a simple commit) and through the embedded DB.CommitGroupOffset, in the same run.
func BenchmarkOffsetCommit(b *testing.B) {
	db, err := mqlog.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := db.Append(context.Background(), "t", mqlog.Message{Value: []byte("x")}); err != nil {
			b.Fatal(err)
		}
	}
	srv, err := NewServer(db, &Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	b.Run("protocol", func(b *testing.B) {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench"))
		var buf []byte
		for i := 0; i < b.N; i++ {
			req := commitReq(8, "bench", "", -1, "t", int64(i%10))
			if _, err := nc.Write(f.AppendRequest(buf[:0], req, int32(i))); err != nil {
				b.Fatal(err)
			}
			var size [4]byte
			if _, err := io.ReadFull(nc, size[:]); err != nil {
				b.Fatal(err)
			}
			body := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(nc, body); err != nil {
				b.Fatal(err)
			}
			resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
			resp.Version = 8
			if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, header tags
				b.Fatal(err)
			}
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				b.Fatalf("commit: %d", code)
			}
		}
	})
	b.Run("embedded", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := db.CommitGroupOffset("bench", "t", 0, int64(i%10)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
