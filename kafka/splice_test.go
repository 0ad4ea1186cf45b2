package kafka

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSplicedFetchMatchesKmsg checks that a spliced fetch response, its pieces put together, is byte for
// byte what kmsg encodes, for every Fetch version served, with partitions small and large (around the
// lengths where the compact length prefix grows a byte) and a topic name holding part of the placeholder.
func TestSplicedFetchMatchesKmsg(t *testing.T) {
	sizes := []int{0, 100, 16<<10 - 1, 16 << 10, 16<<10 + 1, 1<<21 - 2, 1<<21 - 1, 1 << 21, 3<<20 + 7}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for v := int16(4); v <= 18; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			req := kmsg.NewPtrFetchRequest()
			req.Version = v
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			resp.ErrorCode, resp.ThrottleMillis = 0, 3
			for ti := 0; ti < 3; ti++ {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic = fmt.Sprintf("topic-%d-%s", ti, placeholder[:8])
				rt.TopicID[0] = byte(ti + 1)
				for pi, n := range sizes {
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
			if len(out.bufs) != 3*3*6+1 { // three pieces for each of six large partitions of three topics, and the tail
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
					if len(rp.RecordBatches) != sizes[pi] {
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
