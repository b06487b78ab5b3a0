#!/usr/bin/env bash
#
# bench/run.sh - issue 6's benchmarks in one invocation: relaydiag against
# a null libmilter filter (the floor) through the milter protocol,
# relaydiag's RSS with 500 sessions open, the Redis publisher against
# redis-benchmark's pipelined XADD, Postfix + relaydiag against Postfix
# alone and Postfix + the null filter (smtp-source), and the log front end
# reading a mail log while the milter serves load. Prints the tables
# docs/BENCHMARKS.md quotes.
#
#   bench/run.sh                 # everything (root, for Postfix: ~6 min)
#   bench/run.sh --smoke         # CI: load generator correctness, < 20 s
#   bench/run.sh -n 5000 -r 3 --no-postfix --no-redis
#
# Options
#   --smoke            a few sessions per filter, protocol checks only
#   -n N               sessions per mload run (5000)
#   -r R               alternating rounds; tables show the median (3)
#   -c "1 10 50"       concurrencies
#   -m mix|plain       mload's session mix (mix)
#   --hold N           sessions held open for the RSS figure (500)
#   --log-lines L      lines of mail log for part 5 (400000)
#   --no-milter --no-rss --no-redis --no-postfix --no-log   skip a part
#   --build DIR        where to build (default /tmp/rd-bench-build)
#   --rd-config "KEY VALUE"   one more relaydiag.conf line for the
#                      relaydiag of parts 1, 2 and 4 (repeatable), e.g.
#                      --rd-config "StripForgedHeaders no"
#   --rd-events redis|file|null   where relaydiag's events go in parts 1
#                      and 2: a private redis-server with the history
#                      (redis, the default; file when it cannot start), the
#                      EventLog file, or /dev/null (no Redis: no history
#                      either), which leaves relaydiag's own logic
#   --relaydiag BIN --mload BIN --nullfilter BIN --pubbench BIN
#   --logbench BIN
#                      use these binaries instead of building
# Environment: RD_E2E_MX_PORT (4525), RD_E2E_SUBMISSION_PORT (4587) for the
# private Postfix; RD_BENCH_KEEP=1 keeps the work directory.
#
# Every daemon it starts runs in its own session (setsid) and is stopped by
# pid when the script exits, whatever the exit path. Exit status: 0 when
# every run had zero protocol errors, 1 otherwise.

set -u
umask 022

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
smoke=0 N=5000 ROUNDS=3 CONCS="1 10 50" MIX=mix HOLD=500
do_milter=1 do_rss=1 do_redis=1 do_postfix=1 do_log=1 LOGN=400000
build=${RD_BENCH_BUILD:-/tmp/rd-bench-build}
RELAYDIAG= MLOAD= NULLFILTER= PUBBENCH= LOGBENCH=
RD_EXTRA=()
RD_EVENTS_TO=redis

while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 ;;
	-n) N=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	-c) CONCS=$2; shift ;;
	-m) MIX=$2; shift ;;
	--hold) HOLD=$2; shift ;;
	--no-milter) do_milter=0 ;;
	--no-rss) do_rss=0 ;;
	--no-redis) do_redis=0 ;;
	--no-postfix) do_postfix=0 ;;
	--no-log) do_log=0 ;;
	--log-lines) LOGN=$2; shift ;;
	--logbench) LOGBENCH=$2; shift ;;
	--build) build=$2; shift ;;
	--relaydiag) RELAYDIAG=$2; shift ;;
	--rd-config) RD_EXTRA+=("$2"); shift ;;
	--rd-events) RD_EVENTS_TO=$2; shift
		case $RD_EVENTS_TO in redis|file|null) ;; *)
			echo "run.sh: --rd-events redis, file or null" >&2; exit 2 ;;
		esac ;;
	--mload) MLOAD=$2; shift ;;
	--nullfilter) NULLFILTER=$2; shift ;;
	--pubbench) PUBBENCH=$2; shift ;;
	-h|--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

failures=0
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; }
note() { echo "# $*"; }

# ---------------------------------------------------------------- build --

