# tests/e2e/lib/proc.sh - processes (each daemon in its own session, stopped and reaped) and the run directory, the exit trap, init and finish.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

# ------------------------------------------------------------- processes --

_rd_my_sid() { ps -o sid= -p $$ | tr -d ' '; }

_rd_session_pids() {	# SID: live (non-zombie) processes of that session
	ps -e -o pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ { print $1 }'
}

# _rd_spawn NAME LOG CMD...: CMD in the background in a new session, stdin
# /dev/null, stdout+stderr appended to LOG; sets _RD_SID[NAME]; echoes nothing.
_rd_spawn() {
	local name=$1 log=$2 pid sid i
	shift 2
	setsid "$@" </dev/null >>"$log" 2>&1 7>&- &
	pid=$!
	_RD_CHILDREN+=("$pid")
	for ((i = 0; i < 100; i++)); do
		sid=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')
		[ "$sid" = "$pid" ] && break
		[ -z "$sid" ] && break
		sleep 0.01
	done
	if [ "$sid" != "$pid" ]; then
		# setsid forked (we run with job control?) or the command died
		rd_e2e_bail "$name: could not start $* in its own session (pid $pid, sid '${sid}'); see $log"
	fi
	_RD_SID[$name]=$pid
}

# _rd_stop_session NAME [GRACE_SECONDS [leader|all]]: SIGTERM the session
# leader (or every process of the session), wait GRACE, then SIGTERM the
# whole session, then SIGKILL; 1 if anything survived.
_rd_session_gone() { [ -z "$(_rd_session_pids "$1")" ]; }	# SID

_rd_stop_session() {
	local name=$1 grace=${2:-10} who=${3:-leader} sid pids
	sid=${_RD_SID[$name]:-}
	[ -n "$sid" ] || return 0
	unset '_RD_SID[$name]'
	if [ "$sid" = "$(_rd_my_sid)" ] || [ "$sid" -le 1 ]; then
		rd_diag "refusing to signal session $sid ($name): it is ours"
		return 1
	fi
	if [ "$who" = all ]; then
		# shellcheck disable=SC2046
		kill -TERM $(_rd_session_pids "$sid") 2>/dev/null || true
	else
		kill -TERM "$sid" 2>/dev/null || true
	fi
	rd_wait "$grace" 0.05 _rd_session_gone "$sid" || true
	pids=$(_rd_session_pids "$sid")
	if [ -n "$pids" ]; then
		rd_diag "$name: still running after ${grace}s: ${pids//$'\n'/ }; SIGTERM to all, then SIGKILL"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		sleep 1
		pids=$(_rd_session_pids "$sid")
		# shellcheck disable=SC2086
		[ -n "$pids" ] && { kill -KILL $pids 2>/dev/null || true; }
		sleep 0.2
	fi
	_rd_reap
	pids=$(_rd_session_pids "$sid")
	if [ -n "$pids" ]; then
		rd_diag "$name: processes left behind: $(ps -o pid=,args= -p "${pids//$'\n'/,}")"
		return 1
	fi
	return 0
}

_rd_reap() {	# collect our exited children without "Terminated" noise
	local p keep=()
	for p in "${_RD_CHILDREN[@]}"; do
		if kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" | cut -c1)" != Z ]; then
			keep+=("$p")
		else
			{ wait "$p"; } 2>/dev/null || true
		fi
	done
	_RD_CHILDREN=("${keep[@]}")
}

_rd_port_in_use() {	# PORT on 127.0.0.1 (or any address)
	[ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]
}

# rd_free_port: a port nothing listens on, below the kernel's ephemeral
# range. A port inside it can be any outgoing connection's source port; a
# client retrying a closed port there (relaydiag while "Redis is gone") can
# even connect to itself (TCP simultaneous open) and then hold the port
# that Redis is about to bind.
rd_free_port() {
	local lo hi p
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	hi=$((lo - 1))
	[ "$hi" -gt 32767 ] && hi=32767
	[ "$hi" -ge 21000 ] || rd_e2e_bail "ephemeral ports start at $lo: no room below them"
	for _ in $(seq 30); do
		p=$((20000 + RANDOM % (hi - 20000 + 1)))
		_rd_port_in_use "$p" || { echo "$p"; return 0; }
	done
	rd_e2e_bail "no free port in 20000-$hi"
}

