#!/bin/bash
# t_deployment2.sh - deployment 2 of the README: Postfix's relay check only
# warns and relaydiag is the relay gate (RelayGate yes, Mode enforce,
# milter_default_action = tempfail). Proves: an unauthorized external
# recipient is refused with relaydiag's explanatory multi-line reply, as
# the client receives it; authorized relays and local mail still pass;
# RelayGate refuses even in observe mode; and with relaydiag stopped every
# recipient is tempfailed, never accepted: the MTA never becomes an open
# relay.

. "$(dirname "$0")/lib.sh"

relay2="smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, warn_if_reject reject_unauth_destination, check_recipient_access static:OK, reject_unauth_destination"

RD_MILTER_DEFAULT_ACTION=tempfail
# notyet.test: relaydiag lists it as local, Postfix does not know it;
# moved.test: its MX points here (DNS data of our own), Postfix does not know it
cat >"$RD_E2E_DIR/unbound.conf" <<EOF2
server:
	local-zone: "test." static
	local-data: "moved.test. MX 10 mx.relaydiag.test."
EOF2
chmod 0644 "$RD_E2E_DIR/unbound.conf"
rd_e2e_start_milter "Mode enforce" "RelayGate yes" "LocalDomains example.test notyet.test" \
	"MXCheck yes" "DNSConfig $RD_E2E_DIR/unbound.conf" "MXHosts mx.relaydiag.test"
rd_e2e_start_postfix "$relay2"

# -- an unauthorized relay: relaydiag refuses and explains
rd_e2e_swaks --helo UserPC --from anna@client.test --to bob@gmail.test --quit-after RCPT
t=$RD_TRANSCRIPT
rd_assert_grep "$t" '<\*\* +554-5\.7\.1 Relay access denied for <bob@gmail\.test>\.' \
	"client sees relaydiag's multi-line reply, first line"
rd_assert_grep "$t" '554-5\.7\.1 A mail program \(HELO "UserPC"\) connected to port' "the reply states the facts (HELO, port)"
rd_assert_grep "$t" '554-5\.7\.1 Fix: Set the outgoing server to port 587 with STARTTLS' "the reply says what to do"
rd_assert_grep "$t" '<\*\* +554 5\.7\.1 Ref relay\.client-on-port-25 [0-9A-Z]{16}\.[0-9]+$' \
	"last line: the reference (id and event id)"
rd_assert_ok "every reply line is shorter than 512 octets" \
	bash -c "! grep -E '^<\\*\\* ' '$t' | awk 'length > 512' | grep -q ."
rd_e2e_wait_maillog 'reject_warning: RCPT from .*Relay access denied' 5 || true
rd_assert_grep "$RD_MAILLOG" 'reject_warning: RCPT from .*: 554 5\.7\.1 <bob@gmail\.test>: Relay access denied' \
	"Postfix itself only warned (deployment 2 shape)"
rd_assert_grep "$RD_MAILLOG" 'milter-reject: RCPT from .*554-5\.7\.1 Relay access denied for <bob@gmail\.test>' \
	"Postfix refused on relaydiag's word"
sel='select(.type=="rcpt" and .rcpt.addr=="bob@gmail.test")'
rd_e2e_wait_for "$RD_EVENTS" "$sel" 5 || true
rd_assert_jq "$RD_EVENTS" "$sel | .mta.verdict==\"accept\" and .action==\"reject\" and .diagnosis.id==\"relay.client-on-port-25\"" \
	"event: the MTA accepted, relaydiag rejected"
eid=$(grep -oE 'Ref relay\.client-on-port-25 [0-9A-Z.]+' "$t" | awk '{print $3}')
rd_assert_jq "$RD_EVENTS" "$sel | .id==\$e" "the reply's reference is the event id ($eid)" --arg e "$eid"

# -- a domain the lists (or the MX) call ours but Postfix does not: Postfix
#    would relay it onward, so the gate refuses it and says why
for r in info@notyet.test info@moved.test; do
	rd_e2e_swaks --local-interface 127.0.0.7 --helo mx.google.test --from friend@gmail.test --to "$r" --quit-after RCPT
	rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 Ref rcpt\.domain-not-accepted ' \
		"RelayGate refuses $r, which Postfix would relay onward (rcpt.domain-not-accepted)"
done

# -- hostile HELO text cannot break the reply
rd_e2e_swaks --helo '%s%n%%x' --from anna@client.test --to carol@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 Ref relay\.' "a HELO with % signs gets a well-formed reply"
rd_assert_not_contains "$RD_MAILLOG" "malformed" "Postfix found no malformed milter reply"

# -- authorized relays and local delivery pass
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<~  250 2\.0\.0 Ok: queued' "authenticated relay accepted"
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test --to erin@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 Ok: queued' "trusted network relay accepted"
rd_e2e_swaks --helo mx.google.test --from friend@gmail.test --to "$RD_ALICE_USER" --header "Subject: d2 local"
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 Ok: queued' "local delivery accepted"
rd_e2e_wait_delivered 1 10 "$RD_ALICE_USER" || true
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_contains "${msg:-/nonexistent}" "X-Relay-Diagnostic:" "enforce mode annotates accepted mail"

# -- RelayGate refuses whatever the mode
sed -i 's/^Mode .*/Mode observe/' "$RD_MILTER_CONF"
rd_e2e_reload_milter
for _ in $(seq 50); do [ "$(grep -c 'mode=observe' "$RD_MILTER_LOG")" -ge 1 ] && break; sleep 0.1; done
rd_e2e_swaks --local-interface 127.0.0.5 --helo mail.partner.test --from x@partner.test --to frank@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +554 5\.7\.1 Ref relay\.no-auth ' "RelayGate refuses in observe mode too"

# -- relaydiag down: tempfail, never an open relay
rd_e2e_stop_milter
rd_e2e_swaks --helo UserPC --from anna@client.test --to gina@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +451 4\.7\.1' "relaydiag stopped: the unauthorized relay is tempfailed (451)"
rd_assert_not_contains "$RD_TRANSCRIPT" "250 2.1.5" "and never accepted"
rd_e2e_swaks --helo UserPC --from anna@client.test --to gina@gmail.test
rd_assert_not_contains "$RD_TRANSCRIPT" "queued as" "no message is queued for the external recipient"
rd_assert_ok "no mail for gina@gmail.test in the maillog" \
	bash -c "! grep -q 'to=<gina@gmail.test>.*status=sent' '$RD_MAILLOG'"

rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_finish
