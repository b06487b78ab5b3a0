#!/bin/bash
# t_sendmail.sh - relaydiag under a real Sendmail (Debian's 8.17 binary,
# unpacked, never installed; tests/e2e/sendmail.sh), attached with
# INPUT_MAIL_FILTER: the listener port and name reaching relaydiag, a relay
# from a trusted network, SMTP AUTH (Cyrus sasldb) on the submission-like
# port, local delivery with relaydiag's header (annotate), Sendmail's own
# relay refusal, relay.authorized-mta for a relay Sendmail let through
# that relaydiag does not authorize, and RelayGate's explanatory multi-line
# reject of such a relay; every event valid against the schema.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sendmail.sh"

# Sendmail relays for these clients (class R); relaydiag trusts only the
# first (TrustedNetworks): from the second, Sendmail accepts a relay that
# relaydiag considers unauthorized (deployment 2).
SM_RELAY_OK_IP=127.0.0.6
RD_SM_RELAY_CLIENTS="$RD_TRUSTED_IP $SM_RELAY_OK_IP"
# The log front end reads Sendmail's syslog (captured by sendmail.sh) for
# what the milter does not see: Sendmail's own check_rcpt refusals.
MILTER_LINES=("SubmissionPorts $RD_SM_SUBMISSION_PORT" "TrustedNetworks $RD_TRUSTED_IP/32"
	"LogFile $RD_SM_SYSLOG" "LogFormat sendmail")

rd_e2e_start_milter "${MILTER_LINES[@]}" "Mode annotate"
rd_e2e_start_sendmail

ev() { rd_e2e_wait_for "$RD_EVENTS" "$1" 10 "${@:2}" || true; }
rcpt_sel() { printf 'select(.type=="rcpt" and .rcpt.addr=="%s")' "$1"; }
relayed_count() { find "$RD_SM_DIR/relayed/$1/new" -type f 2>/dev/null | wc -l; }

rd_assert_grep "$RD_SM_CF" '^Xrelaydiag, S=local:.*/rd/relaydiag\.sock, F=T, T=S:30s;R:30s;E:5m' \
	"the .cf has the INPUT_MAIL_FILTER line"

# -- 1. Sendmail's own relay refusal (check_rcpt), a desktop client on the MX port
rd_e2e_sm_swaks --local-interface 127.0.0.5 --helo UserPC --from carl@client.test \
	--to bob@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* 550 5\.7\.1 <bob@gmail\.test>\.\.\. Relaying denied' \
	"client sees Sendmail's own refusal: 550 5.7.1 ... Relaying denied"
rd_e2e_sm_swaks --local-interface 127.0.0.8 --helo mail.client.test \
	--to carol@remote.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* 550 5\.7\.1 <carol@remote\.test>\.\.\. Relaying denied' \
	"and to a server-like client (FQDN HELO)"
ev 'select(.type=="session" and .client.ip=="127.0.0.8")'
if rd_e2e_sm_compiled_with _FFR_MILTER_CHECK_REJECTIONS_TOO; then
	sel=$(rcpt_sel bob@gmail.test)
	ev "$sel"
	rd_assert_jq "$RD_EVENTS" "$sel | .mta.verdict==\"reject\" and .mta.dsn==\"5.7.1\" and (.mta.text|test(\"Relaying denied\"))" \
		"SMFIP_RCPT_REJ: the rcpt event carries Sendmail's DSN 5.7.1 and text"
	rd_assert_jq "$RD_EVENTS" "$sel | .diagnosis.id==\"relay.client-on-port-25\"" \
		"non-FQDN HELO on the MX port: relay.client-on-port-25"
	rd_assert_jq "$RD_EVENTS" "$(rcpt_sel carol@remote.test) | .diagnosis.id==\"relay.no-auth\"" \
		"FQDN HELO: relay.no-auth"
