// Package conformance runs the raft store conformance suite (raftstore/storetest) against raft-wal beside
// raft.InmemStore and mqlog's raftstore, and benchmarks StoreLogs of the two disk stores in one run. It is
// a module of its own so that raft-wal (and the bbolt and etcd packages it brings) stays out of mqlog's
// go.mod; `make test` runs it (`make raft-conformance` alone), `make bench-raftstore` runs the benchmarks.
package conformance
