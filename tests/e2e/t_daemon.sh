#!/bin/bash
# t_daemon.sh - the daemon as an admin meets it: -n, -V, configuration
# errors with file:line, no root without UserID, privileges dropped,
# SIGUSR1 reload (a good file takes effect, a bad one is refused and the
# running configuration kept), annotate mode's header with forged copies
# removed, and a clean stop on SIGTERM.

. "$(dirname "$0")/lib.sh"

bin=$RELAYDIAG_BIN
out=$RD_E2E_DIR/cli.out

# -- command line
"$bin" -n -c "$RD_SRC/conf/relaydiag.conf" >"$out" 2>&1
rd_assert_eq "$?" 0 "relaydiag -n accepts the shipped conf/relaydiag.conf"
printf 'Mode observe\nLocalDomain example.test\n' >"$RD_E2E_DIR/bad.conf"
"$bin" -n -c "$RD_E2E_DIR/bad.conf" >"$out" 2>&1
rd_assert_eq "$?" 1 "relaydiag -n exits 1 on an unknown key"
rd_assert_contains "$out" "$RD_E2E_DIR/bad.conf:2: unknown key \"LocalDomain\"; did you mean \"LocalDomains\"?" \
	"the error names file:line and suggests the key"
"$bin" -n -c "$RD_E2E_DIR/missing.conf" >"$out" 2>&1
rd_assert_eq "$?" 1 "relaydiag -n exits 1 on a missing file"
"$bin" -V >"$out" 2>&1
rd_assert_grep "$out" '^relaydiag [0-9]+\.[0-9]+\.[0-9]+ ' "relaydiag -V prints the version"
printf 'Socket local:%s/x.sock\nEventLog -\n' "$RD_E2E_DIR" >"$RD_E2E_DIR/root.conf"
timeout 5 "$bin" -f -c "$RD_E2E_DIR/root.conf" >"$out" 2>&1
rd_assert_eq "$?" 1 "as root without UserID: refuses to start"
rd_assert_contains "$out" "refusing to run as root without UserID" "and says why"

# -- running: unprivileged
rd_e2e_start_milter
rd_e2e_start_postfix
rd_assert_eq "$(ps -o user= -p "$RD_MILTER_PID" | tr -d ' ')" relaydiag "the daemon runs as UserID (relaydiag)"
rd_assert_eq "$(stat -c %a "${RD_MILTER#unix:}")" 660 "the socket has SocketMode 0660"

# -- reload into annotate mode
sed -i 's/^Mode .*/Mode annotate/' "$RD_MILTER_CONF"
rd_e2e_reload_milter
for _ in $(seq 50); do grep -q "configuration reloaded" "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" 'configuration reloaded from .* mode=annotate' "SIGUSR1 reloads (mode=annotate)"

rd_e2e_swaks --helo mail.client.test --to "$RD_ALICE_USER" \
	--header "Subject: annotate 1" --add-header "X-Relay-Diagnostic: forged; diagnosis=relay.authorized-sasl"
rd_e2e_wait_delivered 1 10 "$RD_ALICE_USER" || true
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_contains "${msg:-/nonexistent}" "Subject: annotate 1" "message delivered"
rd_assert_eq "$(grep -ci '^X-Relay-Diagnostic:' "${msg:-/dev/null}")" 1 "exactly one X-Relay-Diagnostic header"
rd_assert_not_contains "${msg:-/nonexistent}" "forged" "the forged header from outside was removed"
hdr=$(sed -n '/^X-Relay-Diagnostic:/,/^[^\t]/p' "${msg:-/dev/null}" | sed '$d')
printf '%s\n' "$hdr" >"$RD_E2E_DIR/hdr.txt"
rd_assert_grep "$RD_E2E_DIR/hdr.txt" 'session=[0-9A-Z]{16}' "header names the session"
rd_assert_grep "$RD_E2E_DIR/hdr.txt" 'diagnosis=delivery\.local' "header carries the diagnosis"
rd_assert_grep "$RD_E2E_DIR/hdr.txt" 'auth=none' "header says how the client was authorized"
rd_assert_ok "header lines are at most 78 characters" \
	bash -c "! awk 'length > 78' '$RD_E2E_DIR/hdr.txt' | grep -q ."
sid=$(grep -oE 'session=[0-9A-Z]{16}' "$RD_E2E_DIR/hdr.txt" | head -1 | cut -d= -f2)
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="message" and .session==$s)' 10 --arg s "$sid" || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="message" and .session==$s) | .action=="header"' \
	"the header's session id leads to the message event" --arg s "$sid"

# -- a bad reload is refused, the running configuration stays
echo "Mode enforcing" >>"$RD_MILTER_CONF"
rd_e2e_reload_milter
for _ in $(seq 50); do grep -q "reload failed" "$RD_MILTER_LOG" && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" "reload failed, keeping the running configuration: $RD_MILTER_CONF:[0-9]+: " \
	"a bad file is refused at reload, with file:line"
rd_e2e_swaks --helo mail.client.test --to "$RD_ALICE_USER" --header "Subject: annotate 2"
rd_e2e_wait_delivered 2 10 "$RD_ALICE_USER" || true
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_contains "${msg:-/nonexistent}" "Subject: annotate 2" "mail still flows after the bad reload"
rd_assert_contains "${msg:-/nonexistent}" "X-Relay-Diagnostic:" "annotate mode kept"

