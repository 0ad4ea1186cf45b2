// Package check is the offline layer over a whole data directory: Verify checks every partition without
// the writer's lock, writing and creating nothing; Repair, with the lock, makes a damaged directory one
// that Open accepts again, moving what it drops to lost+found; ReadIndex reads topic configs and group
// positions for the read-only CLI.
//
// It is the one offline layer: what a single partition's files say is judged by the wal package
// (wal.Verify and wal.Repair), with the same rules recovery applies at Open (wal/tail.go), so that verify
// never calls damage what Open would repair by design, nor the reverse. This package walks the directory,
// reads the durable state from Pebble when no writer holds it, and puts the partitions' findings together.
package check
