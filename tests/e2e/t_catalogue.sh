#!/bin/bash
# t_catalogue.sh - every diagnosis of the catalogue reproduced as a real
# SMTP session through a real Postfix, each asserted on relaydiag's event:
# the MTA's own rejections (client, recipient and sender restrictions,
# sender verification, unknown users), unauthorized relays and their
# refinements (port 25 desktop, TLS before AUTH, IP changed, login stopped,
# open-relay probe), the MX check (DNS data of the test's own, offline),
# sender checks, and the two alerts.

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
# -- access tables: the texts Postfix itself writes for these restrictions
cat >"$run/client_access" <<EOF2
127.0.0.20 REJECT
EOF2
cat >"$run/sender_access" <<EOF2
rbl@listed.test REJECT Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org
ghost@nowhere.test REJECT Domain not found
odd@grey.test REJECT Greylisted, please come back later
verify.test reject_unverified_sender
EOF2
cat >"$run/rcpt_access" <<EOF2
blocked@example.test REJECT
EOF2
# Sender verification for real: Postfix's verify service probes the
# address through the error transport, which refuses it.
cat >"$run/transport" <<EOF2
verify.test error:5.1.1 mailbox unavailable
EOF2
touch -d '-10 seconds' "$run"/client_access "$run"/sender_access "$run"/rcpt_access "$run"/transport

# -- DNS data of our own for the MX check (libunbound, no network)
cat >"$run/unbound.conf" <<EOF2
server:
	local-zone: "test." static
	local-data: "example.test. MX 10 mx.elsewhere.test."
	local-data: "moved.test. MX 10 mx.relaydiag.test."
EOF2
chmod 0644 "$run/unbound.conf"
# An admin's own text for one diagnosis (TemplateFile)
cat >"$run/templates" <<EOF2
relay.no-auth remedy_client Set up SMTP authentication: see https://help.example.test/smtp (client \${client})
EOF2
chmod 0644 "$run/templates"

rd_e2e_start_milter "Mode annotate" "MXCheck yes" "DNSConfig $run/unbound.conf" \
	"MXHosts mx.relaydiag.test" "ProbeDomains 3" "AlertProbeAttempts 4" \
	"OutageSenders 2" "TemplateFile $run/templates"
rd_e2e_start_postfix \
	"smtpd_client_restrictions = check_client_access texthash:$run/client_access" \
	"smtpd_sender_restrictions = check_sender_access texthash:$run/sender_access" \
	"smtpd_recipient_restrictions = check_recipient_access texthash:$run/rcpt_access" \
	"transport_maps = texthash:$run/transport" \
	"address_verify_poll_count = 5"

ev() { rd_e2e_wait_for "$RD_EVENTS" "$1" 10 "${@:2}" || true; }

# diag RCPT WANT-ID DESC [SWAKS ARGS...]: one session, one assertion on the
# rcpt event of RCPT (the last one for that address)
diag() {
	local rcpt=$1 want=$2 desc=$3
	shift 3
	local n
	n=$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r)' --arg r "$rcpt")
	rd_e2e_swaks --to "$rcpt" --quit-after RCPT "$@"
	for _ in $(seq 100); do
		[ "$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r)' --arg r "$rcpt")" -gt "$n" ] && break
		sleep 0.05
	done
	got=$(jq -r --arg r "$rcpt" 'select(.type=="rcpt" and .rcpt.addr==$r) | .diagnosis.id' "$RD_EVENTS" | tail -1)
	rd_assert_eq "${got:-none}" "$want" "$want: $desc"
}

# -- the MTA's own rejections, named by the reply-text rules
diag nobody@example.test rcpt.unknown-user "cancelled account (User unknown in virtual mailbox table)" \
	--helo mx.google.test --from friend@gmail.test
diag alice@example.test mta.client-rejected "client restrictions block the client" \
	--local-interface 127.0.0.20 --helo mx.google.test --from friend@gmail.test
diag blocked@example.test mta.recipient-access-denied "recipient access table" \
	--helo mx.google.test --from friend@gmail.test
diag bob@example.test mta.rbl-listed "blocked using a DNS blacklist" \
	--helo mx.google.test --from rbl@listed.test
diag bob@example.test mta.unknown-domain "sender domain not found" \
	--helo mx.google.test --from ghost@nowhere.test
diag bob@example.test mta.other "anything else, text kept verbatim" \
	--helo mx.google.test --from odd@grey.test
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .diagnosis.id=="mta.other") | .mta.text | test("Greylisted, please come back later")' \
	"mta.other keeps the MTA's text"
diag bob@example.test mta.sender-verify-failed "sender address verification failed (real probe)" \
	--helo mx.verify.test --from someone@verify.test

# -- unauthorized relays, most specific cause first
diag bob@gmail.test relay.client-on-port-25 "desktop program on the MX port" \
	--helo DESKTOP-4F2K --from anna@client.test
diag carol@remote.test relay.no-auth "the generic case" \
	--local-interface 127.0.0.5 --helo mail.partner.test --from noreply@partner.test
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="carol@remote.test") | .diagnosis.remedy_client=="Set up SMTP authentication: see https://help.example.test/smtp (client 127.0.0.5)"' \
	"the admin's template replaces the client remedy, filled with the facts"
diag erin@gmail.test relay.authorized-network "trusted network relays" \
	--local-interface "$RD_TRUSTED_IP" --helo office.example.test
diag info@moved.test rcpt.domain-not-accepted "the domain's MX points here, Postfix refuses it as relaying" \
	--local-interface 127.0.0.7 --helo mx.google.test --from friend@gmail.test

