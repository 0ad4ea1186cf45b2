package cluster_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/cluster"
	"github.com/mqlog/mqlog/segment"
)

// BenchmarkReplicatedAppendBatch compares, in one run and interleaved append by append, one producer's
// appends of a RecordBatch of 1, 16 or 256 messages of 512 bytes: "one-node" is the DB alone
// (RawPartition.AppendBatch under SyncAlways: durable on return); "three-nodes" is Node.AppendBatch on
// the leader of three nodes on loopback (committed: fsynced in a majority of raft logs, then applied to
// the leader's DB, SyncAlways there too); "three-nodes-nosync" is the same with the nodes' DBs under
// SyncNever (the raft log the only fsynced copy). All nodes share this machine's disk and cores. It
// reports each one's msgs/s and the ratios to one-node (the goal: >= 0.5 at 256).
func BenchmarkReplicatedAppendBatch(b *testing.B) {
	value := make([]byte, 512)
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			frame, one := oneNode(b, batch, len(value))
			synced := newCluster(b, 3, nil)
			nosync := newClusterSync(b, 3, nil, mqlog.SyncNever)
			for _, c := range []*testCluster{synced, nosync} {
				if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
					b.Fatal(err)
				}
			}
			// A leader may change under this load (all nodes on 2 shared cores and one disk): the producer
			// follows it, and the time it takes counts.
			leaderChanges := 0
			replicated := func(c *testCluster) error {
				for {
					n := c.anyLeader()
					if n == nil {
						time.Sleep(time.Millisecond)
						continue
					}
					_, err := n.AppendBatch(ctx, "t", 0, frame, nil)
					if !errors.Is(err, cluster.ErrNotLeader) {
						return err
					}
					leaderChanges++
				}
			}
			runs := []struct {
				name   string
				append func() error
				total  time.Duration
			}{
				{name: "one-node", append: func() error { _, err := one.AppendBatch(ctx, frame, nil); return err }},
				{name: "three-nodes", append: func() error { return replicated(synced) }},
				{name: "three-nodes-nosync", append: func() error { return replicated(nosync) }},
			}
			b.SetBytes(int64(batch * len(value) * len(runs)))
			b.ResetTimer()
			for i := range b.N {
				for k := range runs {
					r := &runs[(i+k)%len(runs)] // (each goes first in turn)
					start := time.Now()
					if err := r.append(); err != nil {
						b.Fatal(r.name, err)
					}
					r.total += time.Since(start)
				}
			}
			b.StopTimer()
			rate := func(d time.Duration) float64 { return float64(b.N*batch) / d.Seconds() }
			for _, r := range runs {
				b.ReportMetric(rate(r.total), r.name+"-msgs/s")
			}
			b.ReportMetric(rate(runs[1].total)/rate(runs[0].total), "ratio-three/one")
			b.ReportMetric(rate(runs[2].total)/rate(runs[0].total), "ratio-nosync/one")
			b.ReportMetric(float64(leaderChanges), "not-leader-retries")
		})
	}
}