else
	# Debian's sendmail 8.17.1.9 is built without
	# _FFR_MILTER_CHECK_REJECTIONS_TOO: a RCPT rejected by check_rcpt
	# (relaying denied, access db) raises an exception before the
	# milter call is "safe" (srvrsmtp.c), so no milter ever sees it,
	# SMFIP_RCPT_REJ or not. Pin the fact: if a rebuilt binary changes
	# it, the branch above runs.
	rd_diag "this sendmail lacks _FFR_MILTER_CHECK_REJECTIONS_TOO: relay refusals by check_rcpt never reach a milter"
	rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .front_end=="milter" and (.rcpt.addr=="bob@gmail.test" or .rcpt.addr=="carol@remote.test"))' 0 \
		"known limitation: Sendmail does not report check_rcpt rejections to milters (no milter event)"
	rd_assert_jq "$RD_EVENTS" 'select(.type=="session" and .client.ip=="127.0.0.5" and .client.helo=="UserPC") | .counts.rcpts_rejected==0 and .counts.messages==0' \
		"relaydiag still sees the refused client's session (connect, HELO), with no recipient"
	# Sendmail logs it: the log front end, joined by queue id with the
	# milter's view of the same transaction (HELO, port, sender)
	rd_assert_grep "$RD_SM_SYSLOG" 'ruleset=check_rcpt, arg1=<bob@gmail\.test>, relay=\[127\.0\.0\.5\].*reject=550 5\.7\.1 <bob@gmail\.test>\.\.\. Relaying denied' \
		"Sendmail's syslog has its check_rcpt refusal"
	ev "$(rcpt_sel bob@gmail.test)"
	ev "$(rcpt_sel carol@remote.test)"
	rd_assert_jq "$RD_EVENTS" "$(rcpt_sel bob@gmail.test) | .front_end==\"log\" and .diagnosis.id==\"relay.client-on-port-25\" and .client.helo==\"UserPC\" and .server.port==$RD_SM_MX_PORT and .sender.addr==\"carl@client.test\" and .mta.verdict==\"reject\"" \
		"from the log, joined with the milter's view: relay.client-on-port-25 (HELO UserPC, the MX port)"
	rd_assert_jq "$RD_EVENTS" "$(rcpt_sel carol@remote.test) | .front_end==\"log\" and .diagnosis.id==\"relay.no-auth\"" \
		"from the log: FQDN HELO, relay.no-auth"
	rd_assert_jq_count "$RD_EVENTS" "$(rcpt_sel bob@gmail.test)" 1 "one decision, one event"
fi

# -- 2. a relay from a trusted network (Sendmail class R, relaydiag TrustedNetworks)
rd_e2e_sm_swaks --local-interface "$RD_TRUSTED_IP" --helo relay.client.test \
	--from relay.sender@client.test --to erin@gmail.test --header "Subject: sendmail trusted relay"
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.1\.5 <erin@gmail\.test>\.\.\. Recipient ok' \
	"Sendmail relays for the trusted network"
sel=$(rcpt_sel erin@gmail.test)
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .client.ip==\"$RD_TRUSTED_IP\" and .client.trusted==true and .relay.by==\"network\" and .mta.verdict==\"accept\" and .diagnosis.id==\"relay.authorized-network\"" \
	"trusted client: relay.authorized-network"
rd_assert_jq "$RD_EVENTS" "$sel | .server.port==$RD_SM_MX_PORT and .server.daemon==\"MTA\" and .server.submission==false" \
	"the MX-like listener reached relaydiag: {daemon_port}=$RD_SM_MX_PORT, {daemon_name}=MTA"
rd_assert_jq "$RD_EVENTS" "$sel | .rcpt.class==\"external\" and .action==\"header\"" \
	"external recipient; annotate mode adds the header"
for _ in $(seq 50); do [ "$(relayed_count erin_gmail.test)" -ge 1 ] && break; sleep 0.1; done
msg=$(find "$RD_SM_DIR/relayed/erin_gmail.test/new" -type f 2>/dev/null | head -n 1)
rd_assert_contains "${msg:-/nonexistent}" "Subject: sendmail trusted relay" \
	"the relayed message reached the (local, discarding) relay mailer"
rd_assert_contains "${msg:-/nonexistent}" "diagnosis=relay.authorized-network" \
	"the relayed message carries relaydiag's header"

# -- 3. SMTP AUTH (Cyrus sasldb) on the submission-like port (Name=MSA, M=Ea)
rd_e2e_sm_swaks --port "$RD_SM_SUBMISSION_PORT" --local-interface 127.0.0.7 --helo UserPC \
	--auth PLAIN --auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test --header "Subject: sendmail submission"
rd_assert_contains "$RD_TRANSCRIPT" "235 2.0.0 OK Authenticated" "AUTH PLAIN against the private sasldb"
qid=$(grep -oE '<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted for delivery' "$RD_TRANSCRIPT" | awk '{print $4}')
rd_assert_ok "Sendmail queued the authenticated relay (queue id '$qid')" test -n "$qid"
sel=$(rcpt_sel dave@gmail.test)
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .auth.user==\$u and .auth.mech==\"PLAIN\" and .relay.by==\"sasl\" and .diagnosis.id==\"relay.authorized-sasl\"" \
	"{auth_authen}/{auth_type} reached relaydiag: relay.authorized-sasl" --arg u "$RD_ALICE_USER"
