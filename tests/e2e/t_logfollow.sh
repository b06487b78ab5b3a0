#!/bin/bash
# t_logfollow.sh - the log front end (issue 16): what no milter sees, read
# from the MTA's log (LogFile = our Postfix's maillog_file) by the same
# daemon that serves the milter. Two private Postfix instances: ours, and
# a "remote" one that refuses to relay (554 on one port, 454 soft_bounce
# on another); our Postfix sends remote.test, moved.test and soft.test
# there. Proves, on real lines:
#  - remote.relay-denied, saying whether the refusing server is the
#    domain's MX (DNS data of our own: remote.test's MX is that server,
#    moved.test's is another), bounced and deferred; the outbound alert;
#  - remote.relayhost-auth once that server is one of RelayHosts;
#  - failed AUTH of several users: auth events (auth stays null),
#    alert.auth-outage; a refused relay from a client that just failed
#    AUTH is relay.auth-failed (the milter's event);
#  - rotation (postfix logrotate: rename) and copytruncate while running;
#    a restart that resumes from the saved position: no gap, no duplicate;
#  - hostile text in a logged line never breaks an event.

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
rd_e2e_remote_dns "$run/unbound.conf"

rd_e2e_start_remote
cat >"$run/transport" <<EOF2
remote.test smtp:[127.0.0.1]:$RD_E2E_REMOTE_PORT
moved.test smtp:[127.0.0.1]:$RD_E2E_REMOTE_PORT
soft.test smtp:[127.0.0.1]:$RD_E2E_REMOTE_SOFT_PORT
viarelay.test smtp:[127.0.0.1]:$RD_E2E_REMOTE_PORT
EOF2
touch -d '-10 seconds' "$run/transport"
RD_MILTER=unix:$run/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "transport_maps = texthash:$run/transport" \
	"maillog_file_compressor = gzip" "maillog_file_rotate_suffix = %Y%m%d-%H%M%S"
chmod 0644 "$RD_MAILLOG"
milter_lines=("Mode annotate" "LogFile $RD_MAILLOG" "LogFormat postfix sendmail"
	"MXCheck yes" "DNSConfig $run/unbound.conf" "MXHosts mx.relaydiag.test"
	"OutboundDomains 3" "OutageSenders 2")
rd_e2e_start_milter "${milter_lines[@]}"
rd_wait 10 0.1 grep -q 'log front end following' "$RD_MILTER_LOG" ||
	rd_e2e_bail "relaydiag does not follow $RD_MAILLOG"

# delivered RCPT JQ DESC: the delivery event for RCPT, then a check on it
delivery() {
	rd_e2e_assert_event 'select(.type=="delivery" and .delivery.rcpt==$r)' "$2" "$3" 30 --arg r "$1"
}
# send RCPT: a trusted client's mail, accepted by our Postfix
send() {
	rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test \
		--from staff@example.test --to "$1"
	rd_assert_grep "$RD_TRANSCRIPT" '<- +250 2\.0\.0 Ok: queued' "our Postfix accepts the mail for $1"
}

# -- outbound refusals
send a@remote.test
delivery a@remote.test '.diagnosis.id=="remote.relay-denied" and .delivery.status=="bounced" and .delivery.reply.code=="554" and .front_end=="log" and .client==null and (.diagnosis.remedy_admin | test("127\\.0\\.0\\.1 is an MX of remote\\.test: the recipient.s own server refuses its domain"))' \
	"remote.relay-denied: the refusing server is the domain's MX: their configuration"
send b@moved.test
delivery b@moved.test '.diagnosis.id=="remote.relay-denied" and (.diagnosis.remedy_admin | test("127\\.0\\.0\\.1 is not an MX of moved\\.test \\(its MX: mx\\.new-home\\.test\\): our routing"))' \
	"remote.relay-denied: the refusing server is not the domain's MX: our routing"
send c@soft.test
delivery c@soft.test '.diagnosis.id=="remote.relay-denied" and .delivery.status=="deferred" and .delivery.reply.code=="454"' \
	"a 454 (soft_bounce) refusal: deferred, same cause"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.outbound-refusals")' 20 >/dev/null || true
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.outbound-refusals")' 1 \
	"three remote domains refused: alert.outbound-refusals, once"

# -- failed AUTH of several users, then a relay from one of those clients
for who in 40:"$RD_ALICE_USER" 41:"$RD_BOB_USER"; do
	rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
		--local-interface "127.0.0.${who%%:*}" --auth-user "${who#*:}" \
		--auth-password wrong-password --from "${who#*:}" --to h@gmail.test
done
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="auth" and .client.ip=="127.0.0.41")' 20 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="auth" and .client.ip=="127.0.0.40") | .auth==null and .auth_failure.user==$u and .auth_failure.mech=="PLAIN" and .diagnosis==null' \
	"a failed AUTH: an auth event; auth stays null (nobody logged in)" --arg u "$RD_ALICE_USER"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage")' 10 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage") | .threshold.metric=="auth_failures_distinct_logins" and .threshold.observed>=2' \
	"two logins failing: alert.auth-outage, from the log alone"
