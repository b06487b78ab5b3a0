#!/bin/bash
# t_foundation.sh - relaydiag under a real Postfix (observe mode): what it
# records for an unauthenticated relay attempt (Postfix's DSN and text seen
# through SMFIP_RCPT_REJ), an authenticated STARTTLS session (user,
# mechanism, TLS version), a trusted client, the listener port (MX-like vs
# submission-like), and local delivery; every event valid against the
# schema.

. "$(dirname "$0")/lib.sh"

rd_e2e_start_milter
rd_e2e_start_postfix

ev() { rd_e2e_wait_for "$RD_EVENTS" "$1" 10 "${@:2}" || true; }

# -- 1. a desktop mail program on the MX port, no login: Postfix refuses
rd_e2e_swaks --helo UserPC --from carl@client.test --to bob@gmail.test --quit-after RCPT
rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1 <bob@gmail.test>: Relay access denied" \
	"client sees Postfix's own reply (observe mode)"
sel='select(.type=="rcpt" and .rcpt.addr=="bob@gmail.test")'
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .mta.verdict==\"reject\" and .mta.dsn==\"5.7.1\" and .mta.text==\"Relay access denied\"" \
	"rcpt event carries Postfix's DSN 5.7.1 and text 'Relay access denied'"
rd_assert_jq "$RD_EVENTS" "$sel | .mta.code==null" \
	"the 3-digit code is in no macro: mta.code is null, not invented"
rd_assert_jq "$RD_EVENTS" "$sel | .rcpt.class==\"external\" and .relay.authorized==false and .relay.by==null" \
	"external recipient, not authorized"
rd_assert_jq "$RD_EVENTS" "$sel | .server.port==$RD_E2E_MX_PORT and .server.submission==false" \
	"the MX-like listener port reached relaydiag ({daemon_port})"
rd_assert_jq "$RD_EVENTS" "$sel | .client.ip==\"127.0.0.1\" and .client.helo==\"UserPC\" and .client.trusted==false" \
	"client address and HELO recorded"
rd_assert_jq "$RD_EVENTS" "$sel | .diagnosis.id==\"relay.client-on-port-25\"" \
	"non-FQDN HELO on port 25-like listener: relay.client-on-port-25"
rd_assert_jq "$RD_EVENTS" "$sel | .auth==null and .tls==null and .action==\"none\"" \
	"no auth, no TLS, observe mode does nothing"

# -- 2. the same from a server-like client (FQDN HELO): the generic case
rd_e2e_swaks --local-interface 127.0.0.5 --helo mail.client.test --to carol@remote.test --quit-after RCPT
sel='select(.type=="rcpt" and .rcpt.addr=="carol@remote.test")'
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .diagnosis.id==\"relay.no-auth\" and .client.ip==\"127.0.0.5\"" \
	"FQDN HELO is not a desktop client: relay.no-auth"

# -- 3. authenticated STARTTLS session on the submission-like port
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test --header "Subject: relay via submission"
rd_assert_grep "$RD_TRANSCRIPT" '<~  250 2\.0\.0 Ok: queued as' "authenticated relay queued"
sel='select(.type=="rcpt" and .rcpt.addr=="dave@gmail.test")'
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .auth.user==\$u and .auth.mech==\"PLAIN\"" \
	"rcpt event carries the SASL user and mechanism" --arg u "$RD_ALICE_USER"
rd_assert_jq "$RD_EVENTS" "$sel | (.tls.version | test(\"^TLSv1\\\\.[23]\")) and (.tls.cipher | length > 0)" \
	"rcpt event carries the TLS version and cipher"
rd_assert_jq "$RD_EVENTS" "$sel | .server.port==$RD_E2E_SUBMISSION_PORT and .server.submission==true" \
	"the submission-like listener port reached relaydiag"
rd_assert_jq "$RD_EVENTS" "$sel | .relay.authorized==true and .relay.by==\"sasl\" and .mta.verdict==\"accept\" and .diagnosis.id==\"relay.authorized-sasl\"" \
	"authorized by SASL: relay.authorized-sasl"
