package kafka

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/mqlog/mqlog"
)

// topicIDs gives each topic the 16-byte id that Metadata v10+, Fetch v13+ and Produce v13 use (KIP-516).
// An id is derived from the topic's name and incarnation (a version 8 UUID over their SHA-256): the same
// after a restart without being stored, and another one for a topic deleted and created again under its
// name, so that a client holding the old id is told UNKNOWN_TOPIC_ID, as Kafka tells it.
type topicIDs struct {
	db *mqlog.DB
	// incarnation gives a topic's incarnation: the DB's (DB.TopicIncarnation), or with Options.Replication
	// the cluster's (a *cluster.Node's TopicIncarnation: the raft index of the topic's creation, the same on
	// every node, where the local DB's is each node's own and changes when a node's DB is rebuilt).
	incarnation func(name string) (uint64, error)
	mu          struct {
		sync.Mutex
		names map[[16]byte]string
		ids   map[string]topicID // the id of each name, with the incarnation it was derived from
	}
}

// topicIncarnations is where topic ids take incarnations from: a Replication's TopicIncarnation when it has
// one, else, with a Replication, none (ids from names alone: the same on every node, kept by a topic
// created again), else the DB's.
func topicIncarnations(db *mqlog.DB, repl Replication) func(string) (uint64, error) {
	if r, ok := repl.(interface {
		TopicIncarnation(string) (uint64, error)
	}); ok {
		return r.TopicIncarnation
	}
	if repl != nil {
		return func(name string) (uint64, error) {
			_, err := db.TopicIncarnation(name)
			return 0, err
		}
	}
	return db.TopicIncarnation
}

// topicID is a topic's id and the incarnation it belongs to.
type topicID struct {
	incarnation uint64
	id          [16]byte
}

// of returns the id of topic name (the zero id, which names no topic, when it does not exist). The
// SHA-256 is computed once per incarnation: Produce v13 and Fetch v13+ look ids up on every request.
func (t *topicIDs) of(name string) [16]byte {
	incarnation, err := t.incarnation(name)
	if err != nil {
		return [16]byte{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ofLocked(name, incarnation)
}

func (t *topicIDs) ofLocked(name string, incarnation uint64) [16]byte {
	if c, ok := t.mu.ids[name]; ok && c.incarnation == incarnation {
		return c.id
	}
	sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("mqlog topic\x00"+name+"\x00"), incarnation))
	var id [16]byte
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant

	// Start afresh when the cache holds many more names than there are topics (deleted topics' ids).
	if t.mu.ids == nil || len(t.mu.ids) > 2*len(t.db.Topics())+16 {
		t.mu.ids = make(map[string]topicID)
	}
	t.mu.ids[name] = topicID{incarnation, id}
	return id
}

// name returns the topic whose id is id, if it exists.
func (t *topicIDs) name(id [16]byte) (string, bool) {
	if id == ([16]byte{}) {
		return "", false
	}
	t.mu.Lock()
	name, ok := t.mu.names[id]
	t.mu.Unlock()
	if ok {
		if incarnation, err := t.incarnation(name); err == nil {
			t.mu.Lock()
			same := t.ofLocked(name, incarnation) == id
			t.mu.Unlock()
			if same {
				return name, true
			}
		}
	}
	names := t.db.Topics()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.names = make(map[[16]byte]string, len(names))
	for _, n := range names {
		if incarnation, err := t.incarnation(n); err == nil {
			t.mu.names[t.ofLocked(n, incarnation)] = n
		}
	}
	name, ok = t.mu.names[id]
	return name, ok
}
