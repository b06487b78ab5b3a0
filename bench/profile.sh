#!/usr/bin/env bash
#
# bench/profile.sh - where relaydiag's CPU goes under the benchmark's load:
# perf (Debian's linux-perf) samples the relaydiag process while mload
# drives the mix of bench/run.sh part 1 (Mode annotate, events and history
# to a private redis-server), then prints the top symbols by self time.
#
#   bench/profile.sh                       # build, 20000 sessions at c=10
#   bench/profile.sh -n 50000 -c 50 --relaydiag /path/to/relaydiag
#
# Options: -n N sessions (20000), -c C concurrency (10), -m mix|plain,
#   --top K symbols shown (30), --mode observe|annotate (annotate),
#   --config "KEY VALUE" (one more relaydiag.conf line, repeatable),
#   --relaydiag BIN, --mload BIN,
#   --build DIR (default /tmp/rd-bench-build), --freq HZ (4000).
# Needs root (perf on another process, the relaydiag user). The perf data
# stays in the work directory printed at the end (RD_BENCH_KEEP=1) or is
# removed.

set -u
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
N=20000 C=10 MIX=mix TOP=30 FREQ=4000 MODE=annotate
build=${RD_BENCH_BUILD:-/tmp/rd-bench-build}
RELAYDIAG= MLOAD=
EXTRA=""
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift ;;
	-c) C=$2; shift ;;
	-m) MIX=$2; shift ;;
	--mode) MODE=$2; shift ;;
	--config) EXTRA+="$2"$'\n'; shift ;;
	--top) TOP=$2; shift ;;
	--freq) FREQ=$2; shift ;;
	--build) build=$2; shift ;;
	--relaydiag) RELAYDIAG=$2; shift ;;
	--mload) MLOAD=$2; shift ;;
	-h|--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "profile.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
for c in perf redis-server redis-cli; do
	command -v $c >/dev/null || { echo "profile.sh: $c missing (linux-perf, redis-server)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "profile.sh: run as root" >&2; exit 2; }
if [ -z "$RELAYDIAG" ] || [ -z "$MLOAD" ]; then
	cmake -S "$src" -B "$build" -DRD_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		>"$build.cmake.log" 2>&1 && cmake --build "$build" -j"$(nproc)" >"$build.log" 2>&1 ||
		{ echo "profile.sh: build failed ($build.log)" >&2; exit 1; }
	RELAYDIAG=${RELAYDIAG:-$build/milter/relaydiag}
	MLOAD=${MLOAD:-$build/bench/mload}
fi

W=$(mktemp -d /tmp/rd-profile.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	[ "${RD_BENCH_KEEP:-0}" = 1 ] && echo "# kept: $W" || rm -rf "$W"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 12000))	# below the ephemeral range (run.sh)
setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--dir "$W" --daemonize no >"$W/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
for _ in $(seq 50); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

getent passwd relaydiag >/dev/null ||
	adduser --system --group --no-create-home --home /nonexistent --quiet relaydiag
mkdir -p "$W/spool"
chown relaydiag:relaydiag "$W" "$W/spool"
mport=$((20000 + RANDOM % 12000))	# below the ephemeral range (run.sh)
cat >"$W/relaydiag.conf" <<EOF
Socket local:$W/s.sock
MetricsListen inet:$mport
UserID relaydiag:relaydiag
SpoolDir $W/spool
RedisURL redis://127.0.0.1:$port
LocalDomains example.test
TrustedNetworks 10.0.0.0/8
SubmissionPorts 587
Mode $MODE
$EXTRA
EOF
setsid "$RELAYDIAG" -f -c "$W/relaydiag.conf" >"$W/relaydiag.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
[ -S "$W/s.sock" ] || { echo "profile.sh: relaydiag did not start" >&2; cat "$W/relaydiag.log" >&2; exit 1; }
# the filter process (AutoRestart's child when there is one)
rd_pid=$(pgrep -n -f "$RELAYDIAG -f -c $W/relaydiag.conf")

"$MLOAD" -s "unix:$W/s.sock" -n $((N / 10)) -c "$C" -m "$MIX" -q >/dev/null 2>&1
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
t_rd=$(ticks "$rd_pid") t_redis=$(ticks "$redis_pid")
# per thread name: libmilter's session threads are "relaydiag"
thread_ticks() {
	local t
	for t in /proc/"$rd_pid"/task/*; do
		printf '%s %s\n' "$(cat "$t/comm")" "$(awk '{ print $14 + $15 }' "$t/stat")"
	done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
}
thread_ticks >"$W/threads.before"
perf record -F "$FREQ" -o "$W/perf.data" -p "$rd_pid" -- sleep 600 >"$W/perf.log" 2>&1 &
perf_pid=$!
sleep 0.5
"$MLOAD" -s "unix:$W/s.sock" -n "$N" -c "$C" -m "$MIX" >"$W/mload.out" 2>&1
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null
hz=$(getconf CLK_TCK)
echo "== relaydiag under mload: $N sessions, c=$C, mix $MIX (Mode $MODE, events and history to Redis) =="
grep '^result' "$W/mload.out"
awk -v a="$(ticks "$rd_pid")" -v b="$t_rd" -v c="$(ticks "$redis_pid")" -v d="$t_redis" \
	-v n="$N" -v hz="$hz" 'BEGIN {
	printf "CPU ms per session: relaydiag %.3f, redis-server %.3f, together %.3f\n",
	    (a - b) * 1000 / hz / n, (c - d) * 1000 / hz / n, (a - b + c - d) * 1000 / hz / n }'
echo "CPU ms per session by thread (libmilter's session threads are \"relaydiag\"; threads that ended are not counted):"
thread_ticks >"$W/threads.after"
join -a 2 -e 0 -o 0,1.2,2.2 "$W/threads.before" "$W/threads.after" |
	awk -v n="$N" -v hz="$hz" '{ printf "  %-14s %.3f\n", $1, ($3 - $2) * 1000 / hz / n }'
echo "callback time, wall clock (relaydiag's own histogram, MetricsListen): upper bounds of the p50 and p99 buckets"
curl -fsS "http://127.0.0.1:$mport/metrics" | awk '
	/^relaydiag_callback_duration_seconds_bucket/ {
		match($0, /stage="[a-z]+"/); st = substr($0, RSTART + 7, RLENGTH - 8)
		match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
		n[st]++; les[st, n[st]] = le; cnt[st, n[st]] = $2
	}
	END {
		for (st in n) {
			tot = cnt[st, n[st]]
			if (tot == 0) continue
			p50 = p99 = ""
			for (i = 1; i <= n[st]; i++) {
				if (p50 == "" && cnt[st, i] >= 0.50 * tot) p50 = les[st, i]
				if (p99 == "" && cnt[st, i] >= 0.99 * tot) p99 = les[st, i]
			}
			printf "  %-8s %8d calls, p50 <= %s s, p99 <= %s s\n", st, tot, p50, p99
		}
	}' | sort
echo
echo "== top $TOP symbols, self time in the relaydiag process (perf report --no-children) =="
echo "-- by object:"
perf report -i "$W/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -n 8
echo "-- by symbol:"
perf report -i "$W/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -n "$TOP"