# ----------------------------------------------------------- run dir/exit --

_rd_dump_logs() {
	local f n=40
	[ "${RD_E2E_VERBOSE:-0}" = 1 ] && n=100000
	for f in maillog dovecot.log relaydiag.log redis.log; do
		[ -s "$RD_E2E_DIR/$f" ] || continue
		printf '# ---- %s (last %s lines) ----\n' "$RD_E2E_DIR/$f" "$n" >&7
		tail -n "$n" "$RD_E2E_DIR/$f" | sed 's/^/#   /' >&7
	done
}

_rd_stop_all() {
	local ok=0 name
	_rd_stop_postfix_quiet || ok=1
	_rd_stop_session remote 10 || ok=1
	_rd_stop_milter_quiet || ok=1
	# Dovecot's master alone takes 1-2 s to stop; all at once: 40 ms
	_rd_stop_session dovecot 10 all || ok=1
	_rd_stop_session redis 10 || ok=1
	# whatever else a test started with _rd_spawn (dashboard, prometheus)
	for name in "${!_RD_SID[@]}"; do
		_rd_stop_session "$name" 10 || ok=1
	done
	_rd_reap
	return $ok
}

_rd_on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	if ! _rd_stop_all; then
		printf 'not ok - harness: every daemon stopped\n' >&7
		RD_FAILED=$((RD_FAILED + 1))
		rc=1
	fi
	if [ "$_RD_FINISHED" != 1 ]; then
		if [ "$_RD_BAILED" != 1 ]; then
			printf 'not ok - harness: the test script ended (exit status %s) before rd_e2e_finish\n' "$rc" >&7
			RD_FAILED=$((RD_FAILED + 1))
		fi
		printf '%d passed, %d failed\n' "$RD_PASSED" "$RD_FAILED" >&7
		[ $rc -eq 0 ] && rc=1
	fi
	if [ -n "${RD_E2E_DIR:-}" ] && [ -d "$RD_E2E_DIR" ]; then
		if [ $rc -eq 0 ] && [ "$RD_FAILED" -eq 0 ]; then
			if [ "${RD_KEEP:-0}" = 1 ] || [ "$_RD_OWN_DIR" != 1 ]; then
				printf '# run directory kept: %s\n' "$RD_E2E_DIR" >&7
			else
				rm -rf -- "$RD_E2E_DIR"
			fi
		else
			_rd_dump_logs
			printf '# FAILED; run directory kept: %s\n' "$RD_E2E_DIR" >&7
		fi
	fi
	exit $rc
}

