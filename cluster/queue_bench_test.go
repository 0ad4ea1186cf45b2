package cluster_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// BenchmarkReplicatedQueueAck compares, in one run and interleaved message by message, one worker taking
// and acking 512-byte messages from a work queue (AckWait an hour): "one-node" is DB.Queue alone (each
// save a synced Pebble write), "three-nodes" is Node.Queue on the leader of three nodes on loopback (each
// save one raft command, committed on a majority, fsynced there, and applied to every node's index). With
// next-ack a message costs two saves (Next's delivery, then Ack); with acknext one (AckNext: the ack and
// the next delivery in one save). It reports each one's messages/s and the ratio three/one.
func BenchmarkReplicatedQueueAck(b *testing.B) {
	for _, mode := range []string{"next-ack", "acknext"} {
		b.Run("mode="+mode, func(b *testing.B) { benchQueueAck(b, mode == "acknext") })
	}
}

func benchQueueAck(b *testing.B, ackNext bool) {
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
	for left := b.N + 1; left > 0; { // (one more: the last AckNext delivers it)
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
	type run struct {
		name  string
		q     *mqlog.Queue
		cur   *mqlog.QueueMessage // acknext: the message held
		total time.Duration
	}
	runs := []*run{{name: "one-node", q: oneQ}, {name: "three-nodes", q: replQ}}
	if ackNext {
		for _, r := range runs {
			if r.cur, err = r.q.Next(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	step := func(r *run) error {
		if ackNext {
			m, err := r.cur.AckNext(ctx)
			r.cur = m
			return err
		}
		m, err := r.q.Next(ctx)
		if err != nil {
			return err
		}
		return m.Ack()
	}
	b.SetBytes(int64(len(value) * len(runs)))
	b.ResetTimer()
	for i := range b.N {
		for k := range runs {
			r := runs[(i+k)%len(runs)] // (each goes first in turn)
			start := time.Now()
			if err := step(r); err != nil {
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