if [ -z "$RELAYDIAG" ] || [ -z "$MLOAD" ] || [ -z "$NULLFILTER" ]; then
	note "building in $build"
	if ! cmake -S "$src" -B "$build" -DRD_BUILD_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1 ||
		! cmake --build "$build" -j"$(nproc)" --target relaydiag mload \
			nullfilter logbench >>"$build.cmake.log" 2>&1; then
		tail -n 30 "$build.cmake.log"
		echo "run.sh: build failed (log: $build.cmake.log)" >&2
		exit 1
	fi
	# the publisher benchmark is optional: lib/publish.c may be in flux
	cmake --build "$build" --target pubbench >>"$build.cmake.log" 2>&1 ||
		note "pubbench did not build; the Redis table is skipped"
	RELAYDIAG=$build/milter/relaydiag MLOAD=$build/bench/mload
	NULLFILTER=$build/bench/nullfilter LOGBENCH=$build/bench/logbench
	[ -x "$build/bench/pubbench" ] && PUBBENCH=$build/bench/pubbench
fi
for b in "$RELAYDIAG" "$MLOAD" "$NULLFILTER"; do
	[ -x "$b" ] || { echo "run.sh: not executable: $b" >&2; exit 1; }
done

# ------------------------------------------------------------ processes --

W=$(mktemp -d /tmp/rdbench.XXXXXX) || exit 1
chmod 0755 "$W"
declare -A PID=()

# start NAME LOG CMD...: CMD in its own session; PID[NAME]
start() {
	local name=$1 log=$2
	shift 2
	setsid "$@" </dev/null >>"$log" 2>&1 &
	PID[$name]=$!
}

# stop NAME: SIGTERM, 10 s, then SIGKILL; by pid only
stop() {
	local name=$1 pid i
	pid=${PID[$name]:-}
	[ -n "$pid" ] || return 0
	unset "PID[$name]"
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		note "$name (pid $pid) ignored SIGTERM; SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# stop_all: SIGTERM to every daemon at once (libmilter takes seconds to
# notice), then wait for each
stop_all() {
	local n pid i
	for n in "${!PID[@]}"; do
		kill -TERM "${PID[$n]}" 2>/dev/null
	done
	for n in "${!PID[@]}"; do
		pid=${PID[$n]}
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop "$n"
	done
}

stop_all_but() {	# NAME: keep that one running
	local keep=${PID[$1]:-}
	[ -n "$keep" ] && unset "PID[$1]"
	stop_all
	[ -n "$keep" ] && PID[$1]=$keep
	return 0
}

cleanup() {
	stop_all
	if [ "${RD_BENCH_KEEP:-0}" = 1 ] || [ $failures -gt 0 ]; then
		note "work directory kept: $W"
	else
		rm -rf -- "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_socket() {	# PATH NAME
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		kill -0 "${PID[$2]}" 2>/dev/null || break
		sleep 0.05
	done
	[ "${3:-}" = soft ] && return 1
	echo "run.sh: $2 did not open $1; its log:" >&2
	tail -n 20 "$W/$2.log" >&2
	exit 1
}

# free_port: a listening port below the ephemeral range (see rd_free_port
# in tests/e2e/lib/proc.sh: a source port there can take it first)
free_port() {
	local p try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + RANDOM % 12000))	# 20000-31999: Linux's range starts at 32768
		[ -z "$(ss -Htln "( sport = :$p )" 2>/dev/null)" ] && { echo $p; return 0; }
	done
	return 1
}

# ------------------------------------------------------------- filters --

RD_SOCK=$W/relaydiag.d/s.sock
RD_EVENTS=$W/relaydiag.events
REDIS_PORT=

