package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSplicedFetchMatchesKmsg checks that a spliced fetch response, its pieces put together, is byte for
// byte what kmsg encodes, for every Fetch version served, with partitions small and large (around the
// lengths where the compact length prefix grows a byte) and a topic name holding part of the placeholder.
func TestSplicedFetchMatchesKmsg(t *testing.T) {
	// The first topic has every size (the compact prefix grows a byte at 2^21-1 bytes), the others small
	// ones only.
	sizes := [][]int{
		{0, 100, 16<<10 - 1, 16 << 10, 16<<10 + 1, 1<<21 - 2, 1<<21 - 1, 1 << 21, 3<<20 + 7},
		{16 << 10, 7, 20 << 10},
		{0, 16<<10 + 3},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pattern := make([]byte, 4093)
	for i := range pattern {
		pattern[i] = byte(rng.Uint32())
	}
	data := bytes.Repeat(pattern, 1100) // 4.3 MB
	for v := int16(4); v <= 18; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			req := kmsg.NewPtrFetchRequest()
			req.Version = v
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			resp.ErrorCode, resp.ThrottleMillis = 0, 3
			topics := sizes
			if v != 4 && v != 11 && v != 12 && v != 18 && testing.Short() {
				topics = sizes[1:] // the megabytes at the first and last versions of each encoding
			}
			large := 0
			for ti := range topics {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic = fmt.Sprintf("topic-%d-%s", ti, placeholder[:8])
				rt.TopicID[0] = byte(ti + 1)
				for pi, n := range topics[ti] {
					if n >= spliceMinBytes {
						large++
					}
					rp := kmsg.NewFetchResponseTopicPartition()
					rp.Partition, rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = int32(pi), 1000, 1000, 3
					off := (ti*7 + pi*13) % 1000
					rp.RecordBatches = data[off : off+n]
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			p := &pending{corr: 42, resp: resp}
			c := &conn{}
			want := c.encode(nil, p)
			out, _, ok := c.spliceFetch(nil, p, resp)
			if !ok {
				t.Fatal("not spliced")
			}
			if len(out.bufs) != 3*large+1 { // three pieces for each partition of 16 KiB or more, and the tail
				t.Errorf("%d pieces", len(out.bufs))
			}
			var got bytes.Buffer
			if _, err := out.bufs.WriteTo(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("spliced frame of %d bytes differs from kmsg's %d", got.Len(), len(want))
			}
			for ti := range resp.Topics { // the response keeps its batches
				for pi, rp := range resp.Topics[ti].Partitions {
					if len(rp.RecordBatches) != topics[ti][pi] {
						t.Fatalf("topic %d partition %d: %d bytes after splicing", ti, pi, len(rp.RecordBatches))
					}
				}
			}
		})
	}
}

// TestSplicedFetchNothingLarge: a response without a large partition is not spliced.
func TestSplicedFetchNothingLarge(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	rt := kmsg.NewFetchResponseTopic()
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = make([]byte, 10)
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	if _, _, ok := (&conn{}).spliceFetch(nil, &pending{resp: resp}, resp); ok {
		t.Fatal("spliced")
	}
}

// TestLargeFetchServesStoredBytes fetches two partitions of about a MiB each through the server, over
// plaintext (writev) and TLS (net.Buffers written piece by piece), in a flexible and a non-flexible
// version, and checks each partition's RecordBatches against the stored batches.
func TestLargeFetchServesStoredBytes(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			var opts *Options
			if secure {
				opts = &Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
			}
			ts := startServer(t, opts)
			if err := ts.db.CreateTopic("big", mqlog.TopicConfig{Partitions: 2}); err != nil {
				t.Fatal(err)
			}
			value := bytes.Repeat([]byte("v"), 1000)
			for i := 0; i < 64; i++ {
				msgs := make([]mqlog.Message, 16)
				for j := range msgs {
					msgs[j].Value = value
				}
				for p := int32(0); p < 2; p++ {
					if _, err := ts.db.AppendPartition(context.Background(), "big", p, msgs...); err != nil {
						t.Fatal(err)
					}
				}
			}
			var c *client
			if secure {
				tc, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool})
				if err != nil {
					t.Fatal(err)
				}
				defer tc.Close()
				c = &client{t: t, nc: tc, f: kmsg.NewRequestFormatter()}
			} else {
				c = dial(t, ts.addr)
			}
			const partLimit = 600 << 10
			for _, v := range []int16{11, 18} {
				for _, from := range []int64{0, 100, 1000} {
					req := fetchReq(v, "big", 0, from, 1, 1000)
					req.MaxBytes = 4 << 20
					rp := req.Topics[0].Partitions[0]
					rp.PartitionMaxBytes = partLimit
					rp1 := rp
					rp1.Partition = 1
					req.Topics[0].Partitions = []kmsg.FetchRequestTopicPartition{rp, rp1}
					req.Topics[0].TopicID = ts.srv.ids.of("big")
					resp := c.do(req).(*kmsg.FetchResponse)
					for i, got := range resp.Topics[0].Partitions {
						want, err := mustPartition(t, ts.db, "big", int32(i)).ReadBatches(nil, from, partLimit)
						if err != nil {
							t.Fatal(err)
						}
						if got.ErrorCode != 0 || len(want) < spliceMinBytes || !bytes.Equal(got.RecordBatches, want) {
							t.Fatalf("v%d from %d partition %d: error %d, %d bytes, want the %d stored", v, from, i, got.ErrorCode, len(got.RecordBatches), len(want))
						}
					}
				}
			}
		})
	}
}