// BenchmarkFailover measures, b.N times, the time from the leader's stop (Node.Close, then its DB's) to
// the first append acknowledged by the new leader, for a producer that tries every millisecond whichever
// node is leader; three nodes on loopback with the default timeouts (300 ms heartbeat and election). It
// reports the median, the 90th percentile, the minimum and the maximum.
func BenchmarkFailover(b *testing.B) {
	var times []time.Duration
	for range b.N {
		b.StopTimer()
		c := newCluster(b, 3, nil)
		l := c.leader()
		if err := l.node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
			b.Fatal(err)
		}
		c.waitApplied()
		b.StartTimer()
		start := time.Now()
		l.stop(b)
		for {
			if n := c.anyLeader(); n != nil {
				if _, err := n.Append(ctx, "t", 0, mqlog.Message{Value: []byte("x")}); err == nil {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		for _, n := range c.running() {
			n.stop(b)
		}
	}
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(times[len(times)/2]), "median-ms")
	b.ReportMetric(ms(times[len(times)*9/10]), "p90-ms")
	b.ReportMetric(ms(times[0]), "min-ms")
	b.ReportMetric(ms(times[len(times)-1]), "max-ms")
}

// BenchmarkReplicatedConcurrent compares, in one run, 8 producers appending batches of 16 messages of 512
// bytes at once: "one-node" to a DB under SyncAlways (its group commit shares fsyncs between them),
// "three-nodes" through the leader of three nodes whose DBs run under SyncNever, as a node's DB should
// (raft batches the entries that queue, one fsync per raft commit; the state machine applies one
// batch's appends concurrently), and "three-nodes-dbsync" the same with the nodes' DBs under SyncAlways
// (the apply's fsync added). Each iteration runs a round of 8 × 10 appends on each, in turn.
func BenchmarkReplicatedConcurrent(b *testing.B) {
	const producers, perRound, batch = 8, 10, 16
	frame, one := oneNode(b, batch, 512)
	c := newClusterSync(b, 3, nil, mqlog.SyncNever)
	synced := newCluster(b, 3, nil)
	for _, c := range []*testCluster{c, synced} {
		if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	round := func(appendOne func() error) time.Duration {
		start := time.Now()
		errs := make(chan error, producers)
		for range producers {
			go func() {
				for range perRound {
					if err := appendOne(); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range producers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	oneAppend := func() error { _, err := one.AppendBatch(ctx, frame, nil); return err }
	replicatedOn := func(c *testCluster) func() error {
		return func() error {
			return c.onLeader(func(n *cluster.Node) error { _, err := n.AppendBatch(ctx, "t", 0, frame, nil); return err })
		}
	}
	runs := []struct {
		name   string
		append func() error
		total  time.Duration
	}{{name: "one-node", append: oneAppend}, {name: "three-nodes", append: replicatedOn(c)}, {name: "three-nodes-dbsync", append: replicatedOn(synced)}}
	b.ResetTimer()
	for i := range b.N {
		for k := range runs {
			r := &runs[(i+k)%len(runs)]
			r.total += round(r.append)
		}
	}
	msgs := float64(b.N * producers * perRound * batch)
	for _, r := range runs {
		b.ReportMetric(msgs/r.total.Seconds(), r.name+"-msgs/s")
	}
	b.ReportMetric(runs[0].total.Seconds()/runs[1].total.Seconds(), "ratio-three/one")
	b.ReportMetric(runs[0].total.Seconds()/runs[2].total.Seconds(), "ratio-dbsync/one")
}

// oneNode returns a batch of n records of size bytes each, encoded, and partition 0 of topic "t" in a DB
// of its own (SyncAlways), closed when b ends: the one-node side of the comparisons.
func oneNode(b *testing.B, n, size int) ([]byte, *mqlog.RawPartition) {
	recs := make([]segment.Record, n)
	for i := range recs {
		recs[i] = segment.Record{Value: make([]byte, size), Timestamp: 1}
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	db, err := mqlog.Open(filepath.Join(b.TempDir(), "db"), &mqlog.Options{RetentionCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
		b.Fatal(err)
	}
	one, err := db.RawPartition("t", 0)
	if err != nil {
		b.Fatal(err)
	}
	return frame, one
}

// BenchmarkReplicatedPipelined compares, in one run, one producer that keeps up to 4 appends of a batch
// of 16 or 256 messages of 512 bytes in flight, each started once the one before has its place (the
// ordered hook: what the Kafka front end does with a connection's pipelined produce requests), on the DB
// alone (SyncAlways: its group commit shares an fsync between the appends in flight) and through the
// leader of three nodes whose DBs run under SyncNever (raft commits the entries in flight together),
// with the same three nodes appended to one at a time. Each iteration runs 40 appends on each, the
// first rotating.
func BenchmarkReplicatedPipelined(b *testing.B) {
	const depth, perRound = 4, 40
	for _, batch := range []int{16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			frame, one := oneNode(b, batch, 512)
			c := newClusterSync(b, 3, nil, mqlog.SyncNever)
			if err := c.leader().node.CreateTopic(ctx, "t", mqlog.TopicConfig{}); err != nil {
				b.Fatal(err)
			}
			leader := c.leader().node
			type appendFn func(ordered func()) error
			round := func(pipelined bool, appendOne appendFn) time.Duration {
				start := time.Now()
				if !pipelined {
					for range perRound {
						if err := appendOne(nil); err != nil {
							b.Fatal(err)
						}
					}
					return time.Since(start)
				}
				slots := make(chan struct{}, depth) // (appends in flight)
				errs := make(chan error, perRound)
				for range perRound {
					slots <- struct{}{}
					placed := make(chan struct{})
					go func() {
						placedOnce := sync.OnceFunc(func() { close(placed) })
						defer placedOnce()
						err := appendOne(placedOnce)
						<-slots
						errs <- err
					}()
					<-placed // (the next one starts once this one has its place)
				}
				for range perRound {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			oneAppend := func(ordered func()) error { _, err := one.AppendBatch(ctx, frame, ordered); return err }
			replicated := func(ordered func()) error { _, err := leader.AppendBatch(ctx, "t", 0, frame, ordered); return err }
			var oneT, threeT, serialT time.Duration
			b.ResetTimer()
			for i := range b.N {
				runs := []func(){
					func() { oneT += round(true, oneAppend) },
					func() { threeT += round(true, replicated) },
					func() { serialT += round(false, replicated) },
				}
				for k := range runs {
					runs[(i+k)%len(runs)]()
				}
			}
			b.StopTimer()
			msgs := float64(b.N * perRound * batch)
			b.ReportMetric(msgs/oneT.Seconds(), "one-node-pipelined-msgs/s")
			b.ReportMetric(msgs/threeT.Seconds(), "three-nodes-pipelined-msgs/s")
			b.ReportMetric(msgs/serialT.Seconds(), "three-nodes-serial-msgs/s")
			b.ReportMetric(oneT.Seconds()/threeT.Seconds(), "ratio-three/one")
			b.ReportMetric(serialT.Seconds()/threeT.Seconds(), "pipelined/serial")
		})
	}
}
