package cluster_test

import (
	"slices"
	"testing"
	"time"
)

// The leader reports a follower that is down as unreachable (its heartbeats fail), and no longer once it
// is back; a follower reports none.
func TestUnreachableVoters(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	f := c.followers()[0]
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s (unreachable: %v)", what, l.node.Unreachable())
			}
		}
	}
	waitFor("none unreachable at the start", func() bool { return len(l.node.Unreachable()) == 0 })
	f.stop(t)
	waitFor("the stopped follower unreachable", func() bool { return slices.Equal(l.node.Unreachable(), []int32{f.id}) })
	for _, o := range c.running() {
		if o != l && len(o.node.Unreachable()) != 0 {
			t.Fatalf("follower %d reports %v unreachable", o.id, o.node.Unreachable())
		}
	}
	f.start(t)
	waitFor("the restarted follower reachable again", func() bool { return len(l.node.Unreachable()) == 0 })
}
