package wal

import (
	"hash/maphash"
)

// keyMap is compaction's bounded map from a key to the offset of its latest record, after Kafka's
// SkimpyOffsetMap: keys are stored as a 128-bit hash (two 64-bit maphash sums with independent seeds), so
// an entry costs a fixed size whatever the key's length, and the map refuses new keys once it holds
// capacity of them. Two keys that collide on all 128 bits would be taken as one (Kafka takes the same risk
// with MD5).
type keyMap struct {
	seeds    [2]maphash.Seed
	offsets  map[keyHash]int64
	capacity int
}

type keyHash [2]uint64

// keyMapEntryBytes is what one entry is counted as against the memory bound: the 16-byte hash, the 8-byte
// offset, and Go's map overhead (a swiss table's control byte and load factor), rounded up.
const keyMapEntryBytes = 40

// minKeyMapEntries keeps a pass able to make progress with a tiny bound.
const minKeyMapEntries = 16

func newKeyMap(maxBytes int64) *keyMap {
	capacity := max(int(maxBytes/keyMapEntryBytes), minKeyMapEntries)
	return &keyMap{
		seeds:    [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		offsets:  make(map[keyHash]int64, min(capacity, 1<<16)),
		capacity: capacity,
	}
}

func (m *keyMap) hash(key []byte) keyHash {
	return keyHash{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
}

// put records offset as key's latest; it reports false, changing nothing, when key is new and the map is
// full.
func (m *keyMap) put(key []byte, offset int64) bool {
	h := m.hash(key)
	if _, ok := m.offsets[h]; !ok && len(m.offsets) >= m.capacity {
		return false
	}
	m.offsets[h] = offset
	return true
}

// latest returns the offset recorded for key.
func (m *keyMap) latest(key []byte) (int64, bool) {
	o, ok := m.offsets[m.hash(key)]
	return o, ok
}

func (m *keyMap) reset() { clear(m.offsets) }
