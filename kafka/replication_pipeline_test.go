package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// heldNode is a fakeNode whose appends, once they have their place in the replicated order (ordered
// called), wait for the test to let each one commit, in the order they came.
type heldNode struct {
	*fakeNode
	mu      sync.Mutex
	entered []chan struct{} // one per AppendBatch, closed by the test to let it commit
	arrived chan int        // the number of each AppendBatch as it starts waiting
}

func (n *heldNode) AppendBatch(ctx context.Context, topic string, partition int32, batch []byte, ordered func()) (mqlog.AppendResult, error) {
	n.mu.Lock()
	release := make(chan struct{})
	n.entered = append(n.entered, release)
	i := len(n.entered) - 1
	n.mu.Unlock()
	n.arrived <- i // (before ordered: once it returns, the next append may start and report its own number)
	if ordered != nil {
		ordered() // (its place is taken: the next append may start)
	}
	select {
	case <-release:
	case <-ctx.Done():
		return mqlog.AppendResult{}, ctx.Err()
	}
	return n.fakeNode.AppendBatch(ctx, topic, partition, batch, nil)
}

func (n *heldNode) release(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.entered[i])
}

// TestReplicatedProducePipelined: the produce requests one connection pipelines to a replicated node
// are handed to the replication one after the other as soon as the one before has its place in the
// replicated order, not once it is committed, so that raft can commit them together; their offsets keep
// the order they came in. (Before, each waited for the one before to be committed and applied.)
func TestReplicatedProducePipelined(t *testing.T) {
	c := &fakeCluster{leader: 1, term: 1}
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	node := &heldNode{fakeNode: &fakeNode{c: c, id: 1, db: db}, arrived: make(chan int, 8)}
	c.nodes = append(c.nodes, node.fakeNode)
	ts := startServerOn(t, db, &Options{Replication: node, NoServingFile: true})
	if err := db.CreateTopic("p", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl := dial(t, ts.addr)
	const requests = 3
	var corrs []int32
	var reqs []*kmsg.ProduceRequest
	for i := range requests {
		req := produceReq(9, "p", 0, batch(t, 2, string(rune('a'+i))))
		reqs = append(reqs, req)
		corrs = append(corrs, cl.send(req))
	}
	for want := range requests {
		select {
		case got := <-node.arrived:
			if got != want {
				t.Fatalf("append %d arrived, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d pipelined produce requests reached the replication while the first was not committed", want, requests)
		}
	}
	for i := range requests {
		node.release(i)
		resp := cl.recv(reqs[i], corrs[i]).(*kmsg.ProduceResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != int64(2*i) {
			t.Fatalf("request %d: error %d, base offset %d, want 0 and %d", i, p.ErrorCode, p.BaseOffset, 2*i)
		}
	}
}
