#!/bin/bash
# t_restart.sh - AutoRestart: the filter survives what kills libmilter.
# An SMFIC_MACRO packet with an odd number of strings crashes libmilter
# 8.17 in smfi_getsymval (SIGSEGV), and with it every open session; the
# supervisor starts the filter again, the socket stays, the spool's lock
# passes to the new filter, and the next session through Postfix is
# served and diagnosed. Past AutoRestartRate the supervisor gives up and
# says so; with AutoRestart no, the crash ends the daemon.

. "$(dirname "$0")/lib.sh"

DRIVE=${RD_MILTERDRIVE:-$(dirname "$RELAYDIAG_BIN")/../tests/milterdrive}
[ -x "$DRIVE" ] || rd_e2e_bail "milterdrive not found: $DRIVE (build the tests, or set RD_MILTERDRIVE)"
D=$RD_E2E_DIR/drive
mkdir -p "$D"

# crash_once: milter sessions with the odd macro packet until the filter
# process dies (the crash reads freed or foreign memory: not always the
# first session), at most 40; the number of sessions it took, or "none
# (SIGSEGV sent)" when the packet did not do it
crash_once() {
	local before n
	before=$(grep -c 'AutoRestart: the filter process .* was killed by signal' "$RD_MILTER_LOG")
	printf '%s\n' 'connect client.test 4 1234 192.0.2.1' 'helo x.test' \
		'mail <a@x.test>' 'macro R {rcpt_addr}' 'rcpt <b@gmail.test>' 'quit' >"$D/odd.script"
	for n in $(seq 20); do
		timeout 10 "$DRIVE" -s "$RD_MILTER" -t 3 <"$D/odd.script" >"$D/odd.out" 2>&1
		for _ in $(seq 10); do
			[ "$(grep -c 'AutoRestart: the filter process .* was killed by signal' "$RD_MILTER_LOG")" -gt "$before" ] &&
				{ echo "$n"; return; }
			kill -0 "$RD_MILTER_PID" 2>/dev/null || { echo "$n"; return; }
			sleep 0.05
		done
	done
	# The odd packet's crash depends on what lies past libmilter's macro
	# array on the heap: when 20 tries are not enough, the same death by
	# SIGSEGV, sent (the supervisor's part is what is tested here).
	local victim
	victim=$(pgrep -P "$RD_MILTER_PID" | head -n 1)
	kill -SEGV "${victim:-$RD_MILTER_PID}" 2>/dev/null
	for _ in $(seq 100); do
		[ "$(grep -c 'AutoRestart: the filter process .* was killed by signal' "$RD_MILTER_LOG")" -gt "$before" ] &&
			break
		kill -0 "$RD_MILTER_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "none (SIGSEGV sent)"
}

# served NAME: one refused relay through Postfix, and its rcpt event
served() {
	rd_e2e_swaks --helo mail.client.test --from "s-$1@client.test" --to "$1@gmail.test" --quit-after RCPT
	for _ in $(seq 100); do
		[ "$(rd_e2e_redis_cli --raw XRANGE relaydiag:events - + | grep "\"addr\":\"$1@gmail.test\"" | grep -c "relay\.no-auth")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# The crash is the point: under scripts/sanitize.sh the filter must die of
# libmilter's SIGSEGV as it does in production, not of ASan's report of it
# (libmilter is not instrumented; the sanitizers are there for our code).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:handle_sigbus=0"

rd_e2e_start_redis
rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "AutoRestartRate 3/10m"
rd_e2e_start_postfix
sup=$RD_MILTER_PID
rd_assert_ok "before: a session is served" served before
filter1=$(pgrep -P "$sup")
rd_assert_ok "the supervisor runs one filter process" test -n "$filter1"

n=$(crash_once)
rd_diag "the odd macro packet killed the filter after $n session(s)"
rd_assert_grep "$RD_MILTER_LOG" "AutoRestart: the filter process $filter1 was killed by signal (11 \(Segmentation fault\)|7 \(Bus error\)).*; started [0-9]+ in its place \(restart 1; 1 within the last 600 s" \
	"the crash is logged, with the signal, and a new filter started"
rd_assert_ok "the supervisor is still the process started" kill -0 "$sup"
filter2=$(pgrep -P "$sup")
rd_assert_ok "a new filter process runs" bash -c "[ -n '$filter2' ] && [ '$filter2' != '$filter1' ]"
rd_assert_ok "after the crash: the next session through Postfix is served and diagnosed" served after1
rd_assert_ok "the new filter took the spool (no 'in use')" bash -c "! grep -q 'spool in use' '$RD_MILTER_LOG'"
rd_assert_ok "and the socket is the same file" test -S "${RD_MILTER#unix:}"

# SIGUSR1 reaches the filter through the supervisor
kill -USR1 "$sup"
for _ in $(seq 50); do grep -q 'configuration reloaded' "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'configuration reloaded' "SIGUSR1 to the supervisor reloads the filter"

# AutoRestartRate 3/10m: restarts 2 and 3 are allowed, the 4th death ends it
# (a window far longer than the four crashes take: each may need the
# SIGSEGV fallback of crash_once, 10 s or more)
for i in 2 3; do
	n=$(crash_once)
	rd_diag "crash $i after $n session(s)"
done
rd_assert_ok "after 3 restarts: still served" served after3
n=$(crash_once)
for _ in $(seq 50); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'AutoRestart: the filter process [0-9]+ was killed by signal (11|7) .*: 3 restarts within 600 s already \(AutoRestartRate 3/600s\); giving up' \
	"past AutoRestartRate the supervisor gives up, and says why"
rd_assert_ok "and exits" bash -c "! kill -0 $sup 2>/dev/null"
_rd_stop_milter_quiet || true

# AutoRestart no: the crash is the end of the daemon (as before)
rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "AutoRestart no"
rd_assert_ok "AutoRestart no: no supervisor, the daemon is the filter" bash -c "[ -z \"\$(pgrep -P $RD_MILTER_PID)\" ]"
n=$(crash_once)
for _ in $(seq 50); do kill -0 "$RD_MILTER_PID" 2>/dev/null || break; sleep 0.1; done
rd_assert_ok "AutoRestart no: the crash ends the daemon" bash -c "! kill -0 $RD_MILTER_PID 2>/dev/null"
_rd_stop_milter_quiet || true

rd_e2e_finish
