package raftstore

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
)

// startCluster starts three nodes on loopback under dir and returns them with the leader.
func startCluster(b testing.TB, dir string) ([]*node, *node) {
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, startNode(b, fmt.Sprintf("n%d", i), filepath.Join(dir, fmt.Sprint(i)), "127.0.0.1:0"))
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: raft.ServerID(n.id), Address: raft.ServerAddress(n.addr)})
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		b.Fatal(err)
	}
	return nodes, waitLeader(b, nodes)
}

// BenchmarkReplicatedAppend compares, in one run, one producer's durable appends of batches of 1, 16 and
// 256 messages of 512 bytes: "one-node" appends to a partition log under SyncAlways (the engine alone);
// "three-nodes" applies each batch as one raft entry through the leader of three nodes on loopback
// (raftstore logs, fsynced by each node before it acknowledges; partitions under SyncNever), returning once
// it is committed and applied on the leader. All nodes share this machine's disk and cores.
func BenchmarkReplicatedAppend(b *testing.B) {
	value := make([]byte, 512)
	for _, batch := range []int{1, 16, 256} {
		values := make([][]byte, batch)
		records := make([]segment.Record, batch)
		for i := range values {
			values[i], records[i] = value, segment.Record{Value: value}
		}
		b.Run(fmt.Sprintf("batch=%d/one-node", batch), func(b *testing.B) {
			dir := b.TempDir()
			idx, err := index.Open(filepath.Join(dir, "index"), index.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer idx.Close()
			l, err := wal.Open(wal.Options{FS: vfs.Default, Dir: filepath.Join(dir, "log"), Index: base.PartitionIndex{Store: idx, Topic: "t"}})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(batch * len(value)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := l.Append(records); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
		})
		b.Run(fmt.Sprintf("batch=%d/three-nodes", batch), func(b *testing.B) {
			nodes, leader := startCluster(b, b.TempDir())
			defer func() {
				for _, n := range nodes {
					n.stop(b)
				}
			}()
			cmd := EncodeCommand(values...)
			b.SetBytes(int64(batch * len(value)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				f := leader.raft.Apply(cmd, 10*time.Second)
				if err := f.Error(); err != nil {
					b.Fatal(err)
				}
				if res := f.Response().(ApplyResult); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkFailover measures, b.N times, the time from the leader's Shutdown to the first append
// acknowledged by the new leader (a producer retrying every millisecond against whichever node is leader),
// on three nodes on loopback with election timeouts of 300 ms; it reports the median, the minimum and the
// maximum.
func BenchmarkFailover(b *testing.B) {
	var times []time.Duration
	for range b.N {
		b.StopTimer()
		nodes, leader := startCluster(b, b.TempDir())
		if err := leader.raft.Apply(EncodeCommand([]byte("warm")), 10*time.Second).Error(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		leader.stop(b)
		var alive []*node
		for _, n := range nodes {
			if n != leader {
				alive = append(alive, n)
			}
		}
		for acked := false; !acked; {
			for _, n := range alive {
				if n.raft.State() == raft.Leader && n.raft.Apply(EncodeCommand([]byte("x")), time.Second).Error() == nil {
					acked = true
					break
				}
			}
			if !acked {
				time.Sleep(time.Millisecond)
			}
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		for _, n := range alive {
			n.stop(b)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(times[0].Milliseconds()), "min-ms")
	b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "max-ms")
}
