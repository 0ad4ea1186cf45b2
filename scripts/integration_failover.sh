#!/usr/bin/env bash
# The failover row of the client matrix (scripts/integration.sh runs it; it runs alone too): three
# `mqlog serve --raft-*` nodes on loopback, franz-go (the mqlog CLI's --broker path is a kgo client) and
# kcat (when on PATH) each produce N/2 messages with acks=all, the leader is killed with SIGKILL, each
# produces N/2 more, and each then reads everything back: franz-go in a consumer group (mqlog consume
# --group --broker), kcat from the beginning. kcat is seeded with all three nodes and finds the new
# leader itself. The CLI is pointed at a node that is still up; its client finds the leader from
# Metadata. Prints one line per row, "CLIENT failover STATUS DETAIL", as integration.sh's rows. Exits 0.
#
# Usage: integration_failover.sh MQLOG_BINARY WORKDIR N [TIMEOUT_SECONDS]
set -uo pipefail
MQLOG=$1
WORK=$2
N=$3
T=${4:-180}
PIDS=()
stop_nodes() { # SIGTERM, then up to 20 s for each to close its raft node and DB, then SIGKILL
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
}
trap stop_nodes EXIT

bounded() { timeout --foreground -k 10 "$T" "$@"; }

# Free loopback ports, as the kernel hands them out (a moment later they may be taken: then a node fails
# to start and the row fails, saying so).
read -r -a PORTS < <(python3 -c 'import socket
s=[socket.socket() for _ in range(6)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))' 2>/dev/null)
if [ "${#PORTS[@]}" != 6 ]; then
	PORTS=()
	base=$((20000 + RANDOM % 30000))
	for i in 0 1 2 3 4 5; do PORTS+=($((base + i))); done
fi
KAFKA=(127.0.0.1:${PORTS[0]} 127.0.0.1:${PORTS[1]} 127.0.0.1:${PORTS[2]})
RAFT=(127.0.0.1:${PORTS[3]} 127.0.0.1:${PORTS[4]} 127.0.0.1:${PORTS[5]})
PEERS="1@${RAFT[0]}/${KAFKA[0]},2@${RAFT[1]}/${KAFKA[1]},3@${RAFT[2]}/${KAFKA[2]}"
ALL="${KAFKA[0]},${KAFKA[1]},${KAFKA[2]}"
for i in 0 1 2; do
	"$MQLOG" --dir "$WORK/node$((i + 1))" serve --listen "${KAFKA[$i]}" --raft-id $((i + 1)) --raft-bind "${RAFT[$i]}" \
		--raft-peers "$PEERS" --no-auto-create >"$WORK/node$((i + 1)).log" 2>&1 &
	PIDS+=($!)
	disown $! # (no "Killed" line when the leader is killed)
done

fail_all() {
	echo "franz-go failover FAIL $1"
	echo "kcat failover FAIL $1"
	exit 0
}

# leader [NODE]: the leader's ID as NODE (an index into KAFKA, default 0) sees it, after waiting for one.
leader() {
	local id
	for _ in $(seq 300); do
		id=$("$MQLOG" cluster status --broker "${KAFKA[${1:-0}]}" 2>/dev/null | sed -n 's/^node .*: leader \([0-9]*\),.*/\1/p')
		[ -n "$id" ] && [ "$id" -gt 0 ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

first=$(leader) || fail_all "no leader elected: $(tail -c 300 "$WORK/node1.log")"
for topic in failover-franz failover-kcat; do
	bounded "$MQLOG" --dir "$WORK/nodir" topic create "$topic" --partitions 1 --broker "${KAFKA[$((first - 1))]}" >/dev/null 2>"$WORK/create.err" ||
		fail_all "topic create: $(head -c 300 "$WORK/create.err")"
done
# Every node has applied the topics (a produce through a node that has not would say topic not found).
for i in 1 2 3; do
	for _ in $(seq 300); do
		"$MQLOG" --dir "$WORK/node$i" topic describe failover-kcat >/dev/null 2>&1 && break
		sleep 0.1
	done
done

HAVE_KCAT=
command -v kcat >/dev/null && HAVE_KCAT=1
half=$((N / 2))
produce() { # from to node-index
	seq "$1" "$2" | sed 's/^/f/' | bounded "$MQLOG" produce -t failover-franz --broker "${KAFKA[$3]}" >>"$WORK/franz.acks" 2>>"$WORK/franz.err"
	local rc=$?
	if [ -n "$HAVE_KCAT" ]; then
		seq "$1" "$2" | sed 's/^/k/' | bounded kcat -b "$ALL" -t failover-kcat -p 0 -P -X acks=all -X enable.idempotence=true -X message.timeout.ms=60000 2>>"$WORK/kcat.err" || rc=1
	fi
	return $rc
}
produce 0 $((half - 1)) $((first % 3)) || fail_all "produce before the failover: $(head -c 300 "$WORK/franz.err" "$WORK/kcat.err" 2>/dev/null)"
kill -9 "${PIDS[$((first - 1))]}"
survivor=$((first % 3)) # a node that is still up
second=$(leader "$survivor") || fail_all "no new leader after killing node $first"
for _ in $(seq 100); do # (the survivor may still name the killed leader for a moment)
	[ "$second" != "$first" ] && break
	sleep 0.1
	second=$(leader "$survivor")
done
produce "$half" $((N - 1)) "$survivor"
prc=$?

got=$(bounded "$MQLOG" --dir "$WORK/node$((survivor + 1))" consume -t failover-franz --group failover --broker "${KAFKA[$survivor]}" 2>>"$WORK/franz.err")
if [ $prc = 0 ] && [ "$got" = "$(seq 0 $((N - 1)) | sed 's/^/f/')" ]; then
	echo "franz-go failover PASS $N messages acks=all, leader $first killed after $half, new leader $second; a group read all $N once in order"
else
	echo "franz-go failover FAIL leader $first killed: read $(echo "$got" | grep -c .) of $N; $(tail -c 200 "$WORK/franz.err" 2>/dev/null | tr '\n' ' ')"
fi
if [ -z "$HAVE_KCAT" ]; then
	echo "kcat failover SKIP kcat not on PATH"
else
	got=$(bounded kcat -b "$ALL" -t failover-kcat -p 0 -C -o beginning -e -q -f '%s\n' 2>>"$WORK/kcat.err")
	if [ "$got" = "$(seq 0 $((N - 1)) | sed 's/^/k/')" ]; then
		echo "kcat failover PASS $N messages acks=all, idempotent, seeded with all three, leader $first killed after $half; read back once in order"
	else
		echo "kcat failover FAIL read $(echo "$got" | grep -c .) of $N: $(tail -c 200 "$WORK/kcat.err" | tr '\n' ' ')"
	fi
fi
exit 0
