# shellcheck shell=bash
#
# tests/e2e/lib.sh - end-to-end harness: a private Postfix (+ Dovecot SASL),
# optionally Redis and relaydiag, all on loopback, all inside one run
# directory, all stopped when the test script exits.
#
# Usage (a test script, run as root with bash; ctest runs tests/e2e/t_*.sh):
#
#     . "$(dirname "$0")/lib.sh"        # checks prerequisites, makes the run dir
#     rd_e2e_start_redis                 # optional
#     rd_e2e_start_milter "RedisURL redis://127.0.0.1:$RD_REDIS_PORT"   # optional
#     rd_e2e_start_postfix               # reads RD_MILTER: start the milter first
#     rd_e2e_swaks --to bob@gmail.test --quit-after RCPT
#     rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1" "relay refused"
#     rd_e2e_wait_for "$RD_EVENTS" '.rcpt == "bob@gmail.test"' 5
#     rd_assert_jq "$RD_EVENTS" '.rcpt == "bob@gmail.test"' "event written"
#     rd_e2e_finish                      # "N passed, M failed"; exit status
#
# Sourcing the file runs rd_e2e_init: it FAILS (exit 1, "Bail out!") when
# the test cannot run (not root, a command missing); nothing is skipped.
# A script that ends without rd_e2e_finish fails too.
#
# The instance (run directory RUN = $RD_E2E_DIR):
#   Postfix  127.0.0.1:$RD_E2E_MX_PORT (2525, port-25-like, syslog_name postfix)
#            127.0.0.1:$RD_E2E_SUBMISSION_PORT (2587, syslog_name
#            postfix/submission); STARTTLS "may" on both (self-signed cert
#            in RUN/tls), AUTH (Dovecot SASL) offered on both.
#            myhostname mx.relaydiag.test; mynetworks 127.0.0.100/32 only:
#            connect from 127.0.0.1 (or 127.0.0.5 ...) to be an untrusted
#            client, --local-interface 127.0.0.100 to be a trusted one.
#            smtpd_relay_restrictions = permit_mynetworks,
#            permit_sasl_authenticated, reject_unauth_destination.
#            example.test is a virtual mailbox domain with alice@ and bob@
#            delivered for real to maildirs under RUN/mail; any other
#            recipient (a relay that was allowed) goes to the discard
#            transport: nothing leaves the machine. No reverse DNS lookups
#            (smtpd_peername_lookup = no: clients are "unknown[ip]").
#   Dovecot  auth only, users $RD_ALICE_USER/$RD_ALICE_PASS and
#            $RD_BOB_USER/$RD_BOB_PASS (PLAIN, LOGIN).
#   The ports are fixed: one e2e test at a time on a machine (ctest runs
#   them RUN_SERIAL); rd_e2e_start_postfix bails if a port is taken.
#   Harness probes (banner checks) connect from 127.0.0.254: ignore that
#   client in events.
#
# Functions
#   rd_e2e_init                  run by sourcing; idempotent
#   rd_e2e_start_postfix [LINE...]
#                                start Postfix (and Dovecot) ; each LINE is
#                                appended to main.cf ("name = value"; the
#                                last definition of a parameter wins, so a
#                                LINE overrides the defaults). Waits for a
#                                220 banner on both ports (bounded) or bails
#                                with the maillog.
#   rd_e2e_stop_postfix          stop Postfix (every process of the instance)
#   rd_e2e_restart_postfix [LINE...]
#                                stop + start with these LINEs (the previous
#                                LINEs are forgotten); the queue and the
#                                delivered mail are kept. Re-reads RD_MILTER,
#                                RD_MILTER_DEFAULT_ACTION, RD_E2E_TLS_AUTH_ONLY ...
#   rd_e2e_postconf ARGS...      postconf against the private instance
#   rd_e2e_start_redis           private redis-server (no persistence) on a
#                                free 127.0.0.1 port and a unix socket;
#                                exports RD_REDIS_PORT, RD_REDIS_URL,
#                                RD_REDIS_SOCKET
#   rd_e2e_redis_cli ARGS...     redis-cli against it
#   rd_e2e_start_milter [LINE...]
#                                write RUN/relaydiag.conf (defaults below,
#                                then LINEs; a LINE whose key matches a
#                                default key replaces that default) and run
#                                "$RELAYDIAG_BIN -f -c RUN/relaydiag.conf"
#                                (output in RUN/relaydiag.log); waits for the
#                                socket and checks that user postfix can
#                                connect to it; exports RD_MILTER. With
#                                RD_FAKE_MILTER=1 everything but the daemon:
#                                Postfix then finds no milter on RD_MILTER.
#                                Defaults:
#                                  Socket local:RUN/rd/relaydiag.sock
#                                  SocketMode 0660
#                                  UserID relaydiag:postfix
#                                  EventLog RUN/events.jsonl
#                                  SpoolDir RUN/rd/spool
#                                  LocalDomains example.test
#                                  TrustedNetworks 127.0.0.100/32
#                                  SubmissionPorts 2587
#                                  Mode observe
#   rd_e2e_stop_milter           SIGTERM, then a bare connect to the socket
#                                every 0.25 s (libmilter otherwise notices
#                                the stop only after 5 s), bounded wait,
#                                then SIGKILL
#   rd_e2e_reload_milter         SIGUSR1
#   rd_e2e_swaks ARGS...         swaks with defaults --server 127.0.0.1
#                                --port 2525 --from sender@client.test
#                                --helo client.test --timeout 15 (ARGS
#                                override them: swaks keeps the last);
#                                transcript in $RD_TRANSCRIPT (a new file
#                                RUN/swaks/NNN.txt, command line in .cmd),
#                                swaks' exit code in $RD_SWAKS_RC; always
#                                returns 0 (safe under set -e). Do not call
#                                it in $(...): the variables would be lost.
#   rd_e2e_wait_for FILE JQ_FILTER TIMEOUT [JQ_ARGS...]
#                                poll (every 0.1 s) until a line of the JSON
#                                Lines FILE makes JQ_FILTER truthy; returns
#                                0, or 1 after TIMEOUT seconds (decimals ok)
#   rd_e2e_jq_count FILE JQ_FILTER [JQ_ARGS...]
#                                prints how many lines match
#   rd_e2e_wait_maillog ERE TIMEOUT
#                                poll the maillog for an extended regexp
#   rd_e2e_delivered_message [ADDRESS]
#                                path of the most recently delivered message
#                                (for ADDRESS, else any example.test mailbox);
#                                returns 1 when there is none
#   rd_e2e_delivered_count [ADDRESS]
#   rd_e2e_wait_delivered COUNT TIMEOUT [ADDRESS]
#                                poll until at least COUNT messages delivered
#   rd_assert_contains FILE TEXT [DESC]      fixed string
#   rd_assert_not_contains FILE TEXT [DESC]
#   rd_assert_grep FILE ERE [DESC]           extended regexp
#   rd_assert_jq FILE JQ_FILTER DESC [JQ_ARGS...]
#                                passes when some line of the JSON Lines
#                                FILE makes JQ_FILTER truthy (lines that are
#                                not JSON are ignored, and counted in the
#                                failure context); JQ_ARGS e.g. --arg x y
#   rd_assert_jq_count FILE JQ_FILTER COUNT DESC [JQ_ARGS...]
#                                exactly COUNT lines match
#   rd_assert_eq GOT EXPECTED DESC
#   rd_assert_ok DESC CMD [ARGS...]          CMD exits 0
#   rd_pass DESC / rd_fail DESC [CONTEXT...] record a result by hand
#   rd_diag TEXT...              print "# TEXT"
#   rd_e2e_bail TEXT...          the test cannot run: "Bail out!", exit 1
#   rd_e2e_finish                print "N passed, M failed"; exit 1 if any
#                                failed or none ran, else 0
# Every assertion prints "ok - DESC" or "not ok - DESC" followed by
# "#   " context lines (the file and its content, the values ...).
# Assertions never abort the script. Under set -e, the wait functions and
# rd_e2e_delivered_message return 1 on timeout / nothing: add "|| true"
# where that is expected. Harness output goes to the test's stdout even
# from inside $(...) (fd 7).
#
# Variables (set before sourcing / before the start function to change them)
#   RD_SRC                   repo root (default: two levels above this file)
#   RELAYDIAG_BIN            default $RD_SRC/build/milter/relaydiag
#   RD_E2E_DIR               run directory; default mktemp -d /tmp/rd-e2e.XXXXXX.
#                            If set, it must be absent or empty; a directory
#                            that existed before is never removed.
#   RD_KEEP=1                keep the run directory even on success
#   RD_E2E_VERBOSE=1         dump whole logs on failure (default: last 40 lines)
#   RD_FAKE_MILTER=1         rd_e2e_start_milter does not start relaydiag
#   RD_MILTER                smtpd_milters ("unix:/path"); empty = none
#   RD_MILTER_DEFAULT_ACTION milter_default_action (default tempfail)
#   RD_E2E_TLS_AUTH_ONLY     smtpd_tls_auth_only on both listeners (default no)
#   RD_E2E_MX_AUTH           offer AUTH on the MX port too (default yes)
#   RD_E2E_MX_OPTS, RD_E2E_SUBMISSION_OPTS
#                            extra master.cf "-o name=value" words per listener
#                            (e.g. "-o milter_macro_daemon_name=ORIGINATING")
#   RD_E2E_MX_PORT (2525), RD_E2E_SUBMISSION_PORT (2587)
# Exported by the harness
#   RD_E2E_DIR, RD_MAILLOG (RUN/maillog), RD_POSTFIX_CONF (config dir),
#   RD_MAILDIR_BASE (RUN/mail), RD_DOVECOT_LOG (RUN/dovecot.log),
#   RD_SASL_SOCKET, RD_EVENTS (RUN/events.jsonl), RD_MILTER_CONF,
#   RD_MILTER_LOG (RUN/relaydiag.log), RD_MILTER_PID, RD_REDIS_*,
#   RD_TRUSTED_IP (127.0.0.100), RD_PROBE_IP (127.0.0.254),
#   RD_ALICE_USER/RD_ALICE_PASS, RD_BOB_USER/RD_BOB_PASS,
#   RD_TRANSCRIPT, RD_SWAKS_RC (after rd_e2e_swaks).
#
# Logs on failure: the run directory is kept and its path printed; the
# last lines of RUN/maillog, RUN/dovecot.log, RUN/relaydiag.log and
# RUN/redis.log are printed as "#" lines. Swaks transcripts: RUN/swaks/.
#
# Processes: every daemon runs in its own session (setsid; Postfix's master
# makes its own); cleanup (an EXIT trap; INT/TERM/HUP exit through it)
# signals each session, waits, SIGKILLs what is left, and fails the test if
# anything survives. Nothing outside the run directory is touched except the
# system user "relaydiag" (created once by rd_e2e_start_milter).