# -- a FIFO where a file is expected: refused at once, never waited on
fifo=$RD_E2E_DIR/fifo
mkfifo "$fifo"
t0=$(_rd_now_us)
timeout 10 "$RELAYDIAG_BIN" -n -c "$fifo" >"$RD_E2E_DIR/fifo-n.out" 2>&1
rc=$?
rd_assert_eq "$rc" 1 "relaydiag -n on a FIFO exits 1 at once (not 124: a hang)"
rd_assert_contains "$RD_E2E_DIR/fifo-n.out" "not a regular file" "and says why"
rd_assert_ok "within 2 s" test $(( ($(_rd_now_us) - t0) / 1000 )) -lt 2000
sed -i '/^Mode enforcing$/d' "$RD_MILTER_CONF"
echo "LocalDomains file:$fifo" >>"$RD_MILTER_CONF"
n=$(grep -c "reload failed" "$RD_MILTER_LOG")
rd_e2e_reload_milter
for _ in $(seq 50); do [ "$(grep -c "reload failed" "$RD_MILTER_LOG")" -gt "$n" ] && break; sleep 0.1; done
rd_assert_grep "$RD_MILTER_LOG" "reload failed, keeping the running configuration: .*LocalDomains: cannot open \"$fifo\": not a regular file" \
	"a FIFO as a file: list is refused at reload, not waited on"
sed -i "\|^LocalDomains file:$fifo\$|d" "$RD_MILTER_CONF"
n=$(grep -c "configuration reloaded" "$RD_MILTER_LOG")
rd_e2e_reload_milter
for _ in $(seq 50); do [ "$(grep -c "configuration reloaded" "$RD_MILTER_LOG")" -gt "$n" ] && break; sleep 0.1; done
rd_assert_ok "and the reload thread still answers the next SIGUSR1" \
	test "$(grep -c "configuration reloaded" "$RD_MILTER_LOG")" -gt "$n"

# reload_both PATTERN LABEL: reload Postfix and relaydiag; relaydiag's
# log says who removes forged headers (PATTERN)
reload_both() {
	postfix -c "$RD_POSTFIX_CONF" reload >/dev/null 2>&1
	n=$(grep -c "configuration reloaded" "$RD_MILTER_LOG")
	rd_e2e_reload_milter
	for _ in $(seq 50); do [ "$(grep -c "configuration reloaded" "$RD_MILTER_LOG")" -gt "$n" ] && break; sleep 0.1; done
	rd_assert_grep "$RD_MILTER_LOG" "$1" "$2"
	sleep 1	# Postfix's smtpd processes restart after its reload
}
# forged N WHO: message N with a forged copy arrives with relaydiag's own only
forged() {
	rd_e2e_swaks --helo mail.client.test --to "$RD_ALICE_USER" \
		--header "Subject: annotate $1" --add-header "X-Relay-Diagnostic: forged; diagnosis=relay.authorized-sasl"
	rd_e2e_wait_delivered "$1" 10 "$RD_ALICE_USER" || true
	msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
	rd_assert_contains "${msg:-/nonexistent}" "Subject: annotate $1" "$2: delivered"
	rd_assert_eq "$(grep -ci '^X-Relay-Diagnostic:' "${msg:-/dev/null}")" 1 \
		"exactly one X-Relay-Diagnostic: $2 removed the forged copy, not relaydiag's own"
	rd_assert_not_contains "${msg:-/nonexistent}" "forged" "$2: the forged text is gone"
	rd_assert_contains "${msg:-/nonexistent}" "diagnosis=delivery.local" "$2: relaydiag's own header is there"
}

# -- StripForgedHeaders auto (the default) with ImportPostfix: Postfix's
#    header_checks remove the forged copies (they never see a milter's
#    headers), relaydiag checks that with postmap -q and asks for no
#    header; the table is the shipped conf/postfix-header_checks.regexp
cp "$RD_SRC/conf/postfix-header_checks.regexp" "$RD_E2E_DIR/header_checks"
rd_e2e_postconf "header_checks = regexp:$RD_E2E_DIR/header_checks"
echo "ImportPostfix $RD_POSTFIX_CONF" >>"$RD_MILTER_CONF"
reload_both "forged X-Relay-Diagnostic headers: removed by the MTA; no header is sent to relaydiag \(auto, and Postfix's header_checks \(regexp:$RD_E2E_DIR/header_checks\) remove it\)" \
	"auto: relaydiag sees that Postfix's header_checks remove forged copies"
forged 3 "header_checks"

# -- ... and when the admin drops header_checks, relaydiag strips again
rd_e2e_postconf "header_checks ="
reload_both "forged X-Relay-Diagnostic headers: removed by relaydiag \(auto, and service [^ ]+: its cleanup service cleanup has no header_checks\)" \
	"auto: without header_checks relaydiag removes them itself, and says why"
forged 4 "relaydiag"

# -- SIGTERM stops cleanly
pid=$RD_MILTER_PID
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rd_assert_ok "SIGTERM stops the daemon within 10 s" bash -c "! kill -0 $pid 2>/dev/null"
rd_assert_grep "$RD_MILTER_LOG" 'relaydiag stopping \(smfi_main: ok\)' "it logs a clean stop"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"

rd_e2e_finish
