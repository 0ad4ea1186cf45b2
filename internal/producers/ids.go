package producers

import (
	"fmt"
	"sync"
)

// IDBlockSize is how many producer ids one durable write reserves (Kafka's ProducerIdManager blocks).
const IDBlockSize = 1000

// IDStore keeps the first producer id not yet reserved, durably.
type IDStore interface {
	// LoadNextProducerID returns the stored value, 0 when there is none.
	LoadNextProducerID() (int64, error)
	// SaveNextProducerID stores it, synced, before it returns.
	SaveNextProducerID(next int64) error
}

// IDs hands out producer ids that are never handed out again, across restarts: it reserves them in blocks
// of IDBlockSize, one synced write per block, so a restart skips what was left of the last block.
type IDs struct {
	store IDStore
	mu    struct {
		sync.Mutex
		next, limit int64 // ids [next, limit) are reserved and unused
	}
}

// NewIDs returns an allocator over store.
func NewIDs(store IDStore) *IDs { return &IDs{store: store} }

// Next returns a new producer id.
func (a *IDs) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.next == a.mu.limit {
		next, err := a.store.LoadNextProducerID()
		if err != nil {
			return 0, err
		}
		if next < 0 {
			return 0, fmt.Errorf("mqlog/producers: stored next producer id %d", next)
		}
		if err := a.store.SaveNextProducerID(next + IDBlockSize); err != nil {
			return 0, err
		}
		a.mu.next, a.mu.limit = next, next+IDBlockSize
	}
	id := a.mu.next
	a.mu.next++
	return id, nil
}