if [ -n "${_RD_E2E_LIB_LOADED:-}" ]; then
	return 0
fi
_RD_E2E_LIB_LOADED=1

# ---------------------------------------------------------------- output --

RD_PASSED=0
RD_FAILED=0
_RD_FINISHED=0
_RD_BAILED=0
_RD_OWN_DIR=0
_RD_SWAKS_N=0
declare -A _RD_SID=()		# name -> session id of a running daemon
_RD_CHILDREN=()			# pids of our direct children (to reap)

# fd 7 is the test's stdout, also inside $(...); daemons never inherit it.
exec 7>&1

rd_diag() {
	local l
	while IFS= read -r l; do
		printf '# %s\n' "$l" >&7
	done <<<"$*"
}

_rd_context() {		# lines of context under a "not ok"
	local l
	for l in "$@"; do
		printf '%s\n' "$l"
	done | sed 's/^/#   /' >&7
}

_rd_context_file() {	# FILE [MAXLINES]
	local f=$1 max=${2:-60}
	if [ ! -e "$f" ]; then
		_rd_context "$f: no such file"
		return
	fi
	local n
	n=$(wc -l <"$f")
	[ -f "$f.cmd" ] && _rd_context "command: $(cat "$f.cmd")"
	_rd_context "$f ($n lines$( [ "$n" -gt "$max" ] && echo ", last $max")):"
	tail -n "$max" "$f" | tr -d '\r' | sed 's/^/#     /' >&7
}

