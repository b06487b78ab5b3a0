#!/bin/bash
# t_truth.sh - diagnoses that stay true on real Postfix configurations
# (issue 17): the MTA's decision, the client's login and each listener's
# own master.cf settings bound the diagnosis. One private Postfix with:
#  - a POP-before-SMTP style client table (check_client_access texthash:)
#    that permits relaying before the relay check;
#  - the field report's order in smtpd_recipient_restrictions
#    (reject_unauth_destination before permit_sasl_authenticated);
#  - defer_unauth_destination in smtpd_relay_restrictions (a soft refusal);
#  - the MX-like listener with -o smtpd_tls_auth_only=yes while main.cf
#    says no, and a submission listener defined by address:port with
#    -o smtpd_tls_security_level=encrypt and
#    -o smtpd_client_restrictions=permit_sasl_authenticated,reject;
# and relaydiag in Mode enforce with ImportPostfix (no RelayGate), so that
# enforce is proven never to refuse what Postfix let through. Then the
# same Postfix with soft_bounce = yes.

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
pop_ip=127.0.0.30
cat >"$run/pop" <<EOF2
$pop_ip OK
EOF2
touch -d '-10 seconds' "$run/pop"

RD_E2E_MX_OPTS="-o smtpd_tls_auth_only=yes"
RD_E2E_SUBMISSION_OPTS="-o smtpd_tls_security_level=encrypt -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_tls_auth_only=no"
export RD_E2E_MX_OPTS RD_E2E_SUBMISSION_OPTS
main_cf=(
	"smtpd_relay_restrictions = check_client_access texthash:$run/pop, permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
	"smtpd_recipient_restrictions = check_client_access texthash:$run/pop, reject_unauth_destination, permit_sasl_authenticated, permit_mynetworks"
)
# Postfix first: relaydiag imports its view at start (ImportPostfix).
RD_MILTER=unix:$RD_E2E_DIR/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "${main_cf[@]}"
# SubmissionPorts 587: only the imported listener can make 2587 submission.
rd_e2e_start_milter "Mode enforce" "ImportPostfix $RD_POSTFIX_CONF" "SubmissionPorts 587"

# -- the view is visible: relaydiag -n -v
view=$run/view.txt
"$RELAYDIAG_BIN" -n -v -c "$RD_MILTER_CONF" >"$view" 2>&1 || true
rd_assert_grep "$view" "^Listener 127\.0\.0\.1:$RD_E2E_MX_PORT \(master\.cf\): port=$RD_E2E_MX_PORT .*submission=no tls_auth_only=yes" \
	"-n -v: the MX listener, with its own -o smtpd_tls_auth_only=yes"
rd_assert_grep "$view" "^Listener 127\.0\.0\.1:$RD_E2E_SUBMISSION_PORT \(master\.cf\): .*submission=yes tls_auth_only=no sasl=yes tls_required=yes sasl_required=yes" \
	"-n -v: the address:port listener is submission, from its effective settings"
rd_assert_grep "$view" "smtpd_recipient_restrictions = check_client_access texthash:.*, reject_unauth_destination, permit_sasl_authenticated, permit_mynetworks" \
	"-n -v: the effective recipient restrictions"
rd_assert_grep "$view" "smtpd_client_restrictions = permit_sasl_authenticated, ?reject" \
	"-n -v: the submission listener's -o client restrictions"

# last_rcpt RCPT: the last rcpt event for RCPT, once it is there
last_rcpt() {
	rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r)' 10 --arg r "$1" >/dev/null || true
	jq -c --arg r "$1" 'select(.type=="rcpt" and .rcpt.addr==$r)' "$RD_EVENTS" | tail -1
}
# check RCPT JQ-BOOLEAN DESC: an assertion on RCPT's last event
check() {
	local ev
	ev=$(last_rcpt "$1")
	if [ -n "$ev" ] && [ "$(jq -r "$2" <<<"$ev")" = true ]; then
		rd_pass "$3"
	else
		rd_fail "$3" "event: ${ev:-none}; wanted: $2"
	fi
}

# -- 1. POP-before-SMTP: Postfix relays for a client relaydiag does not
#       authorize. Accepted, never worded as a refusal, not refused by
#       enforce; the admin text names the client table.
rd_e2e_swaks --local-interface "$pop_ip" --helo bob-laptop.example.test \
	--from "$RD_BOB_USER" --to pop1@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 .*queued as' "POP client: Postfix relays it, and enforce lets it through"
check pop1@gmail.test '.diagnosis.id=="relay.authorized-mta" and .mta.verdict=="accept" and .action=="header"' \
	"relay.authorized-mta: accepted, header only"
check pop1@gmail.test '([.diagnosis.summary, .diagnosis.remedy_client, .diagnosis.remedy_admin] | map(. // "" | test("denied"; "i")) | any) | not' \
	"relay.authorized-mta: no 'denied' wording"
check pop1@gmail.test '.diagnosis.remedy_admin | test("smtpd_relay_restrictions: check_client_access texthash:")' \
	"relay.authorized-mta: the admin text names the client table"

