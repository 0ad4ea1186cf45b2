package kafka

import (
	"fmt"
	"testing"

	"github.com/mqlog/mqlog"
)

// withIncarnations is a Replication that has only the cluster's topic incarnations (a *cluster.Node's
// TopicIncarnation), as topicIncarnations looks for them.
type withIncarnations struct {
	Replication
	of map[string]uint64
}

func (w withIncarnations) TopicIncarnation(name string) (uint64, error) {
	if inc, ok := w.of[name]; ok {
		return inc, nil
	}
	return 0, fmt.Errorf("%w: %s", mqlog.ErrTopicNotFound, name)
}

// With a Replication, topic ids come from the cluster's incarnations: the same on nodes whose local
// incarnations differ, and a new id for a topic the cluster created again, as on one node.
func TestTopicIDsFromReplicatedIncarnations(t *testing.T) {
	openWith := func(recreate bool) *mqlog.DB {
		db, err := mqlog.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
			t.Fatal(err)
		}
		if recreate { // (a node whose DB was rebuilt: another local incarnation)
			if err := db.DeleteTopic("t"); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTopic("t", mqlog.TopicConfig{}); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	a, b := openWith(false), openWith(true)
	if ia, _ := a.TopicIncarnation("t"); func() bool { ib, _ := b.TopicIncarnation("t"); return ia == ib }() {
		t.Fatal("the two DBs' local incarnations are the same: the test proves nothing")
	}
	repl := withIncarnations{of: map[string]uint64{"t": 7}}
	idsA := &topicIDs{db: a, incarnation: topicIncarnations(a, repl)}
	idsB := &topicIDs{db: b, incarnation: topicIncarnations(b, repl)}
	first := idsA.of("t")
	if first == ([16]byte{}) || idsB.of("t") != first {
		t.Fatalf("ids %x and %x: want one nonzero id on both nodes", first, idsB.of("t"))
	}
	if name, ok := idsB.name(first); !ok || name != "t" {
		t.Fatalf("name of the id: %q, %v", name, ok)
	}
	repl.of["t"] = 9 // deleted and created again through the cluster
	if again := idsA.of("t"); again == first || again != idsB.of("t") {
		t.Fatalf("after the cluster created t again: ids %x and %x, before %x", again, idsB.of("t"), first)
	}
	if _, ok := idsA.name(first); ok {
		t.Fatal("the old incarnation's id still names t (a client holding it must be told UNKNOWN_TOPIC_ID)")
	}
	// Without the cluster's incarnations (a Replication that lacks them), ids come from names alone.
	nameOnly := &topicIDs{db: b, incarnation: topicIncarnations(b, withoutIncarnations{})}
	if (&topicIDs{db: a, incarnation: topicIncarnations(a, withoutIncarnations{})}).of("t") != nameOnly.of("t") {
		t.Fatal("name-only ids differ between nodes")
	}
}

type withoutIncarnations struct{ Replication }