# start_rd NAME [CONFIG LINES...]: a fresh relaydiag called NAME on
# $W/NAME.d/s.sock, events to $W/NAME.events; with RD_SOFT=1, return 1
# (not exit) when it does not start
start_rd() {
	local name=$1 d=$W/$1.d ev=$W/$1.events
	shift
	mkdir -p "$d/spool"
	{
		echo "Socket local:$d/s.sock"
		[ "$(id -u)" = 0 ] && echo "UserID relaydiag:relaydiag"
		if [ "$RD_EVENTS_TO" = null ]; then
			echo "EventLog /dev/null"
		else
			echo "EventLog $ev"
		fi
		echo "SpoolDir $d/spool"	# never the system's default
		echo "LocalDomains example.test"
		echo "TrustedNetworks 10.0.0.0/8"
		echo "SubmissionPorts 587"
		echo "Mode annotate"
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >"$W/$name.conf"
	: >"$ev"
	if [ "$(id -u)" = 0 ]; then
		getent passwd relaydiag >/dev/null ||
			adduser --system --group --no-create-home --home /nonexistent \
				--quiet relaydiag >/dev/null 2>&1
		chown relaydiag:relaydiag "$d" "$d/spool" "$ev"
	fi
	rm -f "$d/s.sock"
	start "$name" "$W/$name.log" "$RELAYDIAG" -f -c "$W/$name.conf"
	wait_socket "$d/s.sock" "$name" "${RD_SOFT:+soft}"
}

start_relaydiag() { start_rd relaydiag "${RD_EXTRA[@]}" "$@"; }

# start_null NAME SOCKET OPTIONS...
start_null() {
	local name=$1 sock=$2
	shift 2
	rm -f "$sock"
	start "$name" "$W/$name.log" "$NULLFILTER" -s "unix:$sock" "$@"
	wait_socket "$sock" "$name"
}

NULL_SOCK=$W/null.sock
LIMIT_SOCK=$W/limit.sock
SAFE_SOCK=$W/safe.sock

# mload_check LABEL OUTFILE ARGS...: run mload, check errors and answers
mload_check() {
	local label=$1 out=$2 rc res sent ans nr
	shift 2
	"$MLOAD" "$@" >"$out" 2>&1
	rc=$?
	res=$(grep '^result ' "$out" | tail -n 1)
	sent=$(sed -n 's/.* rcpt_sent=\([0-9]*\).*/\1/p' <<<"$res")
	ans=$(sed -n 's/.* rcpt_answered=\([0-9]*\).*/\1/p' <<<"$res")
	nr=$(sed -n 's/.* rcpt_noreply=\([0-9]*\).*/\1/p' <<<"$res")
	if [ $rc -ne 0 ] || [ -z "$res" ]; then
		fail "$label: mload exit $rc"
		sed 's/^/#   /' "$out" | head -n 40
		return 1
	fi
	if [ -z "$sent" ] || [ "$sent" -ne $((ans + nr)) ]; then
		fail "$label: recipients sent $sent, answered $ans, no-reply $nr"
		return 1
	fi
	pass "$label: ${res#result }"
	return 0
}

sysinfo() {
	note "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	note "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r)"
	note "load:    $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; ratios are taken from alternating runs)"
	note "libmilter: $(dpkg-query -W -f '${Version}' libmilter1.0.1 2>/dev/null || echo '?'), postfix $(postconf -dh mail_version 2>/dev/null || echo '?'), redis $(redis-server --version 2>/dev/null | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
}

