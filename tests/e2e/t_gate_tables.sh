#!/bin/bash
# t_gate_tables.sh - deployment 2 (RelayGate: Postfix accepts every relay
# and relies on relaydiag) with a POP-before-SMTP style client table in
# front of Postfix's relay check. relaydiag reads the table through
# ImportPostfix, so the client it permits relays (relay.authorized-mta,
# accepted and delivered onward) while every other unauthorized client is
# still refused with relaydiag's explanation; a reload reads a changed
# table; a table it cannot read is a warning in "relaydiag -n -v".

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
pop=$run/pop-before-smtp
printf '127.0.0.30\t1733550000\n' >"$pop"
chmod 0644 "$pop"
touch -d '-10 seconds' "$pop"
relay2="smtpd_relay_restrictions = check_client_access texthash:$pop, check_client_access static:DUNNO, permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, warn_if_reject reject_unauth_destination, check_recipient_access static:OK, reject_unauth_destination"

RD_MILTER_DEFAULT_ACTION=tempfail
RD_MILTER=unix:$RD_E2E_DIR/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "$relay2"
rd_e2e_start_milter "Mode enforce" "RelayGate yes" "ImportPostfix $RD_POSTFIX_CONF"

view=$run/view.txt
"$RELAYDIAG_BIN" -n -v -c "$RD_MILTER_CONF" >"$view" 2>&1 || true
rd_assert_grep "$view" "^    clients its check_client_access tables permit = 127\.0\.0\.30/32" \
	"-n -v: the clients the texthash: table permits"
rd_assert_grep "$view" "check_client_access static:DUNNO cannot be expanded; with RelayGate, list the clients it permits in TrustedNetworks" \
	"-n -v: a table it cannot read is a warning that says what to do"

# the client the table permits: Postfix relays it, and so does the gate
rd_e2e_swaks --local-interface 127.0.0.30 --helo bob-laptop.example.test \
	--from "$RD_BOB_USER" --to gate1@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 .*queued as' "the table's client relays through the gate"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="gate1@gmail.test")' 10 || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="gate1@gmail.test") | .diagnosis.id=="relay.authorized-mta" and .action=="header" and .mta.verdict=="accept"' \
	"relay.authorized-mta, not refused"

# near miss: any other unauthorized client is still refused, explained
rd_e2e_swaks --local-interface 127.0.0.31 --helo mail.partner.test \
	--from x@partner.test --to gate2@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 Ref relay\.(no-auth|ip-changed) ' \
	"another client: the gate refuses it with its explanation"

# the table changes (a POP-before-SMTP daemon rewrites it); a reload reads it
printf '127.0.0.31\t1733550100\n' >"$pop"
rd_e2e_reload_milter
rd_wait 10 0.1 grep -q 'reload' "$RD_MILTER_LOG" || true
sleep 0.5
rd_e2e_swaks --local-interface 127.0.0.31 --helo mail.partner.test \
	--from x@partner.test --to gate3@gmail.test --quit-after RCPT
rd_assert_not_contains "$RD_TRANSCRIPT" "554 5.7.1 Ref" "after a reload, the new client of the table passes"
rd_e2e_swaks --local-interface 127.0.0.30 --helo bob-laptop.example.test \
	--from "$RD_BOB_USER" --to gate4@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 Ref relay\.' "and the old one, gone from the table, is refused"

rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_milter_alive "relaydiag still running"
rd_e2e_finish