rd_e2e_finish() {
	local dt rt
	# The events of the run, byte for byte as jansson writes them (the
	# streaming writer's oracle, tests/tools/json_roundtrip.c).
	if [ -s "${RD_EVENTS:-}" ]; then
		rt=${RD_JSON_ROUNDTRIP:-$RD_SRC/build/tests/rd-json-roundtrip}
		if [ -x "$rt" ]; then
			rd_assert_ok "every event of the run is byte for byte what jansson writes" \
				"$rt" "$RD_EVENTS"
		else
			rd_fail "harness: $rt missing (build the tests, or set RD_JSON_ROUNDTRIP)"
		fi
	fi
	dt=$(awk -v a="$_RD_T0" -v b="$(_rd_now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
	_RD_FINISHED=1
	[ "$RD_PASSED" -eq 0 ] && [ "$RD_FAILED" -eq 0 ] &&
		rd_fail "harness: at least one assertion ran"
	printf '# %s: %ss\n' "$(basename "$0")" "$dt" >&7
	printf '%d passed, %d failed\n' "$RD_PASSED" "$RD_FAILED" >&7
	[ "$RD_FAILED" -eq 0 ] && exit 0
	exit 1
}

rd_e2e_init() {
	[ -n "${_RD_T0:-}" ] && return 0
	_RD_T0=$(_rd_now_us)
	trap _rd_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	[ "$(id -u)" = 0 ] || rd_e2e_bail "the end-to-end tests must run as root (uid is $(id -u))"
	[[ $- == *m* ]] && rd_e2e_bail "do not run with job control (set -m): daemons must get their own session"
	local c missing=()
	for c in postfix postconf dovecot swaks jq openssl perl setsid setpriv ss ps awk; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ ${#missing[@]} -eq 0 ] ||
		rd_e2e_bail "missing command(s): ${missing[*]} (packages: postfix dovecot-core swaks jq openssl util-linux iproute2 procps)"
	perl -MIO::Socket::SSL -e 1 2>/dev/null || perl -MNet::SSLeay -e 1 2>/dev/null ||
		rd_e2e_bail "swaks cannot do STARTTLS: install libnet-ssleay-perl"
	getent passwd postfix >/dev/null || rd_e2e_bail "no user postfix (package postfix)"

	RD_SRC=${RD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
	RELAYDIAG_BIN=${RELAYDIAG_BIN:-$RD_SRC/build/milter/relaydiag}
	export RD_SRC RELAYDIAG_BIN

	if [ -n "${RD_E2E_DIR:-}" ]; then
		if [ -e "$RD_E2E_DIR" ]; then
			[ -d "$RD_E2E_DIR" ] && [ -z "$(ls -A "$RD_E2E_DIR")" ] ||
				rd_e2e_bail "RD_E2E_DIR=$RD_E2E_DIR exists and is not an empty directory"
		else
			mkdir -p "$RD_E2E_DIR" || rd_e2e_bail "cannot create RD_E2E_DIR=$RD_E2E_DIR"
			_RD_OWN_DIR=1
		fi
		RD_E2E_DIR=$(cd "$RD_E2E_DIR" && pwd -P)
	else
		RD_E2E_DIR=$(mktemp -d /tmp/rd-e2e.XXXXXX) || rd_e2e_bail "mktemp failed"
		_RD_OWN_DIR=1
	fi
	export RD_E2E_DIR
	chmod 0755 "$RD_E2E_DIR"
	setpriv --reuid=postfix --regid=postfix --init-groups test -x "$RD_E2E_DIR" ||
		rd_e2e_bail "user postfix cannot reach $RD_E2E_DIR (a parent directory is not searchable)"
	# unix socket paths must fit in sun_path (108 bytes)
	[ ${#RD_E2E_DIR} -le 60 ] || rd_e2e_bail "run directory path too long for unix sockets: $RD_E2E_DIR"
	mkdir -p "$RD_E2E_DIR/swaks"

	RD_E2E_MX_PORT=${RD_E2E_MX_PORT:-2525}
	RD_E2E_SUBMISSION_PORT=${RD_E2E_SUBMISSION_PORT:-2587}
	RD_TRUSTED_IP=127.0.0.100
	RD_PROBE_IP=127.0.0.254
	RD_ALICE_USER=alice@example.test RD_ALICE_PASS=alice-Secret-1
	RD_BOB_USER=bob@example.test RD_BOB_PASS=bob-Secret-2
	RD_MAILLOG=$RD_E2E_DIR/maillog
	RD_POSTFIX_CONF=$RD_E2E_DIR/postfix/conf
	RD_MAILDIR_BASE=$RD_E2E_DIR/mail
	RD_DOVECOT_LOG=$RD_E2E_DIR/dovecot.log
	RD_SASL_SOCKET=$RD_E2E_DIR/dovecot/auth-postfix
	RD_EVENTS=$RD_E2E_DIR/events.jsonl
	RD_MILTER_CONF=$RD_E2E_DIR/relaydiag.conf
	RD_MILTER_LOG=$RD_E2E_DIR/relaydiag.log
	export RD_E2E_MX_PORT RD_E2E_SUBMISSION_PORT RD_TRUSTED_IP RD_PROBE_IP \
		RD_ALICE_USER RD_ALICE_PASS RD_BOB_USER RD_BOB_PASS RD_MAILLOG \
		RD_POSTFIX_CONF RD_MAILDIR_BASE RD_DOVECOT_LOG RD_SASL_SOCKET \
		RD_EVENTS RD_MILTER_CONF RD_MILTER_LOG
	rd_diag "run directory: $RD_E2E_DIR"
}