HZ=$(getconf CLK_TCK)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# user + system
# filter_pid NAME: the process that serves: relaydiag's filter process is
# the child of its AutoRestart supervisor (PID[NAME]); a null filter is
# PID[NAME] itself
filter_pid() {
	local p=${PID[$1]} c
	c=$(pgrep -P "$p" 2>/dev/null | head -n 1)
	echo "${c:-$p}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------- smoke --

if [ $smoke = 1 ]; then
	t0=$SECONDS
	start_relaydiag
	start_rd gate "RelayGate yes"
	start_null null "$NULL_SOCK"
	start_null limit "$LIMIT_SOCK" -L
	mload_check "relaydiag, mix" "$W/s1.out" -s "unix:$RD_SOCK" -n 60 -c 4 -m mix
	mload_check "relaydiag, plain" "$W/s2.out" -s "unix:$RD_SOCK" -n 10 -c 2 -m plain
	# what relaydiag negotiates: a reply at CONNECT and RCPT only (see
	# glue.c: an MTA that awaits nothing can hang up before libmilter
	# read the commands); headers only where it strips forged copies
	if grep -q '^  stages skipped: data eoh body; no reply: helo mail header$' "$W/s1.out"; then
		pass "annotate: replies at CONNECT and RCPT only; headers sent (forged copies stripped)"
	else
		fail "annotate negotiation: $(grep '^  stages skipped' "$W/s1.out")"
	fi
	start_rd nohdr "StripForgedHeaders no"
	mload_check "relaydiag StripForgedHeaders no, mix" "$W/s7.out" -s "unix:$W/nohdr.d/s.sock" -n 20 -c 2 -m mix
	if grep -q '^  stages skipped: data header eoh body; no reply: helo mail header$' "$W/s7.out"; then
		pass "StripForgedHeaders no: no header sent to relaydiag (SMFIP_NOHDRS)"
	else
		fail "StripForgedHeaders no negotiation: $(grep '^  stages skipped' "$W/s7.out")"
	fi
	mload_check "null filter, mix" "$W/s3.out" -s "unix:$NULL_SOCK" -n 60 -c 4 -m mix
	mload_check "limit filter -L (what relaydiag sees, no replies, one header), mix" "$W/s4.out" \
		-s "unix:$LIMIT_SOCK" -n 60 -c 4 -m mix
	# RelayGate: relaydiag refuses the relays the MTA let through, with
	# a reply text (checked by mload), one per outside recipient
	if mload_check "relaydiag RelayGate, open-relay traffic" "$W/s6.out" \
		-s "unix:$W/gate.d/s.sock" -n 40 -c 4 -m gate; then
		rej=$(sed -n 's/^replies:.* reject \([0-9]*\),.*/\1/p' "$W/s6.out")
		txt=$(sed -n 's/^replies:.*(\([0-9]*\) with reply text).*/\1/p' "$W/s6.out")
		if [ "${rej:-0}" -eq 40 ] && [ "${txt:-0}" -eq 40 ]; then
			pass "RelayGate: 40 relays refused with a reply text"
		else
			fail "RelayGate: ${rej:-0} rejects, ${txt:-0} with text; want 40"
		fi
	fi
	# the events were written: one message event per message
	msgs=$(grep -c '"type":"message"' "$RD_EVENTS" 2>/dev/null)
	eoms=$(sed -n 's/^  eom  *\([0-9]*\) .*/\1/p' "$W/s1.out" "$W/s2.out" | awk '{ s += $1 } END { print s + 0 }')
	if [ "${msgs:-0}" -eq "$eoms" ]; then
		pass "relaydiag wrote $msgs message events for $eoms messages"
	else
		fail "relaydiag wrote ${msgs:-0} message events for $eoms messages"
	fi
	# hold 20 sessions mid-transaction, release them with SIGUSR1
	: >"$W/s5.out"
	"$MLOAD" -s "unix:$RD_SOCK" -H 20 -T 10 >"$W/s5.out" 2>&1 &
	mp=$!
	for ((i = 0; i < 100; i++)); do
		grep -q '^mload: holding' "$W/s5.out" && break
		sleep 0.05
	done
	kill -USR1 $mp 2>/dev/null
	wait $mp
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^mload: holding 20 sessions' "$W/s5.out"; then
		pass "relaydiag: 20 sessions held open and finished"
	else
		fail "relaydiag: hold mode (mload exit $rc)"
		sed 's/^/#   /' "$W/s5.out" | head -n 30
	fi
	lvl='^[^ ]+ relaydiag (emerg|alert|crit|error|warning):'
	if ! grep -qE "$lvl" "$W/relaydiag.log"; then
		pass "relaydiag logged no error or warning"
	else
		fail "relaydiag logged errors:"
		grep -E "$lvl" "$W/relaydiag.log" | head -n 5 | sed 's/^/#   /'
	fi
	note "smoke: $((SECONDS - t0)) s"
	[ $failures -eq 0 ] && { echo "smoke: all passed"; exit 0; }
	echo "smoke: $failures failed"
	exit 1
fi

# ----------------------------------------------------------------- full --

echo "== relaydiag benchmarks (bench/run.sh) =="
sysinfo

# Redis first: relaydiag publishes to it when the daemon supports RedisURL.
redis_ok=0
if [ $do_redis = 1 ] || [ $do_milter = 1 ] || [ $do_rss = 1 ]; then
	if command -v redis-server >/dev/null && REDIS_PORT=$(free_port); then
		mkdir -p "$W/redis"
		start redis "$W/redis.log" redis-server --bind 127.0.0.1 \
			--port "$REDIS_PORT" --save '' --appendonly no \
			--dir "$W/redis" --daemonize no
		for ((i = 0; i < 50; i++)); do
			[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] &&
				{ redis_ok=1; break; }
			sleep 0.1
		done
		[ $redis_ok = 1 ] || note "redis-server did not start; see $W/redis.log"
	else
		note "no redis-server, or no free port"
	fi
fi

rd_redis_note="events to the EventLog file"
rd_redis=	# 1: relaydiag publishes to Redis; 0: it cannot; "": not tried
reset_events() {	# keep the event log / stream small between runs
	[ -f "$RD_EVENTS" ] && : >"$RD_EVENTS"
	[ "$rd_redis" = 1 ] && redis-cli -p "$REDIS_PORT" DEL relaydiag:events >/dev/null
	return 0
}
start_relaydiag_best() {
	if [ "$RD_EVENTS_TO" = null ]; then
		rd_redis_note="events to /dev/null, no Redis (no history)"
	fi
	if [ $redis_ok = 1 ] && [ "$RD_EVENTS_TO" = redis ]; then
		if RD_SOFT=1 start_relaydiag "RedisURL redis://127.0.0.1:$REDIS_PORT" \
			"RedisStream relaydiag:events"; then
			rd_redis_note="events to Redis (RedisURL, a private redis-server on loopback)"
			rd_redis=1
			return
		fi
		grep -m1 'RedisURL' "$W/relaydiag.log" | sed 's/^/# Redis off: relaydiag said: /'
		stop relaydiag
		rd_redis=0
	fi
	start_relaydiag
}

if [ $do_milter = 1 ]; then
	start_relaydiag_best
	start_null null "$NULL_SOCK" -R
	start_null limit "$LIMIT_SOCK" -L
	start_null safe "$SAFE_SOCK" -L -S
	echo
	echo "== 1. relaydiag vs the null filter: milter protocol, mload (unix socket) =="
	note "relaydiag: Mode annotate${RD_EXTRA[*]:+, ${RD_EXTRA[*]}}, $rd_redis_note; null: every callback continues, SMFIP_RCPT_REJ (same events as relaydiag); limit (nullfilter -L): only what relaydiag needs (connect, helo, mail, rcpt with rejected ones), no reply at any of them, one header added at EOM; safe (nullfilter -L -S): the limit with a reply at CONNECT and RCPT, which a filter needs not to lose sessions (see nullfilter.c)"
	note "mix $MIX, $N sessions per run (+ $((N / 10)) warmup), $ROUNDS alternating rounds, median sessions/s"
	for f in relaydiag null limit safe; do	# warm: page cache, thread pool
		case $f in relaydiag) s=$RD_SOCK ;; null) s=$NULL_SOCK ;; limit) s=$LIMIT_SOCK ;; safe) s=$SAFE_SOCK ;; esac
		mload_check "$f: warm-up" "$W/warm.$f.out" -s "unix:$s" -n 500 -c 10 -m "$MIX"
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		order="relaydiag null limit safe"
		[ $((r % 2)) = 0 ] && order="safe limit null relaydiag"
		for c in $CONCS; do
			for f in $order; do
				case $f in relaydiag) s=$RD_SOCK ;; null) s=$NULL_SOCK ;; limit) s=$LIMIT_SOCK ;; safe) s=$SAFE_SOCK ;; esac
				[ $f = relaydiag ] && reset_events
				out=$W/m.$f.c$c.r$r.out
				# warm-up first, then the filter's CPU over the measured run
				"$MLOAD" -s "unix:$s" -n $((N / 10)) -c "$c" -m "$MIX" -q >/dev/null 2>&1
				fpid=$(filter_pid "$f")
				t0=$(proc_ticks "$fpid")
				[ $f = relaydiag ] && [ "$rd_redis" = 1 ] && tr0=$(proc_ticks "${PID[redis]}")
				# quiet unless it fails (mload_check prints why)
				if mload_check "round $r, c=$c, $f" "$out" -s "unix:$s" -n "$N" \
					-c "$c" -m "$MIX" -q >"$out.check"; then
					sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$out" >>"$W/rate.$f.c$c"
					awk -v a="$(proc_ticks "$fpid")" -v b="$t0" -v n="$N" -v hz="$HZ" \
						'BEGIN { printf "%.3f\n", (a - b) * 1000 / hz / n }' >>"$W/cpu.$f.c$c"
					[ $f = relaydiag ] && [ "$rd_redis" = 1 ] &&
						awk -v a="$(proc_ticks "${PID[redis]}")" -v b="$tr0" -v n="$N" -v hz="$HZ" \
							'BEGIN { printf "%.3f\n", (a - b) * 1000 / hz / n }' >>"$W/cpu.redis.c$c"
				else
					cat "$out.check"
				fi
			done
		done
		note "round $r done (load $(cut -d' ' -f1 /proc/loadavg))"
	done
	echo
	note "sessions/s: median of the rounds; CPU: the filter process's user+system ms per session (/proc/PID/stat), which other load on the machine disturbs far less than the rates"
	printf '%-6s %11s %8s %7s %8s %8s %8s %8s | %7s %7s %8s %7s %8s %9s %8s\n' conc "relaydiag/s" "null/s" "rd/null" "limit/s" "rd/limit" "safe/s" "rd/safe" "rd CPU" "nl CPU" "lim CPU" "sf CPU" "CPU rd/nl" "CPU rd/lim" "CPU rd/sf"
	for c in $CONCS; do
		a=$(median <"$W/rate.relaydiag.c$c" 2>/dev/null)
		b=$(median <"$W/rate.null.c$c" 2>/dev/null)
		d=$(median <"$W/rate.limit.c$c" 2>/dev/null)
		ca=$(median <"$W/cpu.relaydiag.c$c" 2>/dev/null)
		cb=$(median <"$W/cpu.null.c$c" 2>/dev/null)
		cd=$(median <"$W/cpu.limit.c$c" 2>/dev/null)
		e=$(median <"$W/rate.safe.c$c" 2>/dev/null)
		ce=$(median <"$W/cpu.safe.c$c" 2>/dev/null)
		printf '%-6s %11s %8s %7s %8s %8s %8s %8s | %7s %7s %8s %7s %8s %9s %8s\n' "$c" "$a" "$b" \
			"$(ratio "$a" "$b")" "$d" "$(ratio "$a" "$d")" "$e" "$(ratio "$a" "$e")" \
			"$ca" "$cb" "$cd" "$ce" "$(ratio "$ca" "$cb")" "$(ratio "$ca" "$cd")" "$(ratio "$ca" "$ce")"
	done
	if [ "$rd_redis" = 1 ]; then
		r1=""
		for c in $CONCS; do r1+=" c=$c $(median <"$W/cpu.redis.c$c")"; done
		note "redis-server's CPU, ms per relaydiag session (same 2 CPUs, not in 'rd CPU'):$r1"
	fi
	note "runs (sessions/s, in round order):"
	for c in $CONCS; do
		for f in relaydiag null limit safe; do
			note "  c=$c $f: $(tr '\n' ' ' <"$W/rate.$f.c$c" 2>/dev/null)/ CPU ms/session $(tr '\n' ' ' <"$W/cpu.$f.c$c" 2>/dev/null)"
		done
	done
	echo
	echo "== 1b. latency per stage at concurrency 10 (one run each, $N sessions) =="
	for f in relaydiag null limit safe; do
		case $f in relaydiag) s=$RD_SOCK ;; null) s=$NULL_SOCK ;; limit) s=$LIMIT_SOCK ;; safe) s=$SAFE_SOCK ;; esac
		[ $f = relaydiag ] && reset_events
		echo "-- $f"
		"$MLOAD" -s "unix:$s" -n "$N" -c 10 -w $((N / 10)) -m "$MIX" 2>&1 | grep -v '^mload: unix\|^result'
	done
	note "relaydiag CPU so far: $(awk '{ printf "%.1f s user, %.1f s system", $14 / 100, $15 / 100 }' "/proc/$(filter_pid relaydiag)/stat")"
	stop_all_but redis
