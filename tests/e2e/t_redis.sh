#!/bin/bash
# shellcheck disable=SC2016	# jq filters: $x is jq's, not the shell's
# t_redis.sh - the Redis path end to end: real Postfix, real redis-server,
# relaydiag with RedisURL; every assertion reads the stream (XRANGE).
#
#  1. events arrive with a `type` field and an `event` field valid against
#     docs/event.schema.json; session events carry the sink counters;
#     a burst of parallel sessions gives the events/s figure
#  2. a consumer group works as docs/consumers.md says (XREADGROUP, XACK,
#     XPENDING, XAUTOCLAIM of a crashed consumer's entries)
#  3. outage: Redis SIGKILLed after 10 of 40 sessions, restarted (same
#     data: appendonly, appendfsync always) after 25: after dedupe by id
#     every event is there exactly once, in order per session; relaydiag
#     logs "redis: down" and "redis: up after"
#  4. slow Redis (DEBUG SLEEP 2, CLIENT PAUSE 2000): the time of each SMTP
#     session, as swaks sees it, stays flat (< 1.5 s), and nothing is lost
#  5. invalid UTF-8 and control characters from the network: valid JSON
#     the schema accepts
#  6. spool cap (SpoolMaxSize 64k) with Redis down and many sessions: the
#     drop policy acts, is logged and counted in session events, and
#     relaydiag keeps accepting mail
#  7. HashPersonalData: no raw address or user name in the stream, while
#     the client's reply names the real recipient; the key file is
#     root-only (read before the privilege drop) and survives a reload
#  8. tools/relaydiag-report summarizes the stream (ids seen), follows it
#     as a consumer group, and reads a JSON Lines file
# Figures (events/s, outage and latency numbers) are printed as "#" lines.

. "$(dirname "$0")/lib.sh"

STREAM=relaydiag:events
S=$RD_E2E_DIR/stream.jsonl
REPORT=$RD_SRC/tools/relaydiag-report
CHECK=$RD_SRC/tests/tools/check-events

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

# -- Redis with persistence on a fixed port (the harness picks the port)
rd_e2e_start_redis
_rd_stop_session redis 5 || rd_e2e_bail "redis: could not stop the harness's instance"
redis_up() {	# start redis-server again on RD_REDIS_PORT, same data
	local d=$RD_E2E_DIR/redis
	_rd_spawn redis "$RD_E2E_DIR/redis.log" redis-server --bind 127.0.0.1 \
		--port "$RD_REDIS_PORT" --unixsocket "$RD_REDIS_SOCKET" --unixsocketperm 777 \
		--save '' --appendonly yes --appendfsync always --dir "$d" \
		--enable-debug-command local --daemonize no --logfile "" --loglevel notice
	rd_wait 10 0.05 _rd_redis_pong "$RD_REDIS_PORT" ||
		rd_e2e_bail "redis: no PONG after a restart"
}
redis_kill() {	# SIGKILL: no shutdown, no last save
	local sid=${_RD_SID[redis]}
	{
		kill -KILL "$sid"
		_rd_stop_session redis 5 || true
	} 2>/dev/null		# not bash's "Killed" job notice
}
redis_up

