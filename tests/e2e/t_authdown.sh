#!/bin/bash
# t_authdown.sh - the field reports' broken authentication service (issue
# 16): Dovecot's auth stops in the middle of a run while several users log
# in. Postfix logs that it cannot reach its SASL service; the log front
# end (LogFile = Postfix's maillog_file) raises alert.auth-outage at once,
# from those lines, with no history of refused senders needed; once. Mail
# from the trusted network still flows, and when Dovecot is back logins
# work again with no new alert.

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
RD_MILTER=unix:$run/rd/relaydiag.sock
export RD_MILTER
# With no SASL service a new smtpd dies ("fatal: no SASL authentication
# mechanisms") and master throttles the listener for service_throttle_time
# (60 s by default: logins fail that long after the service is back)
rd_e2e_start_postfix "service_throttle_time = 1s"
chmod 0644 "$RD_MAILLOG"
rd_e2e_start_milter "Mode annotate" "LogFile $RD_MAILLOG" "LogFormat postfix"
rd_wait 10 0.1 grep -q 'log front end following' "$RD_MILTER_LOG" ||
	rd_e2e_bail "relaydiag does not follow $RD_MAILLOG"

login() {	# USER PASSWORD RCPT
	rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
		--auth-user "$1" --auth-password "$2" --from "$1" --to "$3"
}
alerts='select(.type=="alert" and .diagnosis.id=="alert.auth-outage")'

login "$RD_ALICE_USER" "$RD_ALICE_PASS" before@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<[-~] +250 2\.0\.0 Ok: queued' "with Dovecot up, alice logs in and relays"

# -- the auth service goes away; three users try
rd_e2e_stop_dovecot
login "$RD_ALICE_USER" "$RD_ALICE_PASS" down1@gmail.test
login "$RD_BOB_USER" "$RD_BOB_PASS" down2@gmail.test
login carol@example.test carol-Secret-3 down3@gmail.test
rd_assert_grep "$RD_MAILLOG" 'warning: SASL: Connect to .* failed|fatal: no SASL authentication mechanisms' \
	"Postfix logs that it cannot reach its SASL service"
rd_e2e_wait_for "$RD_EVENTS" "$alerts" 20 >/dev/null || true
rd_assert_jq "$RD_EVENTS" "$alerts | .threshold.metric==\"auth_service_unreachable\" and .front_end==\"log\" and .client.ip==null" \
	"alert.auth-outage from Postfix's own words, no count needed"
rd_assert_grep "$RD_MILTER_LOG" "crit: .*log: postfix cannot reach its authentication service: Connect to Dovecot auth socket '$RD_SASL_SOCKET' failed: No such file or directory" \
	"relaydiag's log (syslog) says it, with Postfix's first words on it"

# -- the mail flow goes on without the auth service
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test \
	--from staff@example.test --to trusted1@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 2\.0\.0 Ok: queued' "a trusted client's mail still flows"

# -- back: logins work, no second alert
rd_e2e_start_dovecot
for try in 1 2 3 4 5; do	# until master's throttle (1 s) is over
	login "$RD_ALICE_USER" "$RD_ALICE_PASS" after@gmail.test
	grep -qE '<[-~] +250 2\.0\.0 Ok: queued' "$RD_TRANSCRIPT" && break
	rd_diag "login $try after Dovecot's return failed; again in 1 s"
	sleep 1
done
rd_assert_grep "$RD_TRANSCRIPT" '<[-~] +250 2\.0\.0 Ok: queued' "Dovecot back: alice logs in and relays again"
sleep 1
rd_assert_jq_count "$RD_EVENTS" "$alerts" 1 "one outage, one alert"
rd_e2e_milter_alive "relaydiag still running"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_finish