rd_e2e_swaks --local-interface 127.0.0.40 --helo alice-laptop.example.test \
	--from "$RD_ALICE_USER" --to i@gmail.test --quit-after RCPT
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="i@gmail.test")' 10 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="i@gmail.test") | .diagnosis.id=="relay.auth-failed" and .front_end=="milter" and (.diagnosis.summary | test("as alice@example\\.test"))' \
	"a refused relay right after a failed AUTH: relay.auth-failed"

# -- rotation by rename (postfix logrotate), then the next refusal
postfix -c "$RD_POSTFIX_CONF" logrotate >/dev/null 2>&1 || rd_fail "postfix logrotate"
# postlogd creates the new file at its next record, mode 0600 (umask 077):
# give it one, then let relaydiag's user read it (see relaydiag.conf(5))
postlog -c "$RD_POSTFIX_CONF" -t rotation-test "the new maillog" </dev/null >/dev/null 2>&1
rd_wait 30 0.1 test -s "$RD_MAILLOG" || rd_e2e_bail "no new $RD_MAILLOG 30 s after postfix logrotate"
chmod 0644 "$RD_MAILLOG" || rd_e2e_bail "cannot chmod the new $RD_MAILLOG"
send d@remote.test
delivery d@remote.test '.diagnosis.id=="remote.relay-denied"' "after a rotation by rename, the new log is followed"

# -- copytruncate, then a line written to the log
cp "$RD_MAILLOG" "$RD_MAILLOG.copy"
: >"$RD_MAILLOG"
sleep 0.5
printf '%s mx postfix/smtp[9]: 1A2B3C4D5E: to=<e@remote.test>, relay=127.0.0.1[127.0.0.1]:%s, delay=0.1, delays=0/0/0/0.1, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <e@remote.test>: Relay access denied (in reply to RCPT TO command))\n' \
	"$(LC_ALL=C date '+%b %e %H:%M:%S')" "$RD_E2E_REMOTE_PORT" >>"$RD_MAILLOG"
delivery e@remote.test '.diagnosis.id=="remote.relay-denied"' "after copytruncate, the log is read again from its start"

# -- a restart: what was logged meanwhile is read, nothing twice
rd_e2e_stop_milter
printf '%s mx postfix/smtp[9]: 1A2B3C4D5F: to=<f@remote.test>, relay=127.0.0.1[127.0.0.1]:%s, delay=0.1, delays=0/0/0/0.1, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <f@remote.test>: Relay access denied (in reply to RCPT TO command))\n' \
	"$(LC_ALL=C date '+%b %e %H:%M:%S')" "$RD_E2E_REMOTE_PORT" >>"$RD_MAILLOG"
rd_e2e_start_milter "${milter_lines[@]}"
delivery f@remote.test '.diagnosis.id=="remote.relay-denied"' "a line logged while relaydiag was down is read at restart (no gap)"
for r in a@remote.test b@moved.test d@remote.test e@remote.test f@remote.test; do
	rd_assert_jq_count "$RD_EVENTS" 'select(.type=="delivery" and .delivery.rcpt==$r)' 1 \
		"$r: one delivery event, not two (no duplicate across rotation and restart)" --arg r "$r"
done

# -- the relayhost: the same server, now one of RelayHosts (a reload)
printf 'RelayHosts 127.0.0.1\n' >>"$RD_MILTER_CONF"
rd_e2e_reload_milter
rd_wait 10 0.1 grep -q 'reload' "$RD_MILTER_LOG" || true
sleep 0.5
send g@viarelay.test
delivery g@viarelay.test '.diagnosis.id=="remote.relayhost-auth" and (.diagnosis.remedy_admin | test("smtp_sasl_auth_enable = yes"))' \
	"a relay refusal from a RelayHosts server: remote.relayhost-auth"

# -- hostile text in a logged line (a Sendmail line: LogFormat sendmail)
printf '%s mx sm-mta[4242]: 4B73ElWx004242: ruleset=check_rcpt, arg1=<x\033[31m%%s\001@gmail.test>, relay=evil\033]0;x\007 [127.0.0.50], reject=550 5.7.1 <x@gmail.test>... Relaying denied \377\376\n' \
	"$(LC_ALL=C date '+%b %e %H:%M:%S')" >>"$RD_MAILLOG"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="rcpt" and .client.ip=="127.0.0.50")' 10 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .client.ip=="127.0.0.50") | .front_end=="log" and (.mta.text | test("Relaying denied"))' \
	"a Sendmail refusal with control and 8-bit bytes: one valid event"
rd_e2e_milter_alive "relaydiag still running"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_finish