# parallel NAME N: N refused relays NAME1..NAMEN@gmail.test, 8 at a time
# (waits only for its own swaks: the daemons are children of this shell too)
parallel() {
	local name=$1 n=$2 i pids=()
	for i in $(seq 1 "$n"); do
		swaks --server 127.0.0.1 --port "$RD_E2E_MX_PORT" --helo mail.client.test \
			--from "s-$name$i@client.test" --to "$name$i@gmail.test" --quit-after RCPT \
			--timeout 15 </dev/null >"$RD_E2E_DIR/swaks/$name$i.txt" 2>&1 7>&- &
		pids+=($!)
		if (( i % 8 == 0 )); then
			wait "${pids[@]}" || true
			pids=()
		fi
	done
	[ ${#pids[@]} -gt 0 ] && { wait "${pids[@]}" || true; }
	return 0
}

# stream_dump [START]: the stream (from entry START, default all) as JSON
# Lines in $S, and "<type field> <event.type>" per entry in $S.types
stream_dump() {
	rd_e2e_redis_cli --raw XRANGE "$STREAM" "${1:--}" + >"$S.raw" 2>&1 || true
	awk -v types="$S.types" '
		prev == "type" { ty = $0 }
		prev == "event" { print; print ty >types }
		{ prev = $0 }' "$S.raw" >"$S"
	touch "$S.types"
}
# wait_closed ADDR: until the session event of ADDR's connection is in
closed() {	# ADDR: its connection's session event is in the stream
	local sid
	stream_dump
	sid=$(jq -r --arg a "$1" 'select(.type=="rcpt" and .rcpt.addr==$a) | .session' "$S" | head -1)
	[ -n "$sid" ] && [ "$(rd_e2e_jq_count "$S" 'select(.type=="session" and .session==$s)' --arg s "$sid")" -ge 1 ]
}
wait_closed() {
	rd_wait 10 0.2 closed "$1" && return 0
	rd_diag "wait_closed: no session event for $1's connection after 10 s"
	return 1
}
# stream_wait FILTER COUNT TIMEOUT [JQ_ARGS]: until COUNT events match
matching() {	# WANT FILTER [JQ_ARGS]: at least WANT events match
	local want=$1
	shift
	stream_dump
	[ "$(rd_e2e_jq_count "$S" "$@")" -ge "$want" ]
}
stream_wait() {
	local filter=$1 want=$2 timeout=$3
	shift 3
	rd_wait "$timeout" 0.2 matching "$want" "$filter" "$@" && return 0
	rd_diag "stream_wait: fewer than $want events match $filter after $timeout s"
	return 1
}
# relay NAME [ARGS]: one refused relay attempt to NAME@gmail.test, timed
relay() {
	local t0 name=$1
	shift
	t0=$(now_ms)
	rd_e2e_swaks --helo mail.client.test --from "s-$name@client.test" \
		--to "$name@gmail.test" --quit-after RCPT "$@"
	LAST_MS=$(( $(now_ms) - t0 ))
}

rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "RedisTimeout 500"
rd_e2e_start_postfix
rd_wait 10 0.1 _rd_grep_q 'redis: connected' "$RD_MILTER_LOG" || rd_e2e_bail "relaydiag: no 'redis: connected' after 10 s"

# ---------------------------------------------------------------- 1. basics
relay basic
rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1 <basic@gmail.test>: Relay access denied" \
	"Postfix refuses the relay as before (observe mode)"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to msg@gmail.test --header "Subject: t_redis"
rd_assert_grep "$RD_TRANSCRIPT" '250 2\.0\.0 Ok: queued' "an authenticated relay is queued"
stream_wait 'select(.type=="message" and .auth != null)' 1 10 || true
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="basic@gmail.test") | .diagnosis.id=="relay.no-auth" and .mta.dsn=="5.7.1"' \
	"XRANGE: the rcpt event of the refused relay, with its diagnosis"
rd_assert_jq "$S" 'select(.type=="message") | .counts.rcpts==1 and .queue_id != null' \
	"XRANGE: the message event of the queued message"
rd_assert_jq "$S" 'select(.type=="session" and (.diagnoses|index("relay.no-auth"))) | .sink=={"dropped":0,"spooled":0}' \
	"session events carry the sink counters (nothing dropped, nothing spooled)"
paste -d' ' "$S.types" <(jq -r .type "$S") >"$S.pairs"
rd_assert_ok "every entry's type field is its event's type" \
	bash -c "[ -s '$S.pairs' ] && ! awk '\$1 != \$2' '$S.pairs' | grep -q ."
rd_assert_ok "every event in the stream is valid against the schema" "$CHECK" "$S"
rd_assert_eq "$(rd_e2e_redis_cli TYPE "$STREAM")" stream "$STREAM is a Redis stream"
rd_assert_eq "$(wc -c <"$RD_EVENTS")" 0 "with RedisURL, nothing goes to the event log file"

# throughput: 40 sessions, 8 at a time; time until all their events are in
burst_t0=$(now_ms)
parallel burst 40
stream_wait 'select(.type=="rcpt" and (.rcpt.addr|startswith("burst")))' 40 20 || true
wait_closed burst40@gmail.test || true
burst_ms=$(( $(now_ms) - burst_t0 ))
rd_assert_eq "$(rd_e2e_jq_count "$S" 'select(.type=="rcpt" and (.rcpt.addr|startswith("burst")))')" 40 \
	"burst: all 40 parallel sessions' rcpt events are in the stream"
rd_diag "burst: 40 SMTP sessions (80 events) through Postfix -> relaydiag -> Redis in ${burst_ms} ms: $(( 80 * 1000 / (burst_ms > 0 ? burst_ms : 1) )) events/s end to end (bounded by Postfix + swaks, not the publisher)"

# ------------------------------------------------------- 2. consumer group
G=t_redis
rd_assert_eq "$(rd_e2e_redis_cli XGROUP CREATE "$STREAM" "$G" '$' MKSTREAM)" OK \
	"XGROUP CREATE ... \$ MKSTREAM"
relay grp1
relay grp2
wait_closed grp1@gmail.test || true
wait_closed grp2@gmail.test || true
rd_e2e_redis_cli --raw XREADGROUP GROUP "$G" c1 COUNT 100 STREAMS "$STREAM" '>' >"$RD_E2E_DIR/xrg1.txt"
ids=$(grep -E '^[0-9]+-[0-9]+$' "$RD_E2E_DIR/xrg1.txt")
n=$(grep -c . <<<"$ids")
rd_assert_contains "$RD_E2E_DIR/xrg1.txt" '"addr":"grp1@gmail.test"' "XREADGROUP >: consumer c1 gets the new events"
rd_assert_eq "$n" 4 "XREADGROUP >: exactly the 4 events written after the group was created"
rd_assert_eq "$(rd_e2e_redis_cli XPENDING "$STREAM" "$G" | head -1)" "$n" "XPENDING: the 4 are pending until acknowledged"
# shellcheck disable=SC2086
rd_assert_eq "$(rd_e2e_redis_cli XACK "$STREAM" "$G" $ids)" "$n" "XACK acknowledges them"
rd_assert_eq "$(rd_e2e_redis_cli XPENDING "$STREAM" "$G" | head -1)" 0 "XPENDING: nothing pending after XACK"
rd_assert_eq "$(rd_e2e_redis_cli --raw XREADGROUP GROUP "$G" c2 COUNT 100 STREAMS "$STREAM" '>' | grep -cE '^[0-9]+-[0-9]+$')" 0 \
	"another consumer of the group gets nothing already delivered"
# c1 "crashes" after reading, before XACK; c2 claims its entries
relay grp3
wait_closed grp3@gmail.test || true
rd_e2e_redis_cli XREADGROUP GROUP "$G" c1 COUNT 100 STREAMS "$STREAM" '>' >/dev/null
rd_assert_eq "$(rd_e2e_redis_cli XPENDING "$STREAM" "$G" | head -1)" 2 "a crashed consumer's entries stay pending"
rd_e2e_redis_cli --raw XAUTOCLAIM "$STREAM" "$G" c2 0 0-0 COUNT 100 >"$RD_E2E_DIR/xclaim.txt"
rd_assert_contains "$RD_E2E_DIR/xclaim.txt" '"addr":"grp3@gmail.test"' "XAUTOCLAIM: c2 takes over c1's pending entries"
ids=$(grep -E '^[0-9]+-[0-9]+$' "$RD_E2E_DIR/xclaim.txt" | sed 1d)	# first line: the next cursor
# shellcheck disable=SC2086
rd_e2e_redis_cli XACK "$STREAM" "$G" $ids >/dev/null
rd_assert_eq "$(rd_e2e_redis_cli XPENDING "$STREAM" "$G" | head -1)" 0 "and acknowledges them: nothing pending"

# --------------------------------------------------------------- 3. outage
out_t0=$(now_ms)
down_ms=0
max_ms=0
for i in $(seq 1 40); do
	relay "out$i"
	(( LAST_MS > max_ms )) && max_ms=$LAST_MS
	grep -q '554 5.7.1' "$RD_TRANSCRIPT" || rd_fail "outage: session $i refused by Postfix as usual" "$(tail -5 "$RD_TRANSCRIPT")"
	if [ "$i" -eq 10 ]; then
		redis_kill
		kill_at=$(now_ms)
	elif [ "$i" -eq 25 ]; then
		redis_up
		down_ms=$(( $(now_ms) - kill_at ))
	fi
done
stream_wait 'select(.type=="rcpt" and (.rcpt.addr|startswith("out")))' 40 30 || true
stream_wait 'select(.type=="session" and (.sink.spooled // 0) > 0)' 1 15 || true
out_ms=$(( $(now_ms) - out_t0 ))
rd_assert_grep "$RD_MILTER_LOG" 'redis: down: .*; spooling' "relaydiag logs \"redis: down\""
for _ in $(seq 100); do grep -q 'redis: up after' "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'redis: up after [0-9]+ s; [0-9]+ events replayed' "relaydiag logs \"redis: up after N s; M events replayed\""
# every event of the 40 sessions, once after dedupe, in order per session
/usr/bin/python3 - "$S" >"$RD_E2E_DIR/outage.txt" 2>&1 <<'EOF'
import json, sys
seen, dups, order, probes = set(), 0, {}, 0
by_rcpt, sessions = {}, {}
for line in open(sys.argv[1], encoding="utf-8"):
    ev = json.loads(line)
    if ev["id"] in seen:
        dups += 1
        continue
    seen.add(ev["id"])
    if ev["type"] == "alert" and ev["diagnosis"]["id"] == "alert.relay-probe":
        probes += 1
    sid, seq = ev["session"], int(ev["id"].rsplit(".", 1)[1])
    sessions.setdefault(sid, []).append((seq, ev["type"]))
    a = (ev.get("rcpt") or {}).get("addr", "")
    if ev["type"] == "rcpt" and a.startswith("out"):
        by_rcpt.setdefault(a, []).append(sid)
bad = []
for i in range(1, 41):
    a = "out%d@gmail.test" % i
    sids = by_rcpt.get(a, [])
    if len(sids) != 1:
        bad.append("%s: %d rcpt events" % (a, len(sids)))
        continue
    evs = sessions[sids[0]]
    seqs = [s for s, _ in evs]
    if seqs != list(range(1, len(seqs) + 1)):
        bad.append("%s: session %s: events %s: lost or out of order" % (a, sids[0], seqs))
    # the relay-probe alert comes in whichever session made the 20th
    # refused attempt: in order with the session's other events
    if [t for _, t in evs if t != "alert"] != ["rcpt", "session"]:
        bad.append("%s: session %s: types %s, want rcpt, session" % (a, sids[0], [t for _, t in evs]))
print("sessions %d unique_events %d duplicates %d" % (len(by_rcpt), len(seen), dups))
if probes != 1:
    bad.append("%d alert.relay-probe events, want 1 (Redis down or not)" % probes)
for b in bad:
    print("BAD " + b)
EOF
rd_diag "$(head -5 "$RD_E2E_DIR/outage.txt")"
rd_assert_ok "outage: all 40 sessions' events arrive, exactly once after dedupe, in order per session; one relay-probe alert" \
	bash -c "grep -q '^sessions 40 ' '$RD_E2E_DIR/outage.txt' && ! grep -q '^BAD' '$RD_E2E_DIR/outage.txt'"
rd_assert_ok "outage: no SMTP session waited on Redis (slowest ${max_ms} ms < 1500 ms)" test "$max_ms" -lt 1500
rd_assert_jq "$S" 'select(.type=="session" and .sink.spooled > 0) | .sink.dropped==0' \
	"session events after the outage count the spooled events, and no drop"
rd_diag "outage: Redis SIGKILLed after session 10, back after session 25 (down ${down_ms} ms); 40 sessions in ${out_ms} ms incl. replay; $(grep -oE 'redis: up after .*' "$RD_MILTER_LOG" | tail -1)"
rd_assert_ok "every event in the stream is valid against the schema (after the outage)" "$CHECK" "$S"

# ----------------------------------------------------------- 4. slow Redis
base=()
for i in 1 2 3; do relay "base$i"; base+=("$LAST_MS"); done
slow() {	# NAME CMD...: sessions while Redis runs CMD
	local name=$1 i t0 max=0 times=()
	shift
	rd_e2e_redis_cli "$@" >"$RD_E2E_DIR/$name.cmd.out" 2>&1 &
	local cpid=$!
	sleep 0.1
	t0=$(now_ms)
	i=0
	while [ $(( $(now_ms) - t0 )) -lt 2300 ]; do
		i=$((i + 1))
		relay "$name$i"
		times+=("$LAST_MS")
		(( LAST_MS > max )) && max=$LAST_MS
	done
	wait "$cpid" || true
	rd_assert_ok "$name: $i sessions while Redis is stuck for 2 s, each under 1.5 s (slowest ${max} ms)" test "$max" -lt 1500
	rd_diag "$name: per-session ms: ${times[*]} (Redis healthy: ${base[*]})"
	SLOW_N=$i
}
slow debugsleep DEBUG SLEEP 2
rd_assert_eq "$(cat "$RD_E2E_DIR/debugsleep.cmd.out")" OK "DEBUG SLEEP 2 ran (Redis really was asleep)"
n_ds=$SLOW_N
slow clientpause CLIENT PAUSE 2000 ALL
n_cp=$SLOW_N
slow_ids() { jq -r 'select(.type=="rcpt" and (.rcpt.addr|test("^(debugsleep|clientpause)"))) | .id' "$S"; }
# until every one is there once: duplicates (XADDs Redis ran after waking
# up, spooled too) must not end the wait before the replay is done
for _ in $(seq 100); do
	stream_dump
	[ "$(slow_ids | sort -u | wc -l)" -ge $((n_ds + n_cp)) ] && break
	sleep 0.2
done
rd_assert_eq "$(slow_ids | sort -u | wc -l)" $((n_ds + n_cp)) \
	"slow Redis: every event of those sessions arrives anyway (after dedupe by id)"
rd_diag "slow Redis: $((n_ds + n_cp)) rcpt events, $(( $(slow_ids | wc -l) - n_ds - n_cp )) duplicates in the stream (XADDs Redis ran after waking up, which relaydiag had already spooled)"

# ------------------------------------------- 5. hostile text from the network
mark=$(rd_e2e_redis_cli --raw XREVRANGE "$STREAM" + - COUNT 1 | head -1)
rd_e2e_swaks --helo $'\xff\xfe' --from hostile1@client.test --to h1@gmail.test --quit-after RCPT
rd_e2e_swaks --helo $'ctl\x01\x1b[31mred\x7f' --from hostile2@client.test --to h2@gmail.test --quit-after RCPT
rd_e2e_swaks --helo mail.client.test --from $'j\xc3\xbcrgen@client.test' --to h3@gmail.test --quit-after RCPT
rd_e2e_swaks --helo mail.client.test --from $'bad\xff\xc3(@client.test' --to h4@gmail.test --quit-after RCPT
rd_e2e_swaks --helo $'tab\there' --from hostile5@client.test --to $'h5\xe2\x80\x8b@gmail.test' --quit-after RCPT
stream_wait 'select(.type=="rcpt" and (.rcpt.addr|test("^h[1-5]")))' 5 10 || true
stream_dump "($mark"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="h1@gmail.test") | .client.helo=="\ufffd\ufffd"' \
	"HELO of invalid UTF-8 bytes: U+FFFD in the event"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="h2@gmail.test") | .client.helo=="ctl\u0001\u001b[31mred\u007f"' \
	"HELO with control characters: kept, JSON-escaped"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="h3@gmail.test") | .sender.addr=="j\u00fcrgen@client.test"' \
	"UTF-8 in the sender's local part: kept as is"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="h4@gmail.test") | (.sender.addr|test("^<?bad\ufffd\ufffd\\("))' \
	"invalid UTF-8 in the sender: U+FFFD"
rd_assert_ok "events from hostile input: $(wc -l <"$S") events, all valid against the schema" "$CHECK" "$S"

# ---------------------------------------------------------- 6. spool cap
rd_e2e_stop_milter
rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "RedisTimeout 500" "SpoolMaxSize 64k"
rd_wait 10 0.1 _rd_grep_q 'redis: connected' "$RD_MILTER_LOG" || rd_e2e_bail "relaydiag: no 'redis: connected' after 10 s"
redis_kill
cap_t0=$(now_ms)
parallel cap 80
cap_ms=$(( $(now_ms) - cap_t0 ))
rd_e2e_swaks --helo mail.client.test --to "$RD_ALICE_USER" --header "Subject: spool full"
rd_assert_grep "$RD_TRANSCRIPT" '250 2\.0\.0 Ok: queued' "spool full: mail is still accepted and queued"
rd_assert_eq "$(grep -l '554 5.7.1 <cap[0-9]*@gmail.test>: Relay access denied' "$RD_E2E_DIR"/swaks/cap*.txt | wc -l)" 80 \
	"spool full: all 80 sessions got Postfix's normal answer (no milter failure, no tempfail)"
for _ in $(seq 100); do grep -q 'spool: full' "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'spool: full \(SpoolMaxSize 65536 bytes\); dropping the oldest events' \
	"the drop policy acts and is logged once"
rd_assert_eq "$(grep -c 'spool: full' "$RD_MILTER_LOG")" 1 "logged once, not per event"
redis_up
for _ in $(seq 150); do grep -q 'spool: empty again' "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'spool: empty again; [1-9][0-9]* events were dropped while it was full' \
	"back up: the number of dropped events is logged"
dropped=$(grep -oE 'empty again; [0-9]+' "$RD_MILTER_LOG" | tail -1 | grep -oE '[0-9]+$')
relay capafter
stream_wait 'select(.type=="session" and .sink.dropped > 0)' 1 15 || true
rd_assert_jq "$S" 'select(.type=="session" and .sink.dropped > 0) | .sink.dropped == ($d|tonumber)' \
	"the next session events report sink.dropped = $dropped" --arg d "${dropped:-0}"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.addr=="capafter@gmail.test")' "events flow again after the spool was full"
