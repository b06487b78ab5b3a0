#!/bin/bash
# t_faults.sh - relaydiag when things break around it.
#  1. Redis gone at start-up (RedisURL names a closed port): relaydiag
#     starts, mail flows, the events wait in the spool, the log says
#     "redis: down"; when Redis comes, the spool is replayed.
#  2. The spool's disk full (a 64 KB tmpfs as SpoolDir): the lost events
#     are logged and counted (sink.dropped in later session events), mail
#     keeps flowing.
#  3. relaydiag killed (SIGKILL) in the middle of SMTP sessions: Postfix
#     follows milter_default_action. Deployment 1 (Postfix is the relay
#     gate, observe mode): accept, and the mail in flight is delivered.
#     Deployment 2 (relaydiag is the gate): tempfail, and the client gets
#     451, never an accepted relay.
#  4. A flood of connections: 300 concurrent milter sessions, then more
#     than the daemon's file and thread limits allow: no crash, normal
#     mail afterwards.

. "$(dirname "$0")/lib.sh"

MLOAD=${RD_MLOAD:-$(dirname "$RELAYDIAG_BIN")/../bench/mload}
[ -x "$MLOAD" ] || rd_e2e_bail "mload not found: $MLOAD (build bench/, or set RD_MLOAD)"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	rd_e2e_bail "redis-server/redis-cli missing (package redis-server)"
command -v prlimit >/dev/null || rd_e2e_bail "prlimit missing (package util-linux)"


wait_log() {	# ERE TIMEOUT: poll relaydiag's log
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -qE -- "$1" "$RD_MILTER_LOG" && return 0
		sleep 0.1
	done
	return 1
}

NDELIVERED=0
local_mail() {	# DESC [SWAKS ARGS]: a local message is accepted and delivered
	local desc=$1
	shift
	rd_e2e_swaks --to "$RD_ALICE_USER" --header "Subject: $desc" "$@"
	NDELIVERED=$((NDELIVERED + 1))
	rd_e2e_wait_delivered "$NDELIVERED" 10 || true
	if grep -q '250 2\.0\.0 Ok: queued' "$RD_TRANSCRIPT" &&
		grep -rqF -- "Subject: $desc" "$RD_MAILDIR_BASE"; then
		rd_pass "$desc"
	else
		rd_fail "$desc"
		_rd_context_file "$RD_TRANSCRIPT" 20
	fi
}

# A private redis-server of ours on a fixed port (the harness picks its
# own); stopped by pid.
REDIS_PID=
start_redis_on() {	# PORT
	mkdir -p "$RD_E2E_DIR/redis2"
	timeout 120 redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
		--dir "$RD_E2E_DIR/redis2" --logfile "" >"$RD_E2E_DIR/redis2/log" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 50); do
		[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	rd_e2e_bail "our redis-server did not start on port $1"
}

MNT=
cleanup_faults() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
	[ -n "$MNT" ] && mountpoint -q "$MNT" && umount -l "$MNT"
	return 0
}
# ours first, then the harness's (which reads the exit status)
trap 'rc=$?; cleanup_faults; (exit $rc); _rd_on_exit' EXIT

port=$(rd_free_port) || exit 1

# ------------------------------------------- 1. Redis gone, 2. disk full --
MNT=$RD_E2E_DIR/rd/spool-tmpfs
mkdir -p "$MNT"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$MNT" ||
	rd_e2e_bail "cannot mount a tmpfs on $MNT (the disk-full test needs mount as root)"
RD_MILTER_DEFAULT_ACTION=accept
rd_e2e_start_milter "RedisURL redis://127.0.0.1:$port" "SpoolDir $MNT" \
	"RedisTimeout 200" "SpoolMaxSize 100M"
rd_e2e_start_postfix
rd_e2e_milter_alive "Redis gone at start-up: relaydiag starts"
wait_log 'redis: down: .*; spooling' 5 || true
rd_assert_grep "$RD_MILTER_LOG" "redis: down: .*; spooling" "the log says Redis is down and events are spooled"
local_mail "mail flows while Redis is down"
for _ in $(seq 30); do
	[ -n "$(find "$MNT" -name 'spool-*.log' -size +0 2>/dev/null)" ] && break
	sleep 0.1
done
rd_assert_ok "the session's events wait in the spool" \
	bash -c "find '$MNT' -name 'spool-*.log' -size +0 | grep -q ."

# fill the 64 KB spool: a few hundred sessions' events
"$MLOAD" -s "$RD_MILTER" -n 300 -c 10 -m plain -q >"$RD_E2E_DIR/mload-fill.out" 2>&1
rd_assert_eq "$?" 0 "300 sessions while the spool fills: every one answered"
wait_log 'spool: write error: .*; dropping events' 5 || true
rd_assert_grep "$RD_MILTER_LOG" 'spool: write error: No space left on device; dropping events' \
	"disk full: the log says events are dropped, and why"
