# tests/e2e/lib/wait.sh - the one wait loop (rd_wait) and the waits built on it.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

# ----------------------------------------------------------------- waits --

_rd_now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

_rd_deadline_us() {	# TIMEOUT (seconds, decimals ok) -> absolute µs
	local t=$1
	[[ $t =~ ^[0-9]+([.][0-9]+)?$ ]] || rd_e2e_bail "bad timeout: $t"
	echo $(( $(_rd_now_us) + $(awk -v t="$t" 'BEGIN { printf "%d", t * 1000000 }') ))
}

# rd_wait TIMEOUT STEP CHECK [ARGS...]: run CHECK every STEP seconds until
# it returns 0 (then 0), or 2 (give up: 2), or TIMEOUT seconds have passed
# (1). The harness's one wait loop: every "until it is up, there or gone"
# below is a CHECK handed to it.
rd_wait() {
	local dl step=$2 rc
	dl=$(_rd_deadline_us "$1")
	shift 2
	while :; do
		"$@"
		rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] && return "$rc"
		[ "$(_rd_now_us)" -ge "$dl" ] && return 1
		sleep "$step"
	done
}

# _rd_while_alive SID CHECK [ARGS...]: CHECK's status, but 2 once session
# SID has no process left (what was awaited died: no use waiting on)
_rd_while_alive() {
	local sid=$1
	shift
	"$@" && return 0
	[ -n "$(_rd_session_pids "$sid")" ] || return 2
	return 1
}

_rd_jq_found() {	# FILE FILTER JQ_ARGS...: something matches
	local f=$1 filter=$2
	shift 2
	[ -f "$f" ] && [ -n "$(_rd_jq_select "$f" "$filter" "$@" 2>/dev/null | head -n 1)" ]
}

rd_e2e_wait_for() {
	local f=$1 filter=$2 timeout=$3
	shift 3
	rd_wait "$timeout" 0.1 _rd_jq_found "$f" "$filter" "$@" && return 0
	rd_diag "rd_e2e_wait_for: nothing matched $filter in $f after ${timeout}s"
	return 1
}

rd_e2e_assert_event() {	# SELECT CHECK DESC TIMEOUT [JQ_ARGS...]
	local sel=$1 check=$2 desc=$3 timeout=$4
	shift 4
	rd_e2e_wait_for "$RD_EVENTS" "$sel" "$timeout" "$@" >/dev/null || true
	rd_assert_jq "$RD_EVENTS" "$sel | $check" "$desc" "$@"
}

_rd_grep_q() { grep -qE -- "$1" "$2" 2>/dev/null || return 1; }	# RE FILE

rd_e2e_wait_maillog() {
	local re=$1 timeout=$2
	rd_wait "$timeout" 0.1 _rd_grep_q "$re" "$RD_MAILLOG" && return 0
	rd_diag "rd_e2e_wait_maillog: no line matched /$re/ in $RD_MAILLOG after ${timeout}s"
	return 1
}