rd_assert_jq "$RD_EVENTS" "$sel | .server.port==$RD_SM_SUBMISSION_PORT and .server.daemon==\"MSA\" and .server.submission==true" \
	"the submission-like listener reached relaydiag: {daemon_port}=$RD_SM_SUBMISSION_PORT, {daemon_name}=MSA"
ev 'select(.type=="message" and .auth.user != null)'
rd_assert_jq "$RD_EVENTS" 'select(.type=="message" and .auth.user==$u) | .queue_id==$q' \
	"message event carries Sendmail's queue id ({i})" --arg u "$RD_ALICE_USER" --arg q "$qid"
rd_e2e_sm_swaks --port "$RD_SM_SUBMISSION_PORT" --local-interface 127.0.0.7 --helo UserPC \
	--auth LOGIN --auth-user "$RD_BOB_USER" --auth-password wrong-password \
	--from "$RD_BOB_USER" --to dave@gmail.test --quit-after AUTH
rd_assert_contains "$RD_TRANSCRIPT" "535 5.7.0 authentication failed" "a wrong password is refused"
ev 'select(.type=="auth" and .client.ip=="127.0.0.7")'
rd_assert_jq "$RD_EVENTS" 'select(.type=="auth" and .client.ip=="127.0.0.7") | .auth_failure.mta=="sendmail" and .auth_failure.mech=="LOGIN" and .auth_failure.user==$u and .auth==null and .front_end=="log"' \
	"Sendmail's logged AUTH failure: an auth event from the log front end, with the login" --arg u "$RD_BOB_USER"
rd_e2e_sm_swaks --port "$RD_SM_SUBMISSION_PORT" --local-interface 127.0.0.7 --helo UserPC \
	--from "$RD_BOB_USER" --to dave@gmail.test --quit-after MAIL
rd_assert_contains "$RD_TRANSCRIPT" "530 5.7.0 Authentication required" \
	"the MSA port requires AUTH (M=a)"

# -- 4. local delivery, annotate mode: the header in the delivered message
n0=$(rd_e2e_delivered_count "$RD_ALICE_USER")
rd_e2e_sm_swaks --local-interface 127.0.0.5 --helo mail.client.test --to "$RD_ALICE_USER" \
	--header "Subject: sendmail local" --header "X-Relay-Diagnostic: forged by the client"
rd_e2e_wait_delivered $((n0 + 1)) 10 "$RD_ALICE_USER" || true
sel='select(.type=="rcpt" and .rcpt.addr==$a)'
ev "$sel" --arg a "$RD_ALICE_USER"
rd_assert_jq "$RD_EVENTS" "$sel | .rcpt.class==\"local\" and .relay.by==\"local\" and .mta.verdict==\"accept\" and .diagnosis.id==\"delivery.local\" and .action==\"header\"" \
	"local recipient ({rcpt_mailer}=local): delivery.local, header added" --arg a "$RD_ALICE_USER"
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_contains "${msg:-/nonexistent}" "Subject: sendmail local" "Sendmail delivered the message locally"
rd_assert_contains "${msg:-/nonexistent}" "by $RD_SM_HOSTNAME (8.17" "it went through Sendmail (Received)"
rd_assert_grep "${msg:-/nonexistent}" '^X-Relay-Diagnostic: '"$RD_SM_HOSTNAME"'; session=' \
	"the delivered message has relaydiag's X-Relay-Diagnostic header"
rd_assert_contains "${msg:-/nonexistent}" "port=$RD_SM_MX_PORT;" "the header names the listener port"
rd_assert_contains "${msg:-/nonexistent}" "diagnosis=delivery.local" "and the diagnosis"
rd_assert_not_contains "${msg:-/nonexistent}" "forged by the client" \
	"a client's own X-Relay-Diagnostic header is removed"

# -- 5. annotate: a relay Sendmail accepts (class R) but relaydiag does not trust
# (a sender of its own in each unauthorized relay below: a sender that
# relayed with authorization from elsewhere would be relay.ip-changed)
rd_e2e_sm_swaks --local-interface "$SM_RELAY_OK_IP" --helo UserPC \
	--from frank.sender@home.test --to frank@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' \
	"annotate mode: Sendmail's decision stands (relayed)"