rd_e2e_milter_alive "disk full: relaydiag still runs"
local_mail "mail flows with the spool's disk full"

# Redis comes: the spool is replayed, and later sessions count the drops
start_redis_on "$port"
wait_log 'redis: up after [0-9]+ s; [0-9]+ events replayed' 15 || true
rd_assert_grep "$RD_MILTER_LOG" 'redis: up after [0-9]+ s; [0-9]+ events replayed' \
	"Redis back: the spool is replayed"
local_mail "mail flows with Redis back"
sel='select(.type=="session" and .client.ip=="127.0.0.1") | .sink.dropped'
n=
for _ in $(seq 30); do
	n=$(redis-cli -p "$port" --raw XREVRANGE relaydiag:events + - COUNT 50 2>/dev/null |
		grep '^{' | jq -r "$sel" 2>/dev/null | head -1)
	[ -n "$n" ] && break
	sleep 0.1
done
if [ -n "$n" ] && [ "$n" -gt 0 ]; then
	rd_pass "the dropped events are counted (sink.dropped=$n in the next session event)"
else
	rd_fail "the dropped events are counted (sink.dropped > 0 in the next session event)" "got: '${n}'"
fi
# logged when the state changes (at the edge a small record may fit again:
# "writing again", then a new error), not once per lost event
k=$(grep -c 'spool: write error' "$RD_MILTER_LOG")
rd_assert_ok "the write error is logged $k time(s) for ${n:-?} lost events: not once per event" \
	test "$k" -ge 1 -a "$k" -le 5 -a "${n:-0}" -ge 50
redis-cli -p "$port" --raw XRANGE relaydiag:events - + 2>/dev/null | grep '^{' >"$RD_E2E_DIR/stream.jsonl"
rd_assert_ok "every event in Redis valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_E2E_DIR/stream.jsonl"

# ---------------------------------------------- 4. a flood of connections --
"$MLOAD" -s "$RD_MILTER" -n 900 -c 300 -m plain -t 20 -q >"$RD_E2E_DIR/mload-flood.out" 2>&1
rc=$?
rd_assert_eq "$rc" 0 "300 concurrent milter sessions (900 in all): every one answered"
[ "$rc" = 0 ] || _rd_context_file "$RD_E2E_DIR/mload-flood.out" 20
rd_e2e_milter_alive "after the flood: relaydiag still runs"
# Beyond its limits: relaydiag restarted with 48 open files and 20 more
# threads than user relaydiag has now (prlimit on a running process needs
# CAP_SYS_RESOURCE). Sessions libmilter cannot take wait in the listen
# queue (accept: EMFILE, retried) or are closed at once (no thread:
# libmilter logs "thread_create() failed: 11, try again" through syslog,
# not to relaydiag's stderr), and the MTA applies milter_default_action.
# Nothing may crash.
real_bin=$RELAYDIAG_BIN
nproc=$(( $(ps -L -u relaydiag -o lwp= | wc -l) + 20 ))
printf '#!/bin/sh\nexec prlimit --nofile=48:48 --nproc=%s:%s -- %s "$@"\n' \
	"$nproc" "$nproc" "$real_bin" >"$RD_E2E_DIR/relaydiag-limited"
chmod 0755 "$RD_E2E_DIR/relaydiag-limited"
rd_e2e_stop_milter
RELAYDIAG_BIN=$RD_E2E_DIR/relaydiag-limited
rd_e2e_start_milter "RedisURL redis://127.0.0.1:$port" "SpoolDir $MNT" "RedisTimeout 200"
RELAYDIAG_BIN=$real_bin
rd_assert_eq "$(awk '/^Max open files/ { print $4 }' "/proc/$RD_MILTER_PID/limits")" 48 \
	"relaydiag restarted with 48 open files at most"
"$MLOAD" -s "$RD_MILTER" -n 400 -c 200 -m plain -t 5 -q >"$RD_E2E_DIR/mload-limits.out" 2>&1
rd_diag "beyond the limits: $(tail -n 1 "$RD_E2E_DIR/mload-limits.out")"
rd_e2e_milter_alive "beyond its file and thread limits: relaydiag still runs"
sleep 1
"$MLOAD" -s "$RD_MILTER" -n 50 -c 5 -m plain -q >"$RD_E2E_DIR/mload-after.out" 2>&1
rd_assert_eq "$?" 0 "after the flood: milter sessions are answered again"
local_mail "after the flood: mail flows through Postfix"
rd_assert_ok "no panic or abort in relaydiag's log" \
	bash -c "! grep -E 'panic|abort|smfi_main: failure' '$RD_MILTER_LOG'"

