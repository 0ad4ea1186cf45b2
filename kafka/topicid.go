package kafka

import (
	"crypto/sha256"
	"sync"

	"github.com/mqlog/mqlog"
)

// topicIDs gives each topic the 16-byte id that Metadata v10+, Fetch v13+ and Produce v13 use (KIP-516).
// An id is derived from the topic's name (a version 8 UUID over its SHA-256), so it is the same after a
// restart without being stored; a topic deleted and created again under its name gets the same id. (When
// the catalog gives topics an incarnation id, it is to be derived from name and incarnation instead, so
// that a client holding the old id is told UNKNOWN_TOPIC_ID.)
type topicIDs struct {
	db *mqlog.DB
	mu struct {
		sync.Mutex
		names map[[16]byte]string
	}
}

// of returns the id of topic name.
func (t *topicIDs) of(name string) [16]byte {
	sum := sha256.Sum256([]byte("mqlog topic\x00" + name))
	var id [16]byte
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}

// name returns the topic whose id is id, if it exists.
func (t *topicIDs) name(id [16]byte) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if name, ok := t.mu.names[id]; ok {
		if _, err := t.db.TopicConfig(name); err == nil {
			return name, true
		}
	}
	t.mu.names = make(map[[16]byte]string)
	for _, name := range t.db.Topics() {
		t.mu.names[t.of(name)] = name
	}
	name, ok := t.mu.names[id]
	return name, ok
}
