package cluster_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// BenchmarkReplicatedQueueAck compares, in one run and interleaved message by message, one worker's Next
// then Ack of 512-byte messages on a work queue (AckWait an hour): "one-node" is DB.Queue alone (two
// synced Pebble saves per message: the delivery and the ack), "three-nodes" is Node.Queue on the leader
// of three nodes on loopback (each save one raft command, committed on a majority and applied to the
// leader's index). It reports each one's messages/s and the ratio three/one.
func BenchmarkReplicatedQueueAck(b *testing.B) {
	value := make([]byte, 512)
	db, err := mqlog.Open(filepath.Join(b.TempDir(), "one"), &mqlog.Options{RetentionCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic("t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	c := newCluster(b, 3, nil)
	l := c.leader()
	if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; {
		n := min(left, 256)
		msgs := make([]mqlog.Message, n)
		for i := range msgs {
			msgs[i].Value = value
		}
		if _, err := db.AppendPartition(ctx, "t", 0, msgs...); err != nil {
			b.Fatal(err)
		}
		if _, err := l.node.Append(ctx, "t", 0, msgs...); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
	opts := mqlog.QueueOptions{AckWait: time.Hour}
	oneQ, err := db.Queue("t", "g", opts)
	if err != nil {
		b.Fatal(err)
	}
	defer oneQ.Close()
	replQ, err := l.node.Queue("t", "g", opts)
	if err != nil {
		b.Fatal(err)
	}
	defer replQ.Close()
	runs := []struct {
		name  string
		q     *mqlog.Queue
		total time.Duration
	}{{name: "one-node", q: oneQ}, {name: "three-nodes", q: replQ}}
	b.SetBytes(int64(len(value) * len(runs)))
	b.ResetTimer()
	for i := range b.N {
		for k := range runs {
			r := &runs[(i+k)%len(runs)] // (each goes first in turn)
			start := time.Now()
			m, err := r.q.Next(ctx)
			if err != nil {
				b.Fatal(r.name, err)
			}
			if err := m.Ack(); err != nil {
				b.Fatal(r.name, err)
			}
			r.total += time.Since(start)
		}
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	for _, r := range runs {
		b.ReportMetric(rate(r.total), r.name+"-msgs/s")
	}
	b.ReportMetric(rate(runs[1].total)/rate(runs[0].total), "ratio-three/one")
}