# relay.ip-changed: alice relayed with AUTH from 127.0.0.1, then from
# 127.0.0.8 without it (a phone on another network, POP-before-SMTP)
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test
ev 'select(.type=="rcpt" and .rcpt.addr=="dave@gmail.test")'
diag frank@gmail.test relay.ip-changed "the sender relayed with authorization from another address" \
	--local-interface 127.0.0.8 --helo alice-phone.example.test --from "$RD_ALICE_USER"
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="frank@gmail.test") | .diagnosis.facts | index("authorized_from=127.0.0.1")' \
	"relay.ip-changed names the address it was authorized from"

# relay.auth-stopped: bob logged in from 127.0.0.9, then stopped logging in
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --local-interface 127.0.0.9 \
	--auth-user "$RD_BOB_USER" --auth-password "$RD_BOB_PASS" \
	--from "$RD_BOB_USER" --to gina@gmail.test
ev 'select(.type=="rcpt" and .rcpt.addr=="gina@gmail.test")'
diag hank@gmail.test relay.auth-stopped "the sender logged in from this address before" \
	--local-interface 127.0.0.9 --helo bob-laptop.example.test --from "$RD_BOB_USER"

# relay.probe: a stranger with a forged HELO literal, and one that tries
# domain after domain
diag p1@victim1.test relay.probe "implausible HELO (address literal that is not the client)" \
	--local-interface 127.0.0.66 --helo "[192.0.2.1]" --from spam@spammer.test
diag q1@victim1.test relay.no-auth "a stranger's first refused domain is not yet a probe" \
	--local-interface 127.0.0.67 --helo mail.spammer.test --from spam@spammer.test
diag q2@victim2.test relay.no-auth "second domain" \
	--local-interface 127.0.0.67 --helo mail.spammer.test --from spam@spammer.test
diag q3@victim3.test relay.probe "third distinct domain (ProbeDomains 3)" \
	--local-interface 127.0.0.67 --helo mail.spammer.test --from spam@spammer.test
diag q4@victim4.test relay.probe "fourth" \
	--local-interface 127.0.0.67 --helo mail.spammer.test --from spam@spammer.test
ev 'select(.type=="alert" and .diagnosis.id=="alert.relay-probe")'
rd_assert_jq "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.relay-probe") | .client.ip=="127.0.0.67" and .threshold.limit==4 and .threshold.observed>=4' \
	"alert.relay-probe: one client, many unauthorized relay attempts"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.relay-probe")' 1 \
	"the probe alert is raised once per window"

# -- accepted mail
diag alice@example.test rcpt.mx-elsewhere "local domain whose MX points elsewhere (DNS data: mx.elsewhere.test)" \
	--helo mx.google.test --from friend@gmail.test
diag bob@example.test sender.local-domain-unauthenticated "untrusted, unauthenticated client uses a local sender" \
	--local-interface 127.0.0.30 --helo mail.client.test --from "$RD_ALICE_USER"
diag alice@example.test submission.no-auth "submission port without AUTH" \
	--port "$RD_E2E_SUBMISSION_PORT" --local-interface 127.0.0.31 --helo laptop.client.test --from friend@gmail.test
diag ivan@gmail.test sender.login-mismatch "bob logged in, sends as alice" \
	--port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --local-interface 127.0.0.32 \
	--auth-user "$RD_BOB_USER" --auth-password "$RD_BOB_PASS" --from "$RD_ALICE_USER"

# -- the TLS-before-AUTH case needs Postfix and relaydiag to say so
RD_E2E_TLS_AUTH_ONLY=yes rd_e2e_restart_postfix \
	"smtpd_client_restrictions = check_client_access texthash:$run/client_access"
sed -i 's/^TLSAuthOnly .*//; $a TLSAuthOnly yes' "$RD_MILTER_CONF"
rd_e2e_reload_milter
for _ in $(seq 50); do [ "$(grep -c 'configuration reloaded' "$RD_MILTER_LOG")" -ge 1 ] && break; sleep 0.1; done
diag judy@gmail.test relay.tls-required-for-auth "no STARTTLS where AUTH comes only after it" \
	--port "$RD_E2E_SUBMISSION_PORT" --local-interface 127.0.0.40 --helo laptop.client.test --from judy@client.test

# -- alert.auth-outage: senders that used to log in are all refused now
# (alice and bob have SASL history from above)
# (bob's last authorized relay was from 127.0.0.32, the login-mismatch
# session: history records the login, not the address he sent as)
diag k1@gmail.test relay.ip-changed "bob again without login, from 127.0.0.9" \
	--local-interface 127.0.0.9 --helo bob-laptop.example.test --from "$RD_BOB_USER" --tls
diag k2@gmail.test relay.ip-changed "alice again without login" \
	--local-interface 127.0.0.8 --helo alice-phone.example.test --from "$RD_ALICE_USER" --tls
ev 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage")'
rd_assert_jq "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage") | .threshold.limit==2 and (.sample.senders | length >= 2) and .diagnosis.severity=="critical"' \
	"alert.auth-outage: many senders that used to authenticate are refused"

# -- every catalogue id was produced, and every event is valid
# (delivery.local: t_foundation; here the MX check turns it into rcpt.mx-elsewhere)
for id in relay.authorized-sasl relay.authorized-network relay.no-auth relay.client-on-port-25 \
	relay.tls-required-for-auth relay.ip-changed relay.auth-stopped relay.probe \
	rcpt.domain-not-accepted rcpt.mx-elsewhere rcpt.unknown-user mta.client-rejected \
	mta.recipient-access-denied mta.sender-verify-failed mta.rbl-listed \
	mta.unknown-domain mta.other sender.local-domain-unauthenticated \
	sender.login-mismatch submission.no-auth alert.auth-outage alert.relay-probe; do
	rd_assert_jq "$RD_EVENTS" 'select(.diagnosis.id==$id)' "an event names $id" --arg id "$id"
done
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"

rd_e2e_finish