n_cap=$(rd_e2e_jq_count "$S" 'select(.type=="rcpt" and (.rcpt.addr|test("^cap[0-9]")))')
rd_diag "spool cap: 80 sessions (160 events + 3 of the delivery) with Redis down in ${cap_ms} ms; SpoolMaxSize 64k kept the rcpt events of $n_cap sessions, $dropped events dropped (policy oldest)"
rd_assert_ok "the newest events survive under policy oldest (cap80 is in the stream)" \
	bash -c "jq -e 'select(.rcpt.addr==\"cap80@gmail.test\")' '$S' | grep -q ."

# ------------------------------------------------------- 7. HashPersonalData
relay2="smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, warn_if_reject reject_unauth_destination, check_recipient_access static:OK, reject_unauth_destination"
key=$RD_E2E_DIR/hash.key
openssl rand -hex 16 >"$key"
chown root:root "$key"
chmod 0600 "$key"
rd_e2e_stop_milter
rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "HashPersonalData yes" "HashKeyFile $key" \
	"Mode enforce" "RelayGate yes"
rd_e2e_restart_postfix "$relay2"
rd_wait 10 0.1 _rd_grep_q 'redis: connected' "$RD_MILTER_LOG" || rd_e2e_bail "relaydiag: no 'redis: connected' after 10 s"
mark=$(rd_e2e_redis_cli --raw XREVRANGE "$STREAM" + - COUNT 1 | head -1)
rd_e2e_swaks --helo UserPC --from carl@client.test --to bob@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '554-5\.7\.1 Relay access denied for <bob@gmail\.test>\.' \
	"hashing on: relaydiag's reply to the client names the real recipient"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test --header "Subject: hashed"