# Postfix opens the queue file after the first valid RCPT
# (smtpd_delay_open_until_valid_rcpt): the id is certain at end of message.
qid=$(grep -oE 'submission/smtpd\[[0-9]+\]: [0-9A-F]+: client=.*sasl_username=alice' "$RD_MAILLOG" | head -1 | sed -E 's/.*\]: ([0-9A-F]+):.*/\1/')
ev 'select(.type=="message" and .auth != null)'
rd_assert_jq "$RD_EVENTS" 'select(.type=="message" and .auth.user==$u) | .queue_id==$q' \
	"message event carries Postfix's queue id ($qid)" --arg u "$RD_ALICE_USER" --arg q "$qid"

# -- 4. trusted network
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo relay.client.test --to erin@gmail.test
sel='select(.type=="rcpt" and .rcpt.addr=="erin@gmail.test")'
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .client.trusted==true and .relay.by==\"network\" and .diagnosis.id==\"relay.authorized-network\"" \
	"trusted client: relay.authorized-network"

# -- 5. local delivery
rd_e2e_swaks --helo mail.client.test --to "$RD_ALICE_USER" --header "Subject: foundation local"
rd_e2e_wait_delivered 1 10 "$RD_ALICE_USER" || true
sel='select(.type=="rcpt" and .rcpt.addr==$a)'
ev "$sel" --arg a "$RD_ALICE_USER"
rd_assert_jq "$RD_EVENTS" "$sel | .rcpt.class==\"local\" and .relay.by==\"local\" and .diagnosis.id==\"delivery.local\" and .mta.verdict==\"accept\"" \
	"local recipient: delivery.local" --arg a "$RD_ALICE_USER"
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_contains "${msg:-/nonexistent}" "Subject: foundation local" "the message was delivered"
rd_assert_not_contains "${msg:-/nonexistent}" "X-Relay-Diagnostic" "observe mode adds no header"
ev 'select(.type=="message" and .counts.rcpts_accepted==1 and (.diagnoses|index("delivery.local")))'
rd_assert_jq "$RD_EVENTS" 'select(.type=="message") | .diagnoses==["delivery.local"] and .queue_id != null' \
	"message event at end of message, with the queue id"

# -- 6. session events: one per connection, with counts
ev 'select(.type=="session" and .counts.messages==1 and (.diagnoses|index("delivery.local")))'
rd_assert_jq "$RD_EVENTS" 'select(.type=="session" and .client.ip=="127.0.0.1" and (.diagnoses|index("relay.client-on-port-25"))) | .counts.rcpts_rejected==1 and .counts.messages==0' \
	"session event of the refused client counts one rejected recipient, no message"
ids=$(jq -r 'select(.type=="rcpt") | .session' "$RD_EVENTS" | sort -u | wc -l)
rd_assert_ok "every rcpt event's session has a session event" \
	bash -c "[ \$(jq -r 'select(.type==\"session\") | .session' '$RD_EVENTS' | sort -u | wc -l) -ge $ids ]"
rd_assert_ok "every event has a unique id" \
	bash -c "[ -z \"\$(jq -r .id '$RD_EVENTS' | sort | uniq -d)\" ]"

# -- 6b. a connection that ends before any RCPT still has its session
#    event: the client quits at once, after HELO, after MAIL (relaydiag
#    answers at CONNECT, so libmilter reads it before the MTA hangs up)
q=0
for stage in CONNECT HELO MAIL; do
	q=$((q + 1))
	for i in 1 2 3; do
		rd_e2e_swaks --local-interface "127.0.0.$((60 + q))" --helo "quit-$stage.test" \
			--from "q$i@client.test" --to "x@gmail.test" --quit-after "$stage"
	done
done
for q in 1 2 3; do
	rd_e2e_wait_for "$RD_EVENTS" "select(.type==\"session\" and .client.ip==\"127.0.0.$((60 + q))\")" 10 >/dev/null || true
done
sleep 0.5
for q in 1 2 3; do
	stage=$(echo "CONNECT HELO MAIL" | cut -d' ' -f$q)
	rd_assert_eq "$(rd_e2e_jq_count "$RD_EVENTS" "select(.type==\"session\" and .client.ip==\"127.0.0.$((60 + q))\")")" 3 \
		"3 connections that quit after $stage: 3 session events"
done

# -- 7. every event valid against the schema
rd_assert_ok "all events valid against docs/event.schema.json" \
	"$RD_SRC/tests/tools/check-events" "$RD_EVENTS"

rd_e2e_finish
