package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
)

// A node of a one-voter cluster (a cluster of three lists the three in Peers, each started on its own
// machine with its own ID and Bind, and real addresses; a lone voter may take port 0, as here, since
// nobody dials it): start it on its DB, wait for the election, append through it.
func Example() {
	dir, err := os.MkdirTemp("", "mqlog-cluster-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// The node's DB skips its fsyncs: the raft log is the durable copy (package doc, "Restart and recovery").
	db, err := mqlog.Open(filepath.Join(dir, "data"), &mqlog.Options{Sync: mqlog.SyncNever})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	node, err := cluster.Start(cluster.Config{ID: 1, DB: db, Bind: "127.0.0.1:0",
		Peers: []cluster.Broker{{ID: 1, Host: "127.0.0.1", Port: 9092, RaftAddr: "127.0.0.1:0"}}})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	ctx := context.Background()
	leader, err := node.WaitLeader(ctx)
	if err != nil {
		panic(err)
	}
	if err := node.CreateTopic(ctx, "orders", mqlog.TopicConfig{}); err != nil {
		panic(err)
	}
	pos, err := node.Append(ctx, "orders", 0, mqlog.Message{Value: []byte("first")})
	if err != nil {
		panic(err)
	}
	for rec, err := range node.DB().Read("orders", 0, 0) { // reads are the local DB's
		if err != nil {
			panic(err)
		}
		fmt.Printf("leader %d; %s at offset %d (appended at %d)\n", leader, rec.Value, rec.Offset, pos[0].Offset)
	}
	// Output: leader 1; first at offset 0 (appended at 0)
}