rd_assert_grep "$RD_TRANSCRIPT" '250 2\.0\.0 Ok: queued' "hashing on: an authenticated relay is queued"
rd_e2e_reload_milter
for _ in $(seq 50); do grep -q 'configuration reloaded' "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'reload: .*hash\.key: HashKeyFile: cannot open: Permission denied.*; keeping the key read at start' \
	"reload as the unprivileged user: the root-only key read at start stays"
rd_e2e_swaks --helo UserPC --from carl@client.test --to bob@gmail.test --quit-after RCPT
stream_wait 'select(.type=="message" and (.auth.user // "" | startswith("h:")))' 1 10 || true
stream_wait 'select(.type=="session" and .client.helo=="UserPC")' 2 10 || true
stream_dump "($mark"
for raw in bob@gmail.test carl@client.test dave@gmail.test "$RD_ALICE_USER" '"bob' '"carl' '"alice'; do
	rd_assert_not_contains "$S" "$raw" "hashing on: \"$raw\" appears nowhere in the stream"
done
rd_assert_ok "hashing on: hashed events are valid against the schema" "$CHECK" "$S"
rd_assert_jq "$S" 'select(.type=="rcpt" and .rcpt.domain=="gmail.test" and .client.helo=="UserPC") | (.rcpt.addr|test("^h:[0-9a-f]{16}$")) and (.sender.addr|test("^h:[0-9a-f]{16}$")) and .sender.domain=="client.test"' \
	"rcpt.addr and sender.addr are pseudonyms (h: + 16 hex), domains in clear"
