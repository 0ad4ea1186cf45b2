#!/usr/bin/env bash
# The client matrix of mqlog's Kafka front end (make integration): real Kafka clients against a server on
# loopback. franz-go and kafka-go run in-process (go test in integration/); kcat (Debian kcat 1.7.1),
# kafka-python (Debian python3-kafka 2.0.2) and kafkajs 2.2.4 (npm) run against integration/cmd/testbroker.
# Tools that are missing are installed when this runs as root with apt-get (kcat, python3-kafka) and npm
# (kafkajs, into integration/clients/node_modules); a client that cannot be had is skipped, saying why.
# Rows: produce, consume from earliest, consume in a group with commits (group-commit), a restart of the
# server between two group sessions with the position kept (restart-keeps-position: the second session
# gets exactly what the first did not commit), ListOffsets by time, an idempotent retry (the broker's
# answer to a produce withheld and the connection cut, so the producer retries a batch already written:
# the log must hold every message once), and for franz-go and kcat a failover of a three-node cluster
# (scripts/integration_failover.sh: the leader killed between two halves of acks=all produces, everything
# read back once in order). Prints the rows, then the matrix (client x row); exits 1 if any
# row failed, 0 otherwise (a skipped client is not a failure: .ci/run runs this on machines that may
# have no network, no apt-get or no npm).
#
# Bounded in time, so that CI never hangs: the whole run by MQLOG_IT_TIMEOUT seconds (default 1200; over
# it, everything is stopped and the run exits 124), each client command by MQLOG_IT_CLIENT_TIMEOUT
# (default 180; over it, that row fails and the run goes on), each install by MQLOG_IT_INSTALL_TIMEOUT
# (default 300; over it, the client is skipped). No row depends on how long anything takes: the waits
# inside the clients are maxima for a broken run, far above what a loaded machine needs.
# MQLOG_IT_PYTHON is the Python that has kafka-python (default /usr/bin/python3, Debian's).
set -uo pipefail
cd "$(dirname "$0")/.."
TOTAL_TIMEOUT=${MQLOG_IT_TIMEOUT:-1200}
CLIENT_TIMEOUT=${MQLOG_IT_CLIENT_TIMEOUT:-180}
INSTALL_TIMEOUT=${MQLOG_IT_INSTALL_TIMEOUT:-300}
if [ -z "${MQLOG_IT_BOUNDED:-}" ]; then
	# timeout signals its whole process group: the brokers and clients this starts stop with it.
	MQLOG_IT_BOUNDED=1 timeout -k 30 "$TOTAL_TIMEOUT" bash "$0" "$@"
	rc=$?
	[ $rc = 124 ] && echo "integration: stopped after the ${TOTAL_TIMEOUT} s bound (MQLOG_IT_TIMEOUT)" >&2
	exit $rc
fi
ROOT=$PWD
WORK=$(mktemp -d)
N=20
ROWS=()
FAILED=0
BROKER_PID=
START=$SECONDS

