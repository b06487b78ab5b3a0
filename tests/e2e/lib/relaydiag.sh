# tests/e2e/lib/relaydiag.sh - Redis and relaydiag: start, stop, reload.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

# ----------------------------------------------------------------- redis --

rd_e2e_start_redis() {
	[ -n "${_RD_SID[redis]:-}" ] && return 0
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		rd_e2e_bail "redis-server/redis-cli missing (package redis-server)"
	local d=$RD_E2E_DIR/redis log=$RD_E2E_DIR/redis.log port dl
	mkdir -p "$d"
	RD_REDIS_SOCKET=$d/redis.sock
	for _ in 1 2 3 4 5 6 7 8; do
		port=$(rd_free_port) || exit 1
		: >"$log"
		_rd_spawn redis "$log" redis-server --bind 127.0.0.1 --port "$port" \
			--unixsocket "$RD_REDIS_SOCKET" --unixsocketperm 777 \
			--save '' --appendonly no --dir "$d" --daemonize no \
			--logfile "" --loglevel notice
		rd_wait 5 0.05 _rd_while_alive "${_RD_SID[redis]}" _rd_redis_pong "$port"
		case $? in
		0)
			RD_REDIS_PORT=$port
			RD_REDIS_URL=redis://127.0.0.1:$port
			export RD_REDIS_PORT RD_REDIS_URL RD_REDIS_SOCKET
			return 0 ;;
		1) rd_e2e_bail "redis: no PONG on port $port after 5 s" ;;
		esac
		_rd_stop_session redis 2 || true
		grep -q 'Address already in use' "$log" || rd_e2e_bail "redis-server exited at startup"
	done
	rd_e2e_bail "redis: no free port found"
}

_rd_redis_pong() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

rd_e2e_redis_cli() {
	redis-cli -h 127.0.0.1 -p "${RD_REDIS_PORT:?rd_e2e_start_redis first}" "$@"
}

# rd_e2e_stream_dump [FILE]: the whole stream, one event per line, into
# FILE (default $RD_EVENTS): the jq helpers then read a Redis run as they
# read EventLog
rd_e2e_stream_dump() {
	# the "event" field's bytes as relaydiag wrote them (XRANGE, in pages)
	python3 -c 'import sys
sys.path.insert(0, sys.argv[1])
from relaydiag_tools.stream import Redis
r, key, start, out = Redis(sys.argv[2], 5), sys.argv[3], "-", sys.stdout.buffer
while True:
    page = r.call("XRANGE", key, start, "+", "COUNT", 1000) or []
    for sid, fields in page:
        d = dict(zip(fields[0::2], fields[1::2]))
        if b"event" in d:
            out.write(d[b"event"] + b"\n")
    if len(page) < 1000:
        break
    start = "(" + page[-1][0].decode()' "$RD_SRC/tools" "${RD_REDIS_URL:?rd_e2e_start_redis first}" \
		"${RD_STREAM:-relaydiag:events}" >"${1:-$RD_EVENTS}.tmp" &&
		mv "${1:-$RD_EVENTS}.tmp" "${1:-$RD_EVENTS}"
}

# ------------------------------------------------------------- relaydiag --

_rd_ensure_user() {
	getent passwd relaydiag >/dev/null && return 0
	if command -v adduser >/dev/null 2>&1; then
		adduser --system --group --no-create-home --home /nonexistent \
			--quiet relaydiag >/dev/null 2>&1 || true
	else
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin relaydiag || true
	fi
	getent passwd relaydiag >/dev/null || rd_e2e_bail "could not create the system user relaydiag"
}