rd_assert_jq "$S" 'select(.type=="message") | (.auth.user|test("^h:[0-9a-f]{16}$")) and .auth.user == .sender.addr' \
	"auth.user is a pseudonym; login = sender address gives the same pseudonym"
rd_assert_eq "$(jq -r 'select(.type=="rcpt" and .client.helo=="UserPC") | .rcpt.addr' "$S" | sort -u | wc -l)" 1 \
	"the same recipient has the same pseudonym in both sessions, across the reload"
rd_assert_eq "$(jq -r 'select(.type=="rcpt" and .client.helo=="UserPC") | .rcpt.addr' "$S" | wc -l)" 2 \
	"(both sessions' rcpt events are there)"
h=$(jq -r 'select(.type=="rcpt" and .client.helo=="UserPC") | .rcpt.addr' "$S" | head -1)
rd_assert_jq "$S" 'select(.type=="rcpt" and .client.helo=="UserPC") | (.diagnosis.summary|contains("<" + $h + ">"))' \
	"the diagnosis summary names the pseudonym instead of the address" --arg h "$h"
# The shared history (Redis) keys senders by pseudonym too: alice's
# authenticated relay above wrote s:<pseudonym>, not s:alice@...
for _ in $(seq 50); do
	n=$(rd_e2e_redis_cli --scan --pattern 'relaydiag:h:s:h:*' | wc -l)
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
rd_assert_ok "hashing on: the history in Redis keys senders by pseudonym" test "$n" -ge 1
rd_e2e_stop_milter
rd_e2e_start_milter "RedisURL $RD_REDIS_URL"
rd_e2e_restart_postfix