cleanup() {
	[ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# bounded CMD...: CMD, stopped after CLIENT_TIMEOUT seconds (exit status 124, said on stderr).
bounded() {
	timeout --foreground -k 10 "$CLIENT_TIMEOUT" "$@"
	local rc=$?
	[ $rc = 124 ] && echo "integration: $1 stopped after ${CLIENT_TIMEOUT} s (MQLOG_IT_CLIENT_TIMEOUT)" >&2
	return $rc
}

section() { echo "== $1 (at $((SECONDS - START)) s)" >&2; }

row() { # client row status detail
	ROWS+=("| $1 | $2 | $3 | $4 |")
	[ "$3" = FAIL ] && FAILED=1
	printf '%-13s %-18s %s %s\n' "$1" "$2" "$3" "$4" >&2
}

# start_broker [DROPS [DIR]]: a testbroker in the background (serving DIR, kept, when given: a second
# start_broker on it is a restart); sets BROKER (address) and BROKER_OUT.
start_broker() {
	BROKER_OUT=$WORK/broker.$RANDOM
	mkfifo "$BROKER_OUT.in"
	local dir=()
	[ -n "${2:-}" ] && dir=(--dir "$2")
	"$WORK/testbroker" --drop-produce-responses "${1:-0}" "${dir[@]}" <"$BROKER_OUT.in" >"$BROKER_OUT" 2>"$BROKER_OUT.err" &
	BROKER_PID=$!
	exec 9>"$BROKER_OUT.in" # held open: the broker stops when it closes
	for _ in $(seq 600); do # (60 s at most: a start takes well under a second)
		BROKER=$(sed -n 's/^broker //p' "$BROKER_OUT")
		[ -n "$BROKER" ] && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "testbroker did not start: $(cat "$BROKER_OUT.err")" >&2
	return 1
}

# stop_broker: ends it and leaves its per-partition summary in $BROKER_OUT (killed, saying so, when it
# does not stop within CLIENT_TIMEOUT).
stop_broker() {
	exec 9>&-
	if ! timeout --foreground "$CLIENT_TIMEOUT" tail --pid="$BROKER_PID" -f /dev/null; then
		echo "integration: testbroker did not stop within ${CLIENT_TIMEOUT} s: killed" >&2
		kill -9 "$BROKER_PID" 2>/dev/null
	fi
	wait "$BROKER_PID"
	BROKER_PID=
}

# committed GROUP TOPIC: the group's committed offset in partition 0 of TOPIC, as the broker's summary says.
committed() { sed -n "s/^group=$1 topic=$2 partition=0 offset=//p" "$BROKER_OUT"; }

# summary TOPIC: the broker's "records=N distinct=D" for partition 0 of TOPIC.
summary() { grep "^topic=$1 partition=0 " "$BROKER_OUT" | grep -o 'records=[0-9]* distinct=[0-9]*'; }

want_summary() { # client row topic: every message once, after the broker withheld answers
	local got withheld
	got=$(summary "$3")
	withheld=$(sed -n 's/^testbroker: \([0-9]*\) produce responses withheld/\1/p' "$BROKER_OUT.err")
	if [ "$got" = "records=$N distinct=$N" ] && [ "${withheld:-0}" -gt 0 ]; then
		row "$1" "$2" PASS "$got after $withheld answers withheld"
	else
		row "$1" "$2" FAIL "log holds ${got:-nothing} after ${withheld:-0} answers withheld, want records=$N distinct=$N"
	fi
}

# apt_install PACKAGE: apt-get install, after an apt-get update when the package lists are missing or
# old, each bounded by INSTALL_TIMEOUT. On failure it sets WHY to the reason.
apt_install() {
	WHY=
	if ! command -v apt-get >/dev/null; then
		WHY="no apt-get on PATH to install $1"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		WHY="not root: cannot apt-get install $1"
		return 1
	fi
	echo "integration: apt-get install $1" >&2
	local opts=(-o Acquire::Retries=0 -o Acquire::http::Timeout=20 -o Acquire::https::Timeout=20)
	DEBIAN_FRONTEND=noninteractive timeout --foreground -k 10 "$INSTALL_TIMEOUT" apt-get install -y -qq "${opts[@]}" "$1" >"$WORK/apt.log" 2>&1 && return 0
	timeout --foreground -k 10 "$INSTALL_TIMEOUT" apt-get update -qq "${opts[@]}" >>"$WORK/apt.log" 2>&1
	DEBIAN_FRONTEND=noninteractive timeout --foreground -k 10 "$INSTALL_TIMEOUT" apt-get install -y -qq "${opts[@]}" "$1" >>"$WORK/apt.log" 2>&1 && return 0
	WHY="apt-get install $1 failed (no network or no such package?): $(grep -E '^(E|W):' "$WORK/apt.log" | head -1 | cut -c1-150)"
	return 1
}

# --- franz-go and kafka-go, in-process -----------------------------------------------------------------
go_rows() { # test row...
	local test=$1
	shift
	local status=PASS
	grep -q -- "--- PASS: $test " "$WORK/go.out" || status=FAIL
	for r in "$@"; do
		row "$client" "$r" "$status" "go test -run $test"
	done
}
section "franz-go, kafka-go (go test in integration/)"
(cd integration && go test -count=1 -timeout 10m -v -run 'FranzGo|KafkaGo' . >"$WORK/go.out" 2>&1)
grep -E '^(--- |FAIL|ok|panic)' "$WORK/go.out" >&2 || tail -20 "$WORK/go.out" >&2
client=franz-go go_rows TestFranzGo produce consume-earliest listoffsets-time
client=franz-go go_rows TestFranzGoGroup group-commit
client=franz-go go_rows TestFranzGoGroupRestart restart-keeps-position
client=franz-go go_rows TestFranzGoIdempotentRetry idempotent-retry
client=kafka-go go_rows TestKafkaGo produce consume-earliest listoffsets-time
client=kafka-go go_rows TestKafkaGoGroup group-commit
client=kafka-go go_rows TestKafkaGoGroupRestart restart-keeps-position
row kafka-go idempotent-retry n/a "kafka-go v0.4.51 has no idempotent producer"

(cd integration && go build -o "$WORK/testbroker" ./cmd/testbroker) || { echo "cannot build testbroker" >&2; exit 1; }

# --- kcat -------------------------------------------------------------------------------------------------
section kcat
WHY=
if ! command -v kcat >/dev/null && apt_install kcat; then
	command -v kcat >/dev/null || WHY="apt-get installed kcat, yet it is not on PATH"
fi
if ! command -v kcat >/dev/null; then
	for r in produce consume-earliest group-commit restart-keeps-position listoffsets-time idempotent-retry; do row kcat "$r" SKIP "kcat not on PATH; ${WHY:-not installed}"; done
else
	start_broker
	seq 0 $((N / 2 - 1)) | sed 's/^/m/' | bounded kcat -b "$BROKER" -t kcat -p 0 -P -X acks=all 2>"$WORK/kcat.err" &&
		sleep 1 && middle=$(($(date +%s%3N))) && sleep 0.1 &&
		seq $((N / 2)) $((N - 1)) | sed 's/^/m/' | bounded kcat -b "$BROKER" -t kcat -p 0 -P -X acks=all 2>>"$WORK/kcat.err"
	got=$(bounded kcat -b "$BROKER" -t kcat -p 0 -C -o beginning -e -q -f '%s\n' 2>>"$WORK/kcat.err")
	if [ "$got" = "$(seq 0 $((N - 1)) | sed 's/^/m/')" ]; then
		row kcat produce PASS "$N messages, acks=all"
		row kcat consume-earliest PASS "$N messages in order"
	else
		row kcat produce FAIL "$(head -c 300 "$WORK/kcat.err")"
		row kcat consume-earliest FAIL "got $(echo "$got" | wc -l) lines"
	fi
	q=$(bounded kcat -b "$BROKER" -Q -t "kcat:0:$middle" 2>>"$WORK/kcat.err")
	if echo "$q" | grep -q "offset $((N / 2))\b"; then
		row kcat listoffsets-time PASS "offset $((N / 2)) for the second half's time"
	else
		row kcat listoffsets-time FAIL "kcat -Q said: $q"
	fi
	stop_broker
	# A group session consumes the first half and commits (librdkafka's auto commit, on close at the
	# latest), the server restarts on the same directory, a second session must get exactly the rest.
	# (-X auto.offset.reset, not -o: with -G, kcat's -o would override the committed offsets.)
	start_broker 0 "$WORK/kcat-data"
	seq 0 $((N - 1)) | sed 's/^/m/' | bounded kcat -b "$BROKER" -t kcat-group -p 0 -P -X acks=all 2>"$WORK/kcat-group.err"
	first=$(bounded kcat -b "$BROKER" -G kcat kcat-group -X auto.offset.reset=earliest -c $((N / 2)) -q -f '%s\n' 2>>"$WORK/kcat-group.err")
	stop_broker
	if [ "$first" = "$(seq 0 $((N / 2 - 1)) | sed 's/^/m/')" ] && [ "$(committed kcat kcat-group)" = $((N / 2)) ]; then
		row kcat group-commit PASS "$((N / 2)) messages in a group (-G), offset $((N / 2)) committed"
	else
		row kcat group-commit FAIL "got $(echo "$first" | wc -w) messages, committed '$(committed kcat kcat-group)': $(head -c 300 "$WORK/kcat-group.err")"
	fi
	start_broker 0 "$WORK/kcat-data"
	second=$(bounded kcat -b "$BROKER" -G kcat kcat-group -X auto.offset.reset=earliest -e -q -f '%s\n' 2>>"$WORK/kcat-group.err")
	stop_broker
	if [ "$second" = "$(seq $((N / 2)) $((N - 1)) | sed 's/^/m/')" ]; then
		row kcat restart-keeps-position PASS "the group went on at offset $((N / 2)) after the restart"
	else
		row kcat restart-keeps-position FAIL "after the restart got $(echo "$second" | wc -w) messages, first $(echo "$second" | head -1)"
	fi
	start_broker 2 # (-E: kcat would exit on the cut connection, an error librdkafka retries)
	for i in $(seq 0 $((N - 1))); do echo "m$i"; done |
		bounded kcat -E -b "$BROKER" -t kcat-idem -p 0 -P -X enable.idempotence=true -X acks=all -X linger.ms=0 -X batch.num.messages=1 2>"$WORK/kcat-idem.err"
	stop_broker
	want_summary kcat idempotent-retry kcat-idem
fi

# --- kafka-python -----------------------------------------------------------------------------------------
section kafka-python
PY=${MQLOG_IT_PYTHON:-/usr/bin/python3} # Debian's python3-kafka is a package of the system's Python
WHY=
# -I (isolated): without it the working directory is on the path, and the repository's Go package
# directory kafka/ imports as an empty namespace package, which looks like kafka-python installed.
has_kafka_python() { "$PY" -I -c 'from kafka import KafkaConsumer, KafkaProducer' 2>/dev/null; }
if ! has_kafka_python && apt_install python3-kafka; then
	has_kafka_python || WHY="apt-get installed python3-kafka, yet $PY cannot import kafka"
fi
if ! has_kafka_python; then
	for r in produce consume-earliest group-commit restart-keeps-position listoffsets-time; do row kafka-python "$r" SKIP "no kafka module in $PY; ${WHY:-not installed}"; done
else
	# plain, then a group session, a restart on the same directory, and the second group session.
	for mode in plain group-first group-second; do
		start_broker 0 "$WORK/py-data"
		bounded "$PY" integration/clients/kafka_python_client.py "$BROKER" kafka-python "$N" $mode >"$WORK/py.out" 2>"$WORK/py.err"
		stop_broker
		[ -s "$WORK/py.out" ] || echo "$mode FAIL $(tail -3 "$WORK/py.err" | tr '\n' ' ')" >"$WORK/py.out"
		while read -r r status detail; do row kafka-python "$r" "$status" "$detail"; done <"$WORK/py.out"
	done
fi
row kafka-python idempotent-retry n/a "kafka-python 2.0.2 has no idempotent producer"

# --- kafkajs ----------------------------------------------------------------------------------------------
section kafkajs
JS=integration/clients
WHY=
if ! command -v node >/dev/null; then
	WHY="no node on PATH"
elif [ ! -d "$JS/node_modules/kafkajs" ]; then
	if ! command -v npm >/dev/null; then
		WHY="kafkajs 2.2.4 not in $JS/node_modules and no npm on PATH to install it"
	else
		echo "integration: npm install (kafkajs 2.2.4, into $JS/node_modules)" >&2
		(cd "$JS" && timeout --foreground -k 10 "$INSTALL_TIMEOUT" npm install --no-audit --no-fund --loglevel=error --fetch-retries=1 >"$WORK/npm.log" 2>&1)
		rc=$?
		[ -d "$JS/node_modules/kafkajs" ] || WHY="npm install of kafkajs 2.2.4 failed (exit $rc; no network?): $(grep -iE "^npm (ERR|error)" "$WORK/npm.log" | grep -iv "a complete log" | tail -1 | cut -c1-200)"
	fi
fi
if [ -n "$WHY" ]; then
	for r in produce consume-earliest group-commit restart-keeps-position listoffsets-time idempotent-retry; do row kafkajs "$r" SKIP "$WHY"; done
else
	for mode in plain group-first group-second; do
		start_broker 0 "$WORK/js-data"
		bounded node "$JS/kafkajs_client.js" $mode "$BROKER" kafkajs "$N" >"$WORK/js.out" 2>&1
		stop_broker
		[ -s "$WORK/js.out" ] || echo "$mode FAIL no output" >"$WORK/js.out"
		while read -r r status detail; do row kafkajs "$r" "$status" "$detail"; done <"$WORK/js.out"
	done
	start_broker 2
	bounded node "$JS/kafkajs_client.js" idempotent "$BROKER" kafkajs-idem "$N" >"$WORK/js-idem.out" 2>&1
	stop_broker
	if grep -q '^idempotent-retry PASS' "$WORK/js-idem.out"; then
		want_summary kafkajs idempotent-retry kafkajs-idem
	else
		row kafkajs idempotent-retry FAIL "$(head -c 300 "$WORK/js-idem.out")"
	fi
fi

# --- franz-go and kcat through a failover of a three-node cluster ------------------------------------------
section "failover (three mqlog serve --raft-* nodes)"
if go build -o "$WORK/mqlog" ./cmd/mqlog; then
	mkdir -p "$WORK/failover"
	bash scripts/integration_failover.sh "$WORK/mqlog" "$WORK/failover" "$N" "$CLIENT_TIMEOUT" >"$WORK/failover.out" 2>"$WORK/failover.err"
	[ -s "$WORK/failover.out" ] || printf 'franz-go failover FAIL no output: %s\nkcat failover FAIL no output\n' "$(tail -c 200 "$WORK/failover.err")" >"$WORK/failover.out"
	while read -r c r status detail; do row "$c" "$r" "$status" "$detail"; done <"$WORK/failover.out"
else
	row franz-go failover FAIL "cannot build cmd/mqlog"
	row kcat failover FAIL "cannot build cmd/mqlog"
fi

section "done"
echo
echo "| client | row | result | detail |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"

# The matrix: one line per client, one column per row.
COLS=(produce consume-earliest group-commit restart-keeps-position listoffsets-time idempotent-retry failover)
echo
header="| client |"
rule="|---|"
for col in "${COLS[@]}"; do
	header="$header $col |"
	rule="$rule---|"
done
echo "$header"
echo "$rule"
for client in franz-go kafka-go kcat kafka-python kafkajs; do
	line="| $client |"
	for col in "${COLS[@]}"; do
		cell=$(printf '%s\n' "${ROWS[@]}" | awk -F' [|] ' -v c="$client" -v r="$col" '$1 == "| " c && $2 == r { print $3 }' | head -1)
		line="$line ${cell:--} |"
	done
	echo "$line"
done
exit $FAILED