fi

# ------------------------------------------------------------------ RSS --

rss_of() { grep -E '^(VmRSS|VmHWM|Threads)' "/proc/$1/status" | awk '{ printf "%s %s%s  ", $1, $2, ($3 ? " " $3 : "") }'; }

if [ $do_rss = 1 ]; then
	echo
	echo "== 2. RSS with $HOLD sessions held open mid-transaction (mload -H $HOLD) =="
	for f in relaydiag null; do
		if [ $f = relaydiag ]; then start_relaydiag_best; s=$RD_SOCK; else start_null null "$NULL_SOCK" -R; s=$NULL_SOCK; fi
		pid=$(filter_pid "$f")
		idle=$(rss_of "$pid")
		: >"$W/hold.$f.out"
		"$MLOAD" -s "unix:$s" -H "$HOLD" -T 60 >"$W/hold.$f.out" 2>&1 &
		mp=$!
		for ((i = 0; i < 600; i++)); do
			grep -q '^mload: holding' "$W/hold.$f.out" && break
			kill -0 $mp 2>/dev/null || break
			sleep 0.1
		done
		sleep 0.5
		held=$(rss_of "$pid")
		kill -USR1 $mp 2>/dev/null
		wait $mp
		rc=$?
		after=$(rss_of "$pid")
		printf '%-10s idle:  %s\n' "$f" "$idle"
		printf '%-10s %s held: %s\n' "" "$HOLD" "$held"
		printf '%-10s after: %s\n' "" "$after"
		grep '^mload: holding' "$W/hold.$f.out" | sed 's/^/# /'
		if [ $rc -ne 0 ]; then
			fail "$f: mload -H $HOLD exit $rc"
			sed 's/^/#   /' "$W/hold.$f.out" | head -n 20
		fi
		if [ $f = relaydiag ]; then
			hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
			note "target: RSS < 64 MiB at $HOLD sessions: VmHWM $((hwm / 1024)) MiB: $([ "$hwm" -lt 65536 ] && echo met || echo MISSED)"
		fi
		stop "$f"
	done