# ---------------------------------------------------- 8. relaydiag-report
stream_dump
"$REPORT" --redis "$RD_REDIS_URL" --stream "$STREAM" --top 1000 >"$RD_E2E_DIR/report.txt" 2>&1
rd_assert_eq "$?" 0 "relaydiag-report exits 0 on the stream"
for id in relay.no-auth relay.client-on-port-25 relay.authorized-sasl; do
	rd_assert_grep "$RD_E2E_DIR/report.txt" "^  $id +[0-9]+ +[0-9]+ " "report: diagnosis $id in the table"
done
rd_assert_grep "$RD_E2E_DIR/report.txt" "^  127\.0\.0\.1 +[0-9]+ +[0-9]+ +relay\." "report: top clients"
rd_assert_grep "$RD_E2E_DIR/report.txt" "^  s-out1@client\.test +1 +1$" "report: top senders (dedupe: out1's replayed events counted once)"
rd_assert_grep "$RD_E2E_DIR/report.txt" "^  mx\.relaydiag\.test +dropped [0-9]+ +spooled [0-9]+" "report: the sink's counters"
rd_assert_grep "$RD_E2E_DIR/report.txt" 'relaydiag report: [0-9]+ events from redis 127\.0\.0\.1' "report: the header says where from"
rd_assert_ok "report: control characters from the network are escaped" \
	bash -c "! grep -qP '[\\x00-\\x08\\x0b-\\x1f\\x7f]' '$RD_E2E_DIR/report.txt'"
