# mqlog — make targets. `make test` is what CI runs (.ci/run); it stays under 10 minutes on 2 cores.
GO       ?= go
FUZZTIME ?= 2m

.PHONY: test race vet bench bench-quick fuzz torture build integration

build:
	$(GO) build -o mqlog ./cmd/mqlog

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above"; exit 1)
	$(GO) vet ./...

# The sampled suite (-short), then the concurrent packages again under the race detector.
test: vet
	$(GO) test -short -count=1 -timeout 8m ./...
	$(GO) test -short -count=1 -race -timeout 8m . ./wal/... ./index/... ./kafka/... ./internal/... ./prommetrics/... ./examples/... ./raftstore/... ./cluster/...
	$(MAKE) raft-conformance

# The raft store conformance suite (raftstore/storetest) against raft.InmemStore, raft-wal and raftstore, in
# the module raftstore/conformance (raft-wal stays out of mqlog's go.mod). Seconds.
.PHONY: raft-conformance bench-raftstore
raft-conformance:
	cd raftstore/conformance && $(GO) vet ./... && $(GO) test -short -count=1 -timeout 5m ./...

# StoreLogs of batches 1, 16 and 256 entries, raftstore against raft-wal, interleaved in one run, on the temp
# directory's disk; then replicated appends on three nodes against one, and failover times (raftstore).
bench-raftstore:
	cd raftstore/conformance && $(GO) test -run '^$$' -bench StoreLogsInterleaved -benchtime 10x -timeout 20m ./...
	$(GO) test -run '^$$' -bench 'ReplicatedAppend|Failover' -timeout 20m ./raftstore
	$(GO) test -run '^$$' -bench 'ReplicatedAppendBatch|Failover' -benchtime 300x -timeout 20m ./cluster

race:
	$(GO) test -count=1 -race -timeout 20m ./...

# testing.B benchmarks of mqlog beside the raw baselines, then the bench tool's full comparison, then the
# partitions workload. BENCH_OUT gets each run's JSON and wide table (bench.json, bench.txt, ...).
BENCH_OUT ?= bench/results
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s -timeout 30m .
	$(GO) run ./cmd/mqlog bench --full --out $(BENCH_OUT)
	$(MAKE) bench-partitions

# Topic creation, Open, memory, descriptors, goroutines and disk reserved against 1 to 10,000 partitions
# (at most 16 GiB of the temp directory's free space: see docs/BENCH.md), and the chart of their growth.
.PHONY: bench-partitions
bench-partitions:
	$(GO) run ./cmd/mqlog bench --workload partitions --out $(BENCH_OUT)
	cd bench/peers && $(GO) run ./cmd/peers --partitions $(abspath $(BENCH_OUT))/partitions.json --out $(abspath $(BENCH_OUT))

bench-quick:
	$(GO) run ./cmd/mqlog bench --quick

# Every fuzz target for FUZZTIME each (go test -fuzz takes one target per run), printing each target's final
# execution count; a failing input is kept in the package's testdata/fuzz and the run stops.
fuzz:
	@set -e; for pkg in ./segment ./wal .; do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg > .fuzz.log 2>&1 \
				|| { cat .fuzz.log; exit 1; }; \
			grep '^fuzz: elapsed' .fuzz.log | tail -1; \
		done; \
	done; rm -f .fuzz.log

# The long versions of the crash, torn-tail, fail-stop, corruption and kill tests, recovery's verdicts
# (TestCrashRestartPowerCut: a kill, a restart on the page cache, a power cut at every write op of it) and
# the full-disk opens, and the replicated cluster's fault test of real processes (cmd/mqlog TestClusterKillFault:
# 12 rounds of a leader SIGKILLed and a follower SIGSTOPped; TestClusterPartitionFault, as root: 8 rounds of a
# leader and a follower cut off in network namespaces of the test's own); the log (torture.log) keeps every
# test's count of crash points and kills.
torture:
	MQLOG_TORTURE=1 $(GO) test -count=1 -timeout 80m -run 'Crash|Torn|Kill|Fault|FailStop|Corruption|ENOSPC|Recover|FullDisk|Pending' -v . ./wal/... ./index/... ./raftstore/... ./cluster/... ./cmd/mqlog 2>&1 \
		| tee torture.log | grep -E '^(--- |ok|FAIL|PASS)|crash points|kills|variants|injected'
	@grep -q '^FAIL' torture.log && exit 1 || true

# The side-by-side comparison with the peers (bench/peers, a module of its own): JSON, table, Markdown
# ratios and SVG charts into bench/results/. Under 5 minutes on 2 cores once the module is built.
.PHONY: bench-peers
bench-peers:
	cd bench/peers && $(GO) run ./cmd/peers --out ../results

# The Kafka client matrix (scripts/integration.sh), what .ci/run runs after test: franz-go and kafka-go
# in-process (the integration module), kcat, kafka-python and kafkajs against a server on loopback, each
# installed when missing (apt-get, npm) or skipped, saying why (a skip exits 0). Bounded by MQLOG_IT_TIMEOUT
# (20 minutes); one to two minutes once the tools are installed.
integration:
	bash scripts/integration.sh

# The Kafka front end against the embedded API, interleaved rounds on one disk (integration/cmd/kafkabench).
.PHONY: bench-kafka
bench-kafka:
	cd integration && $(GO) run ./cmd/kafkabench -rounds 3