fi

# ---------------------------------------------------------------- Redis --

if [ $do_redis = 1 ]; then
	echo
	echo "== 3. the Redis publisher vs redis-benchmark's pipelined XADD (local Redis, TCP loopback) =="
	if [ $redis_ok != 1 ]; then
		note "skipped: no private redis-server"
	elif [ -z "$PUBBENCH" ] || [ ! -x "$PUBBENCH" ]; then
		note "skipped: bench/pubbench not built (lib/publish.c, include/relaydiag/publish.h)"
	elif ! command -v redis-benchmark >/dev/null; then
		note "skipped: no redis-benchmark"
	else
		# one real rcpt event of relaydiag's, else pubbench's own
		ev=$W/event.json
		{ grep -m1 '"type":"rcpt"' "$RD_EVENTS" 2>/dev/null ||
			redis-cli -p "$REDIS_PORT" --raw XRANGE relaydiag:events - + COUNT 100 |
			grep -m1 '^{.*"type":"rcpt"'; } >"$ev"
		[ -s "$ev" ] || "$PUBBENCH" -d >"$ev"
		PN=200000
		for ((r = 1; r <= ROUNDS; r++)); do
			redis-cli -p "$REDIS_PORT" DEL relaydiag:bench relaydiag:rb >/dev/null
			if "$PUBBENCH" -u "redis://127.0.0.1:$REDIS_PORT" -n $PN -e "$ev" \
				>"$W/pub.$r.out" 2>&1; then
				sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$W/pub.$r.out" >>"$W/rate.pub"
			else
				fail "pubbench round $r"
				sed 's/^/#   /' "$W/pub.$r.out" | head
			fi
			xlen=$(redis-cli -p "$REDIS_PORT" XLEN relaydiag:bench)
			[ "$xlen" = $PN ] || fail "pubbench round $r: XLEN relaydiag:bench is $xlen, want $PN"
			redis-cli -p "$REDIS_PORT" DEL relaydiag:bench >/dev/null
			json=$(cat "$ev")
			redis-benchmark -p "$REDIS_PORT" -c 1 -P 256 -n $PN --csv \
				XADD relaydiag:rb '*' type rcpt event "$json" >"$W/rb.$r.out" 2>&1
			# CSV; the command (with the JSON's commas) comes first, then 7 numbers
			tail -n 1 "$W/rb.$r.out" | awk -F, '{ v = $(NF - 6); gsub(/"/, "", v); print v }' >>"$W/rate.rb"
			redis-cli -p "$REDIS_PORT" DEL relaydiag:rb >/dev/null
		done
		a=$(median <"$W/rate.pub") b=$(median <"$W/rate.rb")
		printf '%-44s %14s\n' "" "events/s"
		printf '%-44s %14s\n' "relaydiag publisher (1 producer, XADD batches)" "$a"
		printf '%-44s %14s\n' "redis-benchmark XADD -P 256 -c 1" "$b"
		printf '%-44s %14s\n' "ratio" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')"
		note "runs: publisher $(tr '\n' ' ' <"$W/rate.pub"); redis-benchmark $(tr '\n' ' ' <"$W/rate.rb"); event $(wc -c <"$ev" 2>/dev/null || echo '?') bytes"
		note "target: publisher >= 100000 events/s: $(awk -v a="$a" 'BEGIN { print (a >= 100000 ? "met" : "MISSED") }')"
	fi