sel=$(rcpt_sel frank@gmail.test)
ev "$sel"
rd_assert_jq "$RD_EVENTS" "$sel | .mta.verdict==\"accept\" and .relay.authorized==false and .client.trusted==false and .diagnosis.id==\"relay.authorized-mta\" and .action==\"header\"" \
	"a relay Sendmail let through for a client relaydiag does not trust: relay.authorized-mta, never worded as a refusal"

# -- 6. deployment 2 (RelayGate): relaydiag's explanatory multi-line reject,
#       as the client sees it. Without RelayGate the MTA's acceptance stands.
rd_e2e_stop_milter
rd_e2e_start_milter "${MILTER_LINES[@]}" "Mode enforce" "RelayGate yes"
n0=$(rd_e2e_delivered_count "$RD_ALICE_USER")
rd_e2e_sm_swaks --local-interface "$SM_RELAY_OK_IP" --helo UserPC \
	--from grace.sender@home.test --to "grace@gmail.test,$RD_ALICE_USER" --header "Subject: sendmail enforce"
sel=$(rcpt_sel grace@gmail.test)
ev "$sel"
eid=$(jq -r "$sel | .id" "$RD_EVENTS" | head -n 1)
rd_assert_jq "$RD_EVENTS" "$sel | .action==\"reject\" and .mta.verdict==\"accept\" and .diagnosis.id==\"relay.client-on-port-25\"" \
	"RelayGate: relaydiag rejects the relay Sendmail would have accepted (action reject)"
reply=$(grep -E '^<\*\* 554[- ]' "$RD_TRANSCRIPT" | head -n 32)
rd_assert_ok "the client gets a multi-line reply: 554-5.7.1 lines, then one 554 5.7.1 line" \
	awk -v n="$(printf '%s\n' "$reply" | wc -l)" \
	'NR < n && !/^<\*\* 554-5\.7\.1 / { exit 1 } NR == n && !/^<\*\* 554 5\.7\.1 / { exit 1 } END { exit n < 3 }' \
	<<<"$reply"
rd_assert_contains "$RD_TRANSCRIPT" "<** 554-5.7.1 Relay access denied for <grace@gmail.test>" \
	"the reply explains the refusal"
rd_assert_contains "$RD_TRANSCRIPT" "<** 554 5.7.1 Ref relay.client-on-port-25 $eid" \
	"its last line is '554 5.7.1 Ref relay.client-on-port-25 <event id>'"
rd_assert_grep "$RD_TRANSCRIPT" "<-  250 2\\.1\\.5 <$RD_ALICE_USER>\\.\\.\\. Recipient ok" \
	"the local recipient of the same transaction is still accepted"
rd_e2e_wait_delivered $((n0 + 1)) 10 "$RD_ALICE_USER" || true
rd_assert_eq "$(rd_e2e_delivered_count "$RD_ALICE_USER")" "$((n0 + 1))" "and delivered"
rd_assert_eq "$(relayed_count grace_gmail.test)" 0 "the rejected relay went nowhere"
rd_e2e_sm_swaks --local-interface "$SM_RELAY_OK_IP" --helo mail.client.test \
	--from hank.sender@office.test --to hank@remote.test --quit-after RCPT
sel=$(rcpt_sel hank@remote.test)
ev "$sel"
eid=$(jq -r "$sel | .id" "$RD_EVENTS" | head -n 1)
rd_assert_contains "$RD_TRANSCRIPT" "<** 554 5.7.1 Ref relay.no-auth $eid" \
	"a server-like client (FQDN HELO) gets relay.no-auth"

# -- 7. every event valid against the schema
rd_assert_ok "every event has a unique id" \
	bash -c "[ -z \"\$(jq -r .id '$RD_EVENTS' | sort | uniq -d)\" ]"
rd_assert_ok "all events valid against docs/event.schema.json" \
	"$RD_SRC/tests/tools/check-events" "$RD_EVENTS"

# -- 8. nothing left behind
rd_e2e_stop_sendmail
rd_assert_eq "$(rd_e2e_sm_ns_pids | wc -l)" 0 "no process left in Sendmail's PID namespace"
rd_assert_ok "both Sendmail ports are free again" \
	bash -c "[ -z \"\$(ss -Htln '( sport = :$RD_SM_MX_PORT or sport = :$RD_SM_SUBMISSION_PORT )')\" ]"

rd_e2e_finish