# -- 2. The phone moved: the same sender from another address is refused
#       (defer_unauth_destination: 454) and it is relay.ip-changed,
#       because the accepted relay counted as authorized history.
rd_e2e_swaks --local-interface 127.0.0.31 --helo bob-phone.example.test \
	--from "$RD_BOB_USER" --to pop2@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +454 4\.7\.1 <pop2@gmail\.test>: Relay access denied' \
	"another address: Postfix defers it (454 4.7.1)"
check pop2@gmail.test ".diagnosis.id==\"relay.ip-changed\" and .mta.verdict==\"tempfail\" and (.diagnosis.facts | index(\"authorized_from=$pop_ip\") != null)" \
	"relay.ip-changed after a POP-before-SMTP relay, verdict tempfail"
check pop2@gmail.test '.diagnosis.remedy_admin | test("soft_bounce = yes or a defer_")' \
	"soft refusal: the admin text says why it is temporary"

# -- 3. Logged in, refused: the field report's recipient restrictions
rd_e2e_swaks --tls --auth PLAIN --auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to fr1@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<~?\*+ +554 5\.7\.1 <fr1@gmail\.test>: Relay access denied' \
	"logged in, Postfix still refuses (reject_unauth_destination first)"
check fr1@gmail.test '.diagnosis.id=="relay.authenticated-refused" and .auth.user!=null' \
	"relay.authenticated-refused for a client that logged in"
check fr1@gmail.test '([.diagnosis.summary, .diagnosis.remedy_client] | map(. // "" | test("not logged in|without logging in|did not log in"; "i")) | any) | not' \
	"never 'did not log in' to a logged-in client"
check fr1@gmail.test '.diagnosis.remedy_admin | test("In smtpd_recipient_restrictions = check_client_access texthash:[^,]*, reject_unauth_destination, permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination comes before permit_sasl_authenticated")' \
	"the admin text quotes the list at fault and what is out of order"

# -- 4. Trusted, refused
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test \
	--to tr1@gmail.test --quit-after RCPT
check tr1@gmail.test '.diagnosis.id=="relay.network-refused" and .client.trusted==true and .mta.verdict=="reject"' \
	"relay.network-refused for a client in mynetworks"

# -- 5. The MX listener's own -o smtpd_tls_auth_only=yes (main.cf: no)
rd_e2e_swaks --local-interface 127.0.0.32 --helo mail.partner.test \
	--from x@partner.test --to tao1@gmail.test --quit-after RCPT
check tao1@gmail.test '.diagnosis.id=="relay.tls-required-for-auth"' \
	"relay.tls-required-for-auth from the listener's own setting"

# -- 6. The submission listener (address:port, encrypt, SASL required)
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --local-interface 127.0.0.33 \
	--helo UserPC --from y@client.test --to sub1@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<~?\*+ +554 5\.7\.1 .*Client host rejected: Access denied' \
	"submission listener: Postfix refuses a client that did not log in"
check sub1@gmail.test '.diagnosis.id=="submission.no-auth" and .server.submission==true and (.mta.text | test("Client host rejected"))' \
	"submission.no-auth (not mta.client-rejected), server.submission true"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_BOB_USER" --auth-password "$RD_BOB_PASS" \
	--from "$RD_BOB_USER" --to sub2@gmail.test --quit-after RCPT
check sub2@gmail.test '.diagnosis.id=="relay.authenticated-refused"' \
	"near miss: logged in on the submission listener, refused by the recipient list"

# -- 7. soft_bounce = yes: a refusal becomes 4xx and keeps its cause
rd_e2e_restart_postfix "${main_cf[@]}" "soft_bounce = yes"
rd_e2e_swaks --tls --auth PLAIN --auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to sb1@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<~?\*+ +4[0-9][0-9] 4\.7\.1 <sb1@gmail\.test>: Relay access denied' \
	"soft_bounce: Postfix answers 4xx"
check sb1@gmail.test '.diagnosis.id=="relay.authenticated-refused" and .mta.verdict=="tempfail" and (.diagnosis.remedy_admin | test("soft_bounce = yes"))' \
	"soft_bounce: the cause id stays, verdict tempfail, the admin text says why"

# -- the truth rule over every event of the run
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .mta.verdict=="accept" and .action!="reject" and .action!="tempfail" and ([.diagnosis.summary, .diagnosis.remedy_client, .diagnosis.remedy_admin] | map(. // "" | test("denied"; "i")) | any))' 0 \
	"truth: no accepted recipient is worded as denied"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .auth != null and (.diagnosis.id | test("^relay\\.(no-auth|client-on-port-25|tls-required-for-auth|ip-changed|auth-stopped|probe)$|^submission\\.no-auth$")))' 0 \
	"truth: no logged-in client gets an id that says it did not log in"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .mta.verdict!="accept" and (.diagnosis.id | startswith("relay.authorized-")))' 0 \
	"truth: no refused recipient gets an authorized-* id"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_milter_alive "relaydiag still running"
rd_e2e_finish