# ------------------------------- 3. SIGKILL in mid-session, deployment 1 --
# smtp_open N / smtp N LINE: hand-driven SMTP sessions, so that relaydiag
# can die between two commands; the last reply line goes to REPLY[N] and
# every line to RUN/smtp-N.txt.
declare -A FD REPLY
smtp_read() {
	local n=$1 l
	REPLY[$n]=
	while IFS= read -r -t 15 l <&"${FD[$n]}"; do
		l=${l%$'\r'}
		printf '<- %s\n' "$l" >>"$RD_E2E_DIR/smtp-$n.txt"
		REPLY[$n]=$l
		[[ $l =~ ^[0-9]{3}\  ]] && return 0
	done
	REPLY[$n]="(no reply)"
}
smtp_open() {
	local n=$1 fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$RD_E2E_MX_PORT"
	FD[$n]=$fd
	smtp_read "$n"
}
smtp() {	# N LINE...: send the lines, read one reply
	local n=$1
	shift
	printf '%s\r\n' "$@" >&"${FD[$n]}"
	printf -- '-> %s\n' "$@" >>"$RD_E2E_DIR/smtp-$n.txt"
	smtp_read "$n"
}
smtp_close() {
	local n=$1 fd=${FD[$1]}
	smtp "$n" QUIT
	exec {fd}>&-
}
message() {	# N SUBJECT: DATA, a small message, its final reply
	smtp "$1" DATA
	smtp "$1" "Subject: $2" "From: <a@client.test>" "To: <$RD_ALICE_USER>" "" "in flight" "."
}

for n in 1 2 3; do
	smtp_open "d1-$n"
	smtp "d1-$n" "EHLO mail.client.test"
	smtp "d1-$n" "MAIL FROM:<a$n@client.test>"
	smtp "d1-$n" "RCPT TO:<$RD_ALICE_USER>"
done
rd_assert_eq "${REPLY[d1-3]}" "250 2.1.5 Ok" "deployment 1: three SMTP sessions in flight (RCPT accepted)"
disown "$RD_MILTER_PID" 2>/dev/null	# (no "Killed" notice from bash)
kill -KILL "$RD_MILTER_PID"
got=
for n in 1 2 3; do
	message "d1-$n" "in flight $n"
	got+="${REPLY[d1-$n]%% as *}; "
	smtp_close "d1-$n"
done
rd_assert_eq "$got" "250 2.0.0 Ok: queued; 250 2.0.0 Ok: queued; 250 2.0.0 Ok: queued; " \
	"relaydiag killed: milter_default_action=accept, the mail in flight is accepted"
NDELIVERED=$((NDELIVERED + 3))
rd_e2e_wait_delivered "$NDELIVERED" 10 || true
rd_assert_ok "and delivered" bash -c "grep -rlF 'Subject: in flight' '$RD_MAILDIR_BASE' | wc -l | grep -qx 3"
rd_e2e_wait_maillog 'milter unix:.*: (can.t read|unexpected EOF|Connection reset|error)' 5 || true
local_mail "deployment 1, relaydiag dead: new mail still flows"
rd_e2e_swaks --to erin@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 <erin@gmail\.test>: Relay access denied' \
	"deployment 1, relaydiag dead: Postfix itself still refuses the relay"
rd_e2e_stop_milter

# ------------------------------- 3. SIGKILL in mid-session, deployment 2 --
relay2="smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, warn_if_reject reject_unauth_destination, check_recipient_access static:OK, reject_unauth_destination"
RD_MILTER_DEFAULT_ACTION=tempfail
rd_e2e_start_milter "Mode enforce" "RelayGate yes"
rd_e2e_restart_postfix "$relay2"
before=$(rd_e2e_delivered_count)
smtp_open d2-a
smtp d2-a "EHLO mail.client.test"
smtp d2-a "MAIL FROM:<a@client.test>"
smtp d2-a "RCPT TO:<$RD_ALICE_USER>"
rd_assert_eq "${REPLY[d2-a]}" "250 2.1.5 Ok" "deployment 2: a local message in flight (RCPT accepted)"
smtp_open d2-b
smtp d2-b "EHLO UserPC"
smtp d2-b "MAIL FROM:<a@client.test>"
disown "$RD_MILTER_PID" 2>/dev/null	# (no "Killed" notice from bash)
kill -KILL "$RD_MILTER_PID"
message d2-a "deployment 2 in flight"
rd_assert_eq "${REPLY[d2-a]}" "451 4.7.1 Service unavailable - try again later" \
	"relaydiag killed: milter_default_action=tempfail, the message in flight gets 451"
smtp_close d2-a
smtp d2-b "RCPT TO:<frank@gmail.test>"
rd_assert_eq "${REPLY[d2-b]}" "451 4.7.1 Service unavailable - try again later" \
	"relaydiag killed: the relay attempt in flight gets 451, never 250"
smtp_close d2-b
rd_e2e_swaks --helo UserPC --to gina@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +451 4\.7\.1' "deployment 2, relaydiag dead: a new relay attempt gets 451"
rd_assert_not_contains "$RD_TRANSCRIPT" "queued as" "and nothing is queued"
sleep 0.5
rd_assert_eq "$(rd_e2e_delivered_count)" "$before" "deployment 2: nothing delivered after the kill"
rd_e2e_stop_milter

rd_e2e_finish