fi
stop redis

# ------------------------------------------------------ the log front end --

# log_read_upto LOGRD_SPOOL SIZE TIMEOUT: wait until relaydiag's saved log
# position reaches SIZE; 0, or 1 after TIMEOUT seconds
log_read_upto() {
	local pos t=$((SECONDS + $3))
	while [ $SECONDS -lt $t ]; do
		pos=$(cut -d' ' -f2 "$1/log-position" 2>/dev/null)
		[ "${pos:-0}" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

if [ $do_log = 1 ]; then
	echo
	echo "== 5. The log front end while the milter serves load (LogFile) =="
	if [ -z "$LOGBENCH" ] || [ ! -x "$LOGBENCH" ]; then
		fail "no logbench binary (--logbench BIN)"
	else
		note "relaydiag with LogFile (postfix sendmail exim): mload -c 10 -n $N mix alone, and while $LOGN log lines (20% meaning an event, bench/logbench -o) are appended to its LogFile; $ROUNDS alternating rounds, medians"
		"$LOGBENCH" -n "$LOGN" -m 20 -o "$W/synthetic.log" || fail "logbench -o"
		lf=$W/mail.log
		: >"$lf"
		chmod 0644 "$lf" "$W/synthetic.log"
		start_rd logrd "LogFile $lf" "LogFormat postfix sendmail exim"
		ls_=$W/logrd.d/spool
		mload_check "log part: warm-up" "$W/lw.out" -s "unix:$W/logrd.d/s.sock" -n 500 -c 10 -m "$MIX"
		for ((r = 1; r <= ROUNDS; r++)); do
			order="alone withlog"
			[ $((r % 2)) = 0 ] && order="withlog alone"
			for f in $order; do
				: >"$W/logrd.events"
				out=$W/l.$f.r$r.out
				if [ $f = withlog ]; then
					size=$(($(stat -c %s "$lf") + $(stat -c %s "$W/synthetic.log")))
					t0=$(date +%s.%N)
					cat "$W/synthetic.log" >>"$lf" &
					catpid=$!
				fi
				mload_check "log part, $f, round $r" "$out" -s "unix:$W/logrd.d/s.sock" -n "$N" -c 10 -m "$MIX" || continue
				sed -n 's/^result .* rate=\([0-9.]*\).*/\1/p' "$out" >>"$W/l.$f.rate"
				if [ $f = withlog ]; then
					wait "$catpid"
					if log_read_upto "$ls_" "$size" 120; then
						awk -v n="$LOGN" -v a="$t0" -v b="$(date +%s.%N)" \
							'BEGIN { printf "%.0f\n", n / (b - a) }' >>"$W/l.lines"
						# the Sendmail refusals wait up to 2 s for a milter
						# join (RD_LOGFRONT_JOIN_WAIT): then count
						sleep 3
						grep -c '"front_end":"log"' "$W/logrd.events" >>"$W/l.events"
					else
						fail "log part, round $r: relaydiag did not read $LOGN lines within 120 s"
					fi
				fi
			done
		done
		a=$(median <"$W/l.alone.rate") b=$(median <"$W/l.withlog.rate")
		echo "| | milter sessions/s (c10) | log lines/s read | log events |"
		echo "|---|---|---|---|"
		echo "| milter alone | $a | - | - |"
		echo "| milter + $LOGN log lines | $b ($(ratio "$b" "$a")) | $(median <"$W/l.lines") | $(median <"$W/l.events") |"
		# the filter process (under AutoRestart, the supervisor's child)
		fp=$(pgrep -P "${PID[logrd]}" -x relaydiag | head -n 1)
		note "relaydiag (filter process) after the runs: $(rss_of "${fp:-${PID[logrd]}}")"
		stop logrd
	fi
fi

# -------------------------------------------------------------- Postfix --

if [ $do_postfix = 1 ]; then
	echo
	echo "== 4. Postfix alone vs + null filter vs + relaydiag: smtp-source, 10 sessions, 1 KB, discard transport =="
	if [ "$(id -u)" != 0 ]; then
		note "skipped: needs root (a private Postfix)"
	else
		# relaydiag as above: with Redis when the daemon has the publisher
		# (not tried yet: its binary says so when it has not)
		if [ -z "$rd_redis" ]; then
			rd_redis=1
			grep -q 'Redis publisher is not built' "$RELAYDIAG" && rd_redis=0
		fi
		BENCH_RD_CONFIG=$(printf '%s\n' "${RD_EXTRA[@]}") \
		RELAYDIAG_BIN=$RELAYDIAG NULLFILTER_BIN=$NULLFILTER RD_SRC=$src BENCH_REDIS=$rd_redis \
			BENCH_ROUNDS=$ROUNDS bash "$src/bench/postfix.sh" ||
			fail "the Postfix benchmark (bench/postfix.sh)"
	fi
fi

echo
if [ $failures -eq 0 ]; then
	echo "bench: done, no errors"
	exit 0
fi
echo "bench: $failures failure(s)"
exit 1
