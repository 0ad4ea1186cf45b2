package kafka

import (
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// downNode is a fakeNode whose leader cannot reach some voters.
type downNode struct {
	*fakeNode
	down []int32
}

func (n *downNode) Unreachable() []int32 { return n.down }

// TestMetadataLeavesOutUnreachableVoters: a voter the leader cannot reach is not in Metadata's brokers
// (a client would try to dial it) nor in the ISR, and is an offline replica.
func TestMetadataLeavesOutUnreachableVoters(t *testing.T) {
	c := &fakeCluster{leader: 1, term: 3}
	db, err := mqlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	node := &downNode{fakeNode: &fakeNode{c: c, id: 1, db: db}, down: []int32{3}}
	c.nodes = append(c.nodes, node.fakeNode)
	ts := startServerOn(t, db, &Options{Replication: node, NoServingFile: true})
	host, portText, _ := net.SplitHostPort(ts.addr)
	port, _ := strconv.Atoi(portText)
	for id := int32(1); id <= 3; id++ {
		c.brokers = append(c.brokers, cluster.Broker{ID: id, Host: host, Port: int32(port) + id - 1, RaftAddr: "127.0.0.1:7000"})
	}
	if err := db.CreateTopic("t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	topic := "t"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	md.Topics = append(md.Topics, mt)
	resp := dial(t, ts.addr).do(md).(*kmsg.MetadataResponse)
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	if !slices.Equal(ids, []int32{1, 2}) {
		t.Fatalf("brokers %v, want [1 2]", ids)
	}
	p := resp.Topics[0].Partitions[0]
	if !slices.Equal(p.Replicas, []int32{1, 2, 3}) || !slices.Equal(p.ISR, []int32{1, 2}) || !slices.Equal(p.OfflineReplicas, []int32{3}) {
		t.Fatalf("partition: replicas %v, ISR %v, offline %v; want [1 2 3], [1 2], [3]", p.Replicas, p.ISR, p.OfflineReplicas)
	}
}
