# tests/e2e/lib/tap.sh - TAP output and assertions: ok/not ok lines, context under a failure, bail out.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

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
