package peers

import (
	"context"
	"fmt"
)

// Queue is a durable message log under test: one writer side, one reader side, as a message queue uses it.
type Queue interface {
	// Append stores payloads as consecutive messages and returns once the system reports them stored, as
	// durable as the mode the queue was opened in makes them (System.Durability says what that is). It is
	// safe for concurrent use.
	Append(payloads [][]byte) error
	// Scan reads every message from the first, in order, calling fn with each payload, which is valid only
	// during the call, and returns how many it read.
	Scan(ctx context.Context, fn func(payload []byte)) (int64, error)
	// Close releases the queue; a queue opened not durable makes everything written durable first.
	Close() error
}

// System is one log implementation the comparison runs.
type System struct {
	Name string
	// Durability states honestly what an acknowledged Append has on disk in durable mode: what is
	// fsynced per call, whether writes are batched, what is not synced.
	Durability string
	// Batching says how a batch of N messages is handed to the system.
	Batching string
	// Open opens (or creates) the queue stored in dir. With durable false, the queue may skip per-append
	// syncs (used only to load the consume workloads' logs, which are synced afterwards).
	Open func(dir string, durable bool) (Queue, error)
}

// Names of the systems.
const (
	NameMQLog       = "mqlog"
	NameRaw         = "raw"
	NameRawPrealloc = "raw-prealloc"
	NameRaftWAL     = "raft-wal"
	NameTidwallWAL  = "tidwall-wal"
	NameJetStream   = "jetstream"
	NamePebble      = "pebble"
	NameBbolt       = "bbolt"
	NameDiskQueue   = "diskqueue"
)

// Systems returns every system, baselines and mqlog first, in the order a round runs them.
func Systems() []System {
	return []System{
		mqlogSystem(), rawSystem(false), rawSystem(true),
		raftWALSystem(), tidwallWALSystem(), jetStreamSystem(), pebbleSystem(), bboltSystem(), diskQueueSystem(),
	}
}

// SelectSystems returns the systems named in names, in Systems order; nil or empty selects all. The raw
// baseline is always included, since every ratio is taken against it.
func SelectSystems(names []string) ([]System, error) {
	all := Systems()
	if len(names) == 0 {
		return all, nil
	}
	want := map[string]bool{NameRaw: true}
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("mqlog/bench/peers: unknown system %q", n)
		}
		want[n] = true
	}
	var out []System
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}