"$REPORT" --file "$S" --top 1000 >"$RD_E2E_DIR/report-file.txt" 2>&1
rd_assert_ok "report --file (JSON Lines) gives the same diagnosis table" \
	bash -c "diff <(sed -n '/^Diagnoses/,/^\$/p' '$RD_E2E_DIR/report.txt') <(sed -n '/^Diagnoses/,/^\$/p' '$RD_E2E_DIR/report-file.txt')"
"$REPORT" --redis "$RD_REDIS_URL" --follow --group reportgrp --consumer r1 --max-time 6 \
	>"$RD_E2E_DIR/report-follow.txt" 2>&1 &
rpid=$!
sleep 1
relay follow1
rd_e2e_swaks --helo UserPC --from carl@client.test --to follow2@gmail.test --quit-after RCPT
wait "$rpid"
rd_assert_grep "$RD_E2E_DIR/report-follow.txt" ' none +relay\.no-auth +127\.0\.0\.1 +s-follow1@client\.test -> follow1@gmail\.test \[reject 5\.7\.1\]' \
	"report --follow: one live line per recipient decision"
rd_assert_grep "$RD_E2E_DIR/report-follow.txt" 'relay\.client-on-port-25 +1 +1 ' "report --follow: then the summary of what it saw"
rd_assert_eq "$(rd_e2e_redis_cli XPENDING "$STREAM" reportgrp | head -1)" 0 "report --group acknowledges what it counted"
printf '{"schema":"relaydiag.event/1","type":"rcpt","id":"torn' >>"$S"
"$REPORT" --file "$S" >"$RD_E2E_DIR/report-torn.txt" 2>&1
rd_assert_grep "$RD_E2E_DIR/report-torn.txt" '\(1 entries that are not relaydiag events skipped\)' "report --file skips a torn last line"

# ---------------------------------------------------------------- the end
stream_dump
rd_assert_ok "all $(wc -l <"$S") events of the stream valid against the schema" "$CHECK" "$S"
rd_e2e_finish
