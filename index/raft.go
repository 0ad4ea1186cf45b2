package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// raftStableKey is the key of a raft stable value: kindRaftStable, then the raft key as it is.
func raftStableKey(key []byte) []byte {
	k := make([]byte, 0, 1+len(key))
	k = append(k, kindRaftStable)
	return append(k, key...)
}

// PutRaftStable stores value under the raft stable key key (raft.StableStore.Set), synced: raft relies on
// its term and vote being durable before it answers a vote or an append.
func (s *Store) PutRaftStable(key, value []byte) error {
	db, err := s.acquireForWrite()
	if err != nil {
		return err
	}
	defer s.release()
	if err := db.Set(raftStableKey(key), value, pebble.Sync); err != nil {
		return fmt.Errorf("mqlog/index: put raft stable value %q: %w", key, err)
	}
	return nil
}

// RaftStable returns the value stored by PutRaftStable under key, or ok false when there is none.
func (s *Store) RaftStable(key []byte) (value []byte, ok bool, err error) {
	db, err := s.acquire()
	if err != nil {
		return nil, false, err
	}
	defer s.release()
	return get(db, raftStableKey(key))
}
