#!/bin/bash
# t_journal.sh - the log front end reading the systemd journal (LogJournal,
# sd-journal), against real journal files: systemd-journal-remote writes
# them from journal export format, as journald would from Postfix's syslog.
# Proves: mail-facility entries become events as from a log file; other
# facilities are not read; entries written while relaydiag runs are read
# as they come (new journal files in the directory); a restart goes on
# after its cursor, with no gap and no duplicate.

. "$(dirname "$0")/lib.sh"

remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || rd_e2e_bail "$remote missing (package systemd-journal-remote)"
run=$RD_E2E_DIR
jdir=$run/journal
mkdir -p "$jdir"
chmod 0755 "$jdir"

# entry N FACILITY IDENT PID MESSAGE: one entry in journal export format
entry() {
	local usec
	usec=$(($(date +%s) * 1000000 + $1))
	printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\n' \
		"$usec" "$1"
	printf '_HOSTNAME=mx\nSYSLOG_FACILITY=%s\nSYSLOG_IDENTIFIER=%s\n_PID=%s\nMESSAGE=%s\n\n' \
		"$2" "$3" "$4" "$5"
}
# journal FILE: a journal file written by systemd-journal-remote from the
# export format on standard input (entries end with an empty line, so
# they are written straight to it, never through $(...))
journal() {
	local out=$jdir/$1
	cat >"$run/export.txt"
	"$remote" --output="$out" "$run/export.txt" >>"$run/journal-remote.log" 2>&1 ||
		rd_e2e_bail "systemd-journal-remote failed: $(tail -3 "$run/journal-remote.log")"
	chmod 0644 "$out"
}
bounce() {	# RCPT: Postfix's smtp line for a relay refusal
	printf '%s' "4B7C1A728C1: to=<$1>, relay=127.0.0.1[127.0.0.1]:2725, delay=0.05, delays=0/0/0/0.05, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <$1>: Relay access denied (in reply to RCPT TO command))"
}

# an older file: what was there before relaydiag is not replayed
entry 1 2 postfix/smtp 100 "$(bounce old@remote.test)" | journal old.journal
rd_e2e_start_milter "Mode observe" "LogJournal $jdir" "LogFormat postfix"
rd_wait 10 0.1 grep -q 'journal: following from its end' "$RD_MILTER_LOG" ||
	rd_e2e_bail "relaydiag does not read the journal"

# -- entries written while relaydiag runs: a new file in the directory
{
	entry 2 2 postfix/smtp 101 "$(bounce j1@remote.test)"
	entry 3 2 postfix/submission/smtpd 102 "warning: unknown[127.0.0.82]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=frank@example.test"
	entry 4 3 postfix/smtp 103 "$(bounce daemon-facility@remote.test)"
} | journal new1.journal
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="j1@remote.test")' 20 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="j1@remote.test") | .diagnosis.id=="remote.relay-denied" and .front_end=="log"' \
	"a Postfix bounce in the journal: remote.relay-denied"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="auth")' 10 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="auth") | .client.ip=="127.0.0.82" and .auth_failure.user=="frank@example.test"' \
	"a failed AUTH in the journal: an auth event"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="daemon-facility@remote.test")' 0 \
	"an entry of another facility is not read"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="old@remote.test")' 0 \
	"what was in the journal before the first start is not replayed"

# -- a restart: the entries written meanwhile, each once
rd_e2e_stop_milter
entry 5 2 postfix/smtp 104 "$(bounce j2@remote.test)" | journal new2.journal
rd_e2e_start_milter "Mode observe" "LogJournal $jdir" "LogFormat postfix"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="j2@remote.test")' 20 >/dev/null || true
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="j2@remote.test")' 1 \
	"an entry written while relaydiag was down is read at restart (no gap)"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt=="j1@remote.test")' 1 \
	"and what was read before is not read again (no duplicate)"
rd_assert_grep "$RD_MILTER_LOG" 'journal: going on after the saved cursor' "the restart went on from its cursor"
rd_e2e_milter_alive "relaydiag still running"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_finish
