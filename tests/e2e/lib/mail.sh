# tests/e2e/lib/mail.sh - sending mail (swaks) and reading the mailboxes.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

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

_rd_delivered_at_least() { [ "$(rd_e2e_delivered_count "$2")" -ge "$1" ]; }	# N [ADDR]

rd_e2e_wait_delivered() {
	local want=$1 timeout=$2 addr=${3:-}
	rd_wait "$timeout" 0.1 _rd_delivered_at_least "$want" "$addr" && return 0
	rd_diag "rd_e2e_wait_delivered: fewer than $want message(s) for ${addr:-example.test} after ${timeout}s"
	return 1
}