rd_e2e_start_milter() {
	[ -n "${_RD_SID[relaydiag]:-}" ] && rd_e2e_bail "rd_e2e_start_milter: already running"
	local rd=$RD_E2E_DIR/rd sock line key keys=" " dl
	sock=$rd/relaydiag.sock
	_rd_ensure_user
	mkdir -p "$rd/spool"
	chown relaydiag:postfix "$rd" "$rd/spool"
	chmod 0750 "$rd"
	chmod 0700 "$rd/spool"
	[ -e "$RD_EVENTS" ] || : >"$RD_EVENTS"
	chown relaydiag:postfix "$RD_EVENTS"
	chmod 0644 "$RD_EVENTS"

	for line in "$@"; do
		key=${line%%[[:space:]]*}
		keys+="${key,,} "
	done
	{
		echo "# relaydiag e2e configuration (tests/e2e/lib.sh)"
		while IFS= read -r line; do
			key=${line%%[[:space:]]*}
			[[ $keys == *" ${key,,} "* ]] || printf '%s\n' "$line"
		done <<EOF
Socket local:$sock
SocketMode 0660
UserID relaydiag:postfix
EventLog $RD_EVENTS
SpoolDir $rd/spool
LocalDomains example.test
TrustedNetworks $RD_TRUSTED_IP/32
SubmissionPorts $RD_E2E_SUBMISSION_PORT
Mode observe
EOF
		if [ $# -gt 0 ]; then
			printf '%s\n' "$@"
		fi
	} >"$RD_MILTER_CONF"

	RD_MILTER=unix:$sock
	export RD_MILTER
	if [ "${RD_FAKE_MILTER:-0}" = 1 ]; then
		rd_diag "RD_FAKE_MILTER=1: relaydiag not started; Postfix will find no milter at $RD_MILTER"
		return 0
	fi
	[ -x "$RELAYDIAG_BIN" ] ||
		rd_e2e_bail "relaydiag binary not found: $RELAYDIAG_BIN (build: cmake -S $RD_SRC -B $RD_SRC/build && cmake --build $RD_SRC/build; or set RELAYDIAG_BIN)"
	rm -f "$sock"
	_rd_spawn relaydiag "$RD_MILTER_LOG" "$RELAYDIAG_BIN" -f -c "$RD_MILTER_CONF"
	RD_MILTER_PID=${_RD_SID[relaydiag]}
	export RD_MILTER_PID
	rd_wait 10 0.05 _rd_while_alive "$RD_MILTER_PID" test -S "$sock"
	case $? in
	1) rd_e2e_bail "relaydiag: no socket $sock after 10 s" ;;
	2) rd_e2e_bail "relaydiag exited at startup (see relaydiag.log below)" ;;
	esac
	setpriv --reuid=postfix --regid=postfix --init-groups test -r "$sock" -a -w "$sock" ||
		rd_e2e_bail "user postfix cannot connect to $sock: $(ls -ld "$rd" "$sock" | tr '\n' ' ')"
	return 0
}

# libmilter notices a stop request only when its accept loop wakes up: 5 s
# after SIGTERM when idle (measured), 70 ms when a connection arrives. So:
# SIGTERM, then a bare connect to the socket every 0.25 s until it is gone.
_rd_stop_milter_quiet() {
	local sid=${_RD_SID[relaydiag]:-} sock=${RD_MILTER#unix:}
	[ -n "$sid" ] || return 0
	kill -TERM "$sid" 2>/dev/null || true
	rd_wait 10 0.25 _rd_milter_gone "$sid" "$sock" || true
	RD_MILTER_PID=
	_rd_stop_session relaydiag 1
}

# _rd_milter_gone SID SOCK: the session is gone; else wake the accept loop
_rd_milter_gone() {
	_rd_session_gone "$1" && return 0
	if [ -S "$2" ]; then
		perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => $ARGV[0])' \
			"$2" 2>/dev/null || true
	fi
	return 1
}

rd_e2e_stop_milter() {
	_rd_stop_milter_quiet || rd_e2e_bail "relaydiag: processes left behind"
}

# rd_e2e_milter_alive DESC: passes when relaydiag is still the process
# started, and its filter never died: a restart by AutoRestart would hide
# a crash from a bare "kill -0", so the log is read too.
rd_e2e_milter_alive() {
	if kill -0 "$RD_MILTER_PID" 2>/dev/null &&
		[ "$(ps -o stat= -p "$RD_MILTER_PID" | cut -c1)" != Z ] &&
		! grep -q 'AutoRestart: the filter process' "$RD_MILTER_LOG"; then
		rd_pass "$1"
	else
		rd_fail "$1" "relaydiag (pid $RD_MILTER_PID) is gone, or its filter process died"
		_rd_context_file "$RD_MILTER_LOG" 30
	fi
}

rd_e2e_reload_milter() {
	[ -n "${_RD_SID[relaydiag]:-}" ] || rd_e2e_bail "rd_e2e_reload_milter: relaydiag is not running"
	kill -USR1 "${_RD_SID[relaydiag]}"
}