rd_pass() {
	RD_PASSED=$((RD_PASSED + 1))
	printf 'ok - %s\n' "$1" >&7
}

rd_fail() {
	RD_FAILED=$((RD_FAILED + 1))
	printf 'not ok - %s\n' "$1" >&7
	shift
	[ $# -gt 0 ] && _rd_context "$@"
	return 0
}

rd_e2e_bail() {
	_RD_BAILED=1
	RD_FAILED=$((RD_FAILED + 1))
	printf 'not ok - harness: %s\n' "$*" >&7
	printf 'Bail out! %s\n' "$*" >&7
	exit 1
}

# ------------------------------------------------------------ assertions --

rd_assert_contains() {
	local f=$1 text=$2 desc=${3:-"$1 contains \"$2\""}
	if [ -f "$f" ] && grep -qF -- "$text" "$f"; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "expected to find: $text"
		_rd_context_file "$f"
	fi
}

rd_assert_not_contains() {
	local f=$1 text=$2 desc=${3:-"$1 does not contain \"$2\""}
	if [ -f "$f" ] && ! grep -qF -- "$text" "$f"; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "expected NOT to find: $text"
		_rd_context_file "$f"
	fi
}

rd_assert_grep() {
	local f=$1 re=$2 desc=${3:-"$1 matches /$2/"}
	if [ -f "$f" ] && grep -qE -- "$re" "$f"; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "expected a line matching: $re"
		_rd_context_file "$f"
	fi
}

rd_assert_eq() {
	local got=$1 exp=$2 desc=${3:-"value is \"$2\""}
	if [ "$got" == "$exp" ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "expected: $exp" "got:      $got"
	fi
}

rd_assert_ok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ $rc -eq 0 ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "command: $*" "exit status: $rc"
		[ -n "$out" ] && _rd_context "$out"
	fi
}

# _rd_jq_select FILE FILTER [JQ_ARGS...]: matching lines, compact; jq status
_rd_jq_select() {
	local f=$1 filter=$2
	shift 2
	jq -R -c "$@" "fromjson? | select($filter)" "$f"
}

rd_e2e_jq_count() {
	local f=$1 filter=$2
	shift 2
	[ -f "$f" ] || { echo 0; return 0; }
	_rd_jq_select "$f" "$filter" "$@" 2>/dev/null | wc -l
}

_rd_jq_fail_context() {	# FILE FILTER JQ_ARGS...
	local f=$1 filter=$2 err bad
	shift 2
	_rd_context "jq filter: $filter${*:+ (args: $*)}"
	if [ ! -f "$f" ]; then
		_rd_context "$f: no such file"
		return
	fi
	err=$(_rd_jq_select "$f" "$filter" "$@" 2>&1 >/dev/null) || true
	[ -n "$err" ] && _rd_context "jq error: $err"
	bad=$(jq -R -c 'fromjson? // empty | 1' "$f" 2>/dev/null | wc -l)
	bad=$(( $(wc -l <"$f") - bad ))
	[ "$bad" -gt 0 ] && _rd_context "$bad line(s) of $f are not JSON objects"
	_rd_context_file "$f" 20
	return 0
}

rd_assert_jq() {
	local f=$1 filter=$2 desc=${3:-"$1: some line matches $2"}
	shift 3 2>/dev/null || shift $#
	if [ -f "$f" ] && [ -n "$(_rd_jq_select "$f" "$filter" "$@" 2>/dev/null | head -n 1)" ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc"
		_rd_jq_fail_context "$f" "$filter" "$@"
	fi
}

rd_assert_jq_count() {
	local f=$1 filter=$2 want=$3 desc=${4:-"$1: $3 line(s) match $2"} n
	shift 4 2>/dev/null || shift $#
	n=$(rd_e2e_jq_count "$f" "$filter" "$@")
	if [ "$n" -eq "$want" ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "expected $want matching line(s), got $n"
		_rd_jq_fail_context "$f" "$filter" "$@"
	fi
}

# ----------------------------------------------------------------- waits --

_rd_now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

_rd_deadline_us() {	# TIMEOUT (seconds, decimals ok) -> absolute µs
	local t=$1
	[[ $t =~ ^[0-9]+([.][0-9]+)?$ ]] || rd_e2e_bail "bad timeout: $t"
	echo $(( $(_rd_now_us) + $(awk -v t="$t" 'BEGIN { printf "%d", t * 1000000 }') ))
}

rd_e2e_wait_for() {
	local f=$1 filter=$2 timeout=$3 dl
	shift 3
	dl=$(_rd_deadline_us "$timeout")
	while :; do
		if [ -f "$f" ] && [ -n "$(_rd_jq_select "$f" "$filter" "$@" 2>/dev/null | head -n 1)" ]; then
			return 0
		fi
		[ "$(_rd_now_us)" -ge "$dl" ] && break
		sleep 0.1
	done
	rd_diag "rd_e2e_wait_for: nothing matched $filter in $f after ${timeout}s"
	return 1
}

rd_e2e_wait_maillog() {
	local re=$1 timeout=$2 dl
	dl=$(_rd_deadline_us "$timeout")
	while :; do
		grep -qE -- "$re" "$RD_MAILLOG" 2>/dev/null && return 0
		[ "$(_rd_now_us)" -ge "$dl" ] && break
		sleep 0.1
	done
	rd_diag "rd_e2e_wait_maillog: no line matched /$re/ in $RD_MAILLOG after ${timeout}s"
	return 1
}

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
_rd_stop_session() {
	local name=$1 grace=${2:-10} who=${3:-leader} sid pids dl
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
	dl=$(_rd_deadline_us "$grace")
	while [ -n "$(_rd_session_pids "$sid")" ] && [ "$(_rd_now_us)" -lt "$dl" ]; do
		sleep 0.05
	done
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
	local ok=0
	_rd_stop_postfix_quiet || ok=1
	_rd_stop_milter_quiet || ok=1
	# Dovecot's master alone takes 1-2 s to stop; all at once: 40 ms
	_rd_stop_session dovecot 10 all || ok=1
	_rd_stop_session redis 10 || ok=1
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
	local dt
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

# --------------------------------------------------------------- dovecot --

_rd_start_dovecot() {
	[ -n "${_RD_SID[dovecot]:-}" ] && return 0
	local d=$RD_E2E_DIR/dovecot dl
	mkdir -p "$d/run" "$d/state"
	printf '%s:{PLAIN}%s::::::\n' "$RD_ALICE_USER" "$RD_ALICE_PASS" \
		"$RD_BOB_USER" "$RD_BOB_PASS" >"$d/users"
	chmod 0644 "$d/users"
	cat >"$d/dovecot.conf" <<EOF
# private Dovecot for the relaydiag e2e tests: SASL auth for Postfix only
instance_name = relaydiag-e2e
base_dir = $d/run
state_dir = $d/state
log_path = $RD_DOVECOT_LOG
protocols = none
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# failed AUTH: reply at once (500 ms granularity), and no per-IP penalty
# (2, 4, 8, 15 s after failures): anvil does not create the
# anvil-auth-penalty socket, auth finds none (ENOENT) and disables penalties
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener $RD_SASL_SOCKET {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
	_rd_spawn dovecot "$RD_DOVECOT_LOG" dovecot -F -c "$d/dovecot.conf"
	dl=$(_rd_deadline_us 10)
	until [ -S "$RD_SASL_SOCKET" ]; do
		[ -n "$(_rd_session_pids "${_RD_SID[dovecot]}")" ] ||
			rd_e2e_bail "dovecot exited at startup; see $RD_DOVECOT_LOG"
		[ "$(_rd_now_us)" -ge "$dl" ] &&
			rd_e2e_bail "dovecot: no auth socket $RD_SASL_SOCKET after 10 s"
		sleep 0.05
	done
}

# --------------------------------------------------------------- postfix --

_rd_write_postfix_config() {
	local p=$RD_E2E_DIR/postfix c=$RD_POSTFIX_CONF line
	mkdir -p "$c" "$p/queue" "$p/data" "$RD_MAILDIR_BASE" "$RD_E2E_DIR/tls"
	chown root:root "$p/queue"
	chmod 0755 "$p/queue"
	chown postfix:postfix "$p/data"
	chmod 0700 "$p/data"
	chown nobody:nogroup "$RD_MAILDIR_BASE"
	if [ ! -s "$RD_E2E_DIR/tls/cert.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -days 2 -subj "/CN=mx.relaydiag.test" \
			-addext "subjectAltName=DNS:mx.relaydiag.test" \
			-keyout "$RD_E2E_DIR/tls/key.pem" -out "$RD_E2E_DIR/tls/cert.pem" \
			>"$RD_E2E_DIR/tls/openssl.log" 2>&1 ||
			rd_e2e_bail "openssl could not make a certificate: $(cat "$RD_E2E_DIR/tls/openssl.log")"
		chmod 0600 "$RD_E2E_DIR/tls/key.pem"
	fi
	printf '%s example.test/%s/\n' \
		"$RD_ALICE_USER" "${RD_ALICE_USER%@*}" \
		"$RD_BOB_USER" "${RD_BOB_USER%@*}" >"$p/vmailbox"
	chmod 0644 "$p/vmailbox"

	local milter=${RD_MILTER:-} tao=${RD_E2E_TLS_AUTH_ONLY:-no} defaults
	local names=" " name
	# an extra line replaces the default of the same parameter (postconf
	# would warn "overriding earlier entry" on every command otherwise)
	for line in "$@"; do
		[[ $line =~ ^([A-Za-z0-9_]+)[[:space:]]*= ]] && names+="${BASH_REMATCH[1]} "
	done
	defaults=$(cat <<EOF
# private Postfix for the relaydiag e2e tests (written by tests/e2e/lib.sh)
compatibility_level = 3.6
queue_directory = $p/queue
data_directory = $p/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $RD_MAILLOG
maillog_file_prefixes = $RD_E2E_DIR
smtputf8_enable = no
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.relaydiag.test
mydomain = relaydiag.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
mynetworks = $RD_TRUSTED_IP/32
# nothing leaves the machine; example.test is delivered to maildirs
local_transport = discard
default_transport = discard
relay_transport = discard
virtual_mailbox_domains = example.test
virtual_mailbox_base = $RD_MAILDIR_BASE
virtual_mailbox_maps = texthash:$p/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $RD_SASL_SOCKET
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = may
smtpd_tls_cert_file = $RD_E2E_DIR/tls/cert.pem
smtpd_tls_key_file = $RD_E2E_DIR/tls/key.pem
smtpd_tls_auth_only = $tao
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_milters = $milter
milter_default_action = ${RD_MILTER_DEFAULT_ACTION:-tempfail}
milter_protocol = 6
EOF
)
	while IFS= read -r line; do
		name=
		[[ $line =~ ^([A-Za-z0-9_]+)[[:space:]]*= ]] && name=${BASH_REMATCH[1]}
		if [ -n "$name" ] && [[ $names == *" $name "* ]]; then
			printf '# %s: set below\n' "$name"
		else
			printf '%s\n' "$line"
		fi
	done <<<"$defaults" >"$c/main.cf"
	if [ $# -gt 0 ]; then
		printf '# extra lines (rd_e2e_start_postfix arguments)\n' >>"$c/main.cf"
		for line in "$@"; do
			printf '%s\n' "$line" >>"$c/main.cf"
		done
	fi

	local mxopts=${RD_E2E_MX_OPTS:-}
	[ "${RD_E2E_MX_AUTH:-yes}" = no ] && mxopts="-o smtpd_sasl_auth_enable=no $mxopts"
	cat >"$c/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$RD_E2E_MX_PORT inet n - n - - smtpd
  $mxopts
127.0.0.1:$RD_E2E_SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  ${RD_E2E_SUBMISSION_OPTS:-}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# Postfix will not read a main.cf (or a texthash: table) modified less
	# than 2 s ago: every command re-reads it in 300 ms steps until it is
	# old enough (about 2 s per start). Backdate what we just wrote.
	touch -d '-10 seconds' "$c/main.cf" "$c/master.cf" "$p/vmailbox"
}

rd_e2e_postconf() {
	postconf -c "$RD_POSTFIX_CONF" "$@"
}

# _rd_banner PORT TIMEOUT: 0 when a 220 banner arrives (then QUIT)
_rd_banner() {
	perl -MIO::Socket::INET -e '
		my ($port, $t, $src) = @ARGV;
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
			LocalAddr => $src, Timeout => $t) or exit 2;
		local $SIG{ALRM} = sub { exit 3 };
		alarm $t;
		my $l = <$s>;
		exit 4 unless defined $l && $l =~ /^220[ -]/;
		while ($l =~ /^220-/) { $l = <$s> // exit 4 }
		print $s "QUIT\r\n";
		<$s>;
		exit 0;' "$1" "$2" "$RD_PROBE_IP" 2>/dev/null
}

rd_e2e_start_postfix() {
	[ -n "${_RD_SID[postfix]:-}" ] && rd_e2e_bail "rd_e2e_start_postfix: already running (use rd_e2e_restart_postfix)"
	local port pidf=$RD_E2E_DIR/postfix/queue/pid/master.pid pid dl
	for port in "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT"; do
		_rd_port_in_use "$port" &&
			rd_e2e_bail "port $port is already in use (a Postfix left by an earlier run?): $(ss -Htlnp "( sport = :$port )")"
	done
	_rd_start_dovecot
	_rd_write_postfix_config "$@"
	rm -f "$pidf"
	# with maillog_file set, postfix(1)'s own fatal errors go to the maillog
	# (no need for a terminal); stderr gets postconf warnings
	if ! postfix -c "$RD_POSTFIX_CONF" start </dev/null \
		>>"$RD_E2E_DIR/postfix/start.log" 2>&1 7>&-; then
		rd_e2e_bail "postfix -c $RD_POSTFIX_CONF start failed: $(cat "$RD_E2E_DIR/postfix/start.log")"
	fi
	pid=$(tr -d ' \n' <"$pidf" 2>/dev/null) || true
	[ -n "$pid" ] || rd_e2e_bail "postfix started but wrote no $pidf"
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] ||
		rd_e2e_bail "postfix master (pid $pid) is not a session leader"
	_RD_SID[postfix]=$pid
	dl=$(_rd_deadline_us 15)
	for port in "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT"; do
		until _rd_banner "$port" 5; do
			grep -qE 'fatal:|panic:|throttling' "$RD_MAILLOG" 2>/dev/null &&
				rd_e2e_bail "postfix: a daemon failed at startup (see the maillog below)"
			[ "$(_rd_now_us)" -ge "$dl" ] &&
				rd_e2e_bail "postfix: no 220 banner on 127.0.0.1:$port within 15 s (see the maillog below)"
			sleep 0.1
		done
	done
	return 0
}

_rd_stop_postfix_quiet() {
	[ -n "${_RD_SID[postfix]:-}" ] || return 0
	# master's SIGTERM handler signals its process group, then exits
	_rd_stop_session postfix 10
}

rd_e2e_stop_postfix() {
	_rd_stop_postfix_quiet || rd_e2e_bail "postfix: processes left behind"
}

rd_e2e_restart_postfix() {
	rd_e2e_stop_postfix
	rd_e2e_start_postfix "$@"
}

# ----------------------------------------------------------------- redis --

rd_e2e_start_redis() {
	[ -n "${_RD_SID[redis]:-}" ] && return 0
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		rd_e2e_bail "redis-server/redis-cli missing (package redis-server)"
	local d=$RD_E2E_DIR/redis log=$RD_E2E_DIR/redis.log port dl
	mkdir -p "$d"
	RD_REDIS_SOCKET=$d/redis.sock
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		_rd_port_in_use "$port" && continue
		: >"$log"
		_rd_spawn redis "$log" redis-server --bind 127.0.0.1 --port "$port" \
			--unixsocket "$RD_REDIS_SOCKET" --unixsocketperm 777 \
			--save '' --appendonly no --dir "$d" --daemonize no \
			--logfile "" --loglevel notice
		dl=$(_rd_deadline_us 5)
		while :; do
			if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
				RD_REDIS_PORT=$port
				RD_REDIS_URL=redis://127.0.0.1:$port
				export RD_REDIS_PORT RD_REDIS_URL RD_REDIS_SOCKET
				return 0
			fi
			[ -n "$(_rd_session_pids "${_RD_SID[redis]}")" ] || break
			[ "$(_rd_now_us)" -ge "$dl" ] && rd_e2e_bail "redis: no PONG on port $port after 5 s"
			sleep 0.05
		done
		_rd_stop_session redis 2 || true
		grep -q 'Address already in use' "$log" || rd_e2e_bail "redis-server exited at startup"
	done
	rd_e2e_bail "redis: no free port found"
}

rd_e2e_redis_cli() {
	redis-cli -h 127.0.0.1 -p "${RD_REDIS_PORT:?rd_e2e_start_redis first}" "$@"
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
	dl=$(_rd_deadline_us 10)
	until [ -S "$sock" ]; do
		[ -n "$(_rd_session_pids "$RD_MILTER_PID")" ] ||
			rd_e2e_bail "relaydiag exited at startup (see relaydiag.log below)"
		[ "$(_rd_now_us)" -ge "$dl" ] &&
			rd_e2e_bail "relaydiag: no socket $sock after 10 s"
		sleep 0.05
	done
	setpriv --reuid=postfix --regid=postfix --init-groups test -r "$sock" -a -w "$sock" ||
		rd_e2e_bail "user postfix cannot connect to $sock: $(ls -ld "$rd" "$sock" | tr '\n' ' ')"
	return 0
}

# libmilter notices a stop request only when its accept loop wakes up: 5 s
# after SIGTERM when idle (measured), 70 ms when a connection arrives. So:
# SIGTERM, then a bare connect to the socket every 0.25 s until it is gone.
_rd_stop_milter_quiet() {
	local sid=${_RD_SID[relaydiag]:-} sock=${RD_MILTER#unix:} dl
	[ -n "$sid" ] || return 0
	kill -TERM "$sid" 2>/dev/null || true
	dl=$(_rd_deadline_us 10)
	while [ -n "$(_rd_session_pids "$sid")" ] && [ "$(_rd_now_us)" -lt "$dl" ]; do
		sleep 0.05
		if [ -S "$sock" ]; then
			perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => $ARGV[0])' \
				"$sock" 2>/dev/null || true
		fi
		sleep 0.2
	done
	RD_MILTER_PID=
	_rd_stop_session relaydiag 1
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

# ----------------------------------------------------------------- swaks --

rd_e2e_swaks() {
	_RD_SWAKS_N=$((_RD_SWAKS_N + 1))
	RD_TRANSCRIPT=$(printf '%s/swaks/%03d.txt' "$RD_E2E_DIR" "$_RD_SWAKS_N")
	printf 'swaks' >"$RD_TRANSCRIPT.cmd"
	printf ' %q' "$@" >>"$RD_TRANSCRIPT.cmd"
	echo >>"$RD_TRANSCRIPT.cmd"
	swaks --server 127.0.0.1 --port "$RD_E2E_MX_PORT" \
		--from sender@client.test --helo client.test --timeout 15 \
		"$@" </dev/null >"$RD_TRANSCRIPT" 2>&1 7>&- && RD_SWAKS_RC=0 || RD_SWAKS_RC=$?
	export RD_TRANSCRIPT RD_SWAKS_RC
	return 0
}

# ------------------------------------------------------------- mailboxes --

_rd_mailbox_dir() {	# [ADDRESS]
	if [ -n "${1:-}" ]; then
		echo "$RD_MAILDIR_BASE/${1#*@}/${1%@*}"
	else
		echo "$RD_MAILDIR_BASE"
	fi
}

rd_e2e_delivered_message() {
	local d f
	d=$(_rd_mailbox_dir "${1:-}")
	f=$(find "$d" -path '*/new/*' -type f -printf '%T@ %p\n' 2>/dev/null |
		sort -n | tail -n 1 | cut -d' ' -f2-)
	[ -n "$f" ] || return 1
	echo "$f"
}

rd_e2e_delivered_count() {
	find "$(_rd_mailbox_dir "${1:-}")" -path '*/new/*' -type f 2>/dev/null | wc -l
}

rd_e2e_wait_delivered() {
	local want=$1 timeout=$2 addr=${3:-} dl
	dl=$(_rd_deadline_us "$timeout")
	while :; do
		[ "$(rd_e2e_delivered_count "$addr")" -ge "$want" ] && return 0
		[ "$(_rd_now_us)" -ge "$dl" ] && break
		sleep 0.1
	done
	rd_diag "rd_e2e_wait_delivered: fewer than $want message(s) for ${addr:-example.test} after ${timeout}s"
	return 1
}

rd_e2e_init
