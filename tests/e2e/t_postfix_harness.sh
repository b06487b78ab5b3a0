#!/bin/bash
# t_postfix_harness.sh - the e2e harness itself, without relaydiag: the
# private Postfix refuses relaying for untrusted unauthenticated clients,
# relays for SASL-authenticated and trusted ones, delivers example.test for
# real, honours smtpd_tls_auth_only, and wires RD_MILTER into smtpd_milters.

unset RD_MILTER
. "$(dirname "$0")/lib.sh"

rd_e2e_start_postfix

# -- untrusted, unauthenticated clients cannot relay
rd_e2e_swaks --to bob@gmail.test --quit-after RCPT
rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1" "127.0.0.1 unauthenticated -> external: 554 5.7.1"
rd_assert_contains "$RD_TRANSCRIPT" "Relay access denied" "127.0.0.1 unauthenticated -> external: Relay access denied"

rd_e2e_swaks --local-interface 127.0.0.5 --to carol@remote.test --quit-after RCPT
rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1 <carol@remote.test>: Relay access denied" \
	"127.0.0.5 unauthenticated -> external: Relay access denied"

# -- STARTTLS + AUTH PLAIN on the submission port relays
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test --header "Subject: relay via submission"
rd_assert_contains "$RD_TRANSCRIPT" "220 2.0.0 Ready to start TLS" "submission: STARTTLS"
rd_assert_contains "$RD_TRANSCRIPT" "235 2.7.0 Authentication successful" "submission: AUTH PLAIN as alice"
rd_assert_grep "$RD_TRANSCRIPT" '<~  250 2\.0\.0 Ok: queued as' "submission: authenticated relay queued (250)"
rd_assert_eq "$RD_SWAKS_RC" 0 "submission: swaks exit status 0"
rd_e2e_wait_maillog 'postfix/discard\[[0-9]+\]: .*to=<dave@gmail\.test>.*status=sent' 10 || true
rd_assert_grep "$RD_MAILLOG" 'postfix/submission/smtpd\[[0-9]+\]: .*sasl_method=PLAIN, sasl_username=alice@example\.test' \
	"maillog: submission smtpd logged the SASL login"
rd_assert_grep "$RD_MAILLOG" 'postfix/discard\[[0-9]+\]: .*to=<dave@gmail\.test>.*status=sent' \
	"maillog: relayed mail went to the discard transport"

# -- a wrong password is refused
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_BOB_USER" --auth-password wrong --to dave@gmail.test
rd_assert_contains "$RD_TRANSCRIPT" "535 5.7.8" "submission: wrong password -> 535 5.7.8"

# -- a trusted client (mynetworks) relays without AUTH
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --to erin@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.1\.5 Ok' "trusted $RD_TRUSTED_IP: RCPT accepted"
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 Ok: queued as' "trusted $RD_TRUSTED_IP: relay queued"

# -- local delivery for example.test
subject="harness local delivery $$-$RANDOM"
rd_e2e_swaks --to "$RD_ALICE_USER" --header "Subject: $subject"
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 Ok: queued as' "local delivery: queued"
rd_e2e_wait_delivered 1 10 "$RD_ALICE_USER" || true
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
rd_assert_ok "local delivery: a message arrived in alice's maildir" test -n "$msg"
rd_assert_contains "${msg:-/nonexistent}" "Subject: $subject" "delivered message has the Subject"
rd_assert_contains "${msg:-/nonexistent}" "Delivered-To: $RD_ALICE_USER" "delivered message has Delivered-To"
rd_assert_eq "$(rd_e2e_delivered_message)" "$msg" "rd_e2e_delivered_message without an address finds it too"

rd_e2e_swaks --to nobody@example.test --quit-after RCPT
rd_assert_contains "$RD_TRANSCRIPT" "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table" \
	"unknown local user: 550 5.1.1"

# -- smtpd_tls_auth_only = yes: no AUTH before STARTTLS
RD_E2E_TLS_AUTH_ONLY=yes rd_e2e_restart_postfix
rd_assert_eq "$(rd_e2e_postconf -h smtpd_tls_auth_only)" yes "restarted with smtpd_tls_auth_only = yes"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" --to dave@gmail.test
rd_assert_not_contains "$RD_TRANSCRIPT" "250-AUTH" "tls_auth_only: AUTH not offered before STARTTLS"
rd_assert_not_contains "$RD_TRANSCRIPT" "235 2.7.0" "tls_auth_only: AUTH without TLS fails"
rd_assert_ok "tls_auth_only: swaks failed (exit $RD_SWAKS_RC)" test "$RD_SWAKS_RC" -ne 0
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" --to dave@gmail.test
rd_assert_contains "$RD_TRANSCRIPT" "235 2.7.0 Authentication successful" "tls_auth_only: AUTH after STARTTLS works"

# -- milter wiring: RD_MILTER reaches smtpd_milters; nobody listening -> tempfail
RD_MILTER=unix:$RD_E2E_DIR/no-milter.sock rd_e2e_restart_postfix
rd_assert_eq "$(rd_e2e_postconf -h smtpd_milters)" "unix:$RD_E2E_DIR/no-milter.sock" "smtpd_milters = RD_MILTER"
rd_assert_eq "$(rd_e2e_postconf -h milter_default_action)" tempfail "milter_default_action defaults to tempfail"
rd_e2e_swaks --to "$RD_ALICE_USER" --quit-after RCPT
rd_assert_contains "$RD_TRANSCRIPT" "451 4.7.1 Service unavailable - try again later" \
	"milter down + tempfail: 451 4.7.1"

rd_e2e_finish
