#!/bin/bash
# t_exim.sh - Exim, which has no milter, seen through its log alone (issue
# 16): a real Exim 4.96 (tests/e2e/exim.sh) writes its mainlog with
# +incoming_port +incoming_interface; relaydiag follows it (LogFile,
# LogFormat exim). A remote Postfix refuses to relay. Proves, on the lines
# Exim itself writes:
#  - a refused relay is one short session (front_end "log"), judged by the
#    listener Exim names (I=[ip]:port): the same unauthenticated client is
#    "not logged in" on the submission port and "a client on port 25" on
#    the MX port;
#  - failed AUTH: auth events with the login Exim names (set_id), an
#    outage alert from distinct logins, and relay.auth-failed for a refused
#    relay right after;
#  - an authenticated relay, accepted, gives no event at all (the log front
#    end never invents a refusal);
#  - an outbound refusal (** bounced, == deferred) is remote.relay-denied,
#    with the MX check;
#  - hostile bytes in the HELO never break an event.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/exim.sh"

run=$RD_E2E_DIR
rd_e2e_remote_dns "$run/unbound.conf"

rd_e2e_start_remote
rd_e2e_start_exim
rd_e2e_start_milter "Mode annotate" "LogFile $RD_EXIM_MAINLOG" "LogFormat exim" \
	"SubmissionPorts $RD_EXIM_SUBMISSION_PORT" "MXCheck yes" "DNSConfig $run/unbound.conf" \
	"MXHosts mx.relaydiag.test" "OutageSenders 2"
rd_wait 10 0.1 grep -q 'log front end following' "$RD_MILTER_LOG" ||
	rd_e2e_bail "relaydiag does not follow $RD_EXIM_MAINLOG"

# rcpt RCPT JQ DESC: the rcpt event for RCPT (from the log), then a check
rcpt() {
	rd_e2e_assert_event 'select(.type=="rcpt" and .rcpt.addr==$r)' "$2" "$3" 20 --arg r "$1"
}

# -- the same unauthenticated client, refused on each listener
rd_e2e_exim_swaks --local-interface 127.0.0.5 --helo UserPC --from a@client.test \
	--to mx1@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +550 relay not permitted' "Exim refuses the relay on its MX port"
rd_assert_grep "$RD_EXIM_MAINLOG" 'I=\[127\.0\.0\.1\]:'"$RD_EXIM_MX_PORT"' F=<a@client\.test> rejected RCPT <mx1@gmail\.test>: relay not permitted' \
	"Exim logs the refusal with the listener (I=)"
rcpt mx1@gmail.test '.front_end=="log" and .diagnosis.id=="relay.client-on-port-25" and .client.ip=="127.0.0.5" and .mta.verdict=="reject" and (.mta.text|test("relay not permitted")) and .sender.addr=="a@client.test" and .server.port=='"$RD_EXIM_MX_PORT"' and .server.submission==false' \
	"a refusal on the MX port: relay.client-on-port-25"
rd_e2e_swaks --port "$RD_EXIM_SUBMISSION_PORT" --local-interface 127.0.0.5 --helo UserPC \
	--from a@client.test --to sub1@gmail.test --quit-after RCPT
rcpt sub1@gmail.test '.front_end=="log" and .diagnosis.id=="relay.no-auth" and .auth==null and .server.port=='"$RD_EXIM_SUBMISSION_PORT"' and .server.submission==true' \
	"the same client on the submission port: relay.no-auth (its mail program never logged in)"

# -- an authenticated relay: accepted, so no event
rd_e2e_swaks --port "$RD_EXIM_SUBMISSION_PORT" --local-interface 127.0.0.6 \
	--auth PLAIN --auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to ok1@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 OK id=' "Exim accepts a logged-in user's relay"

# -- failed AUTH of two users, then a relay from one of those clients
for who in 40:"$RD_ALICE_USER" 41:"$RD_BOB_USER"; do
	rd_e2e_swaks --port "$RD_EXIM_SUBMISSION_PORT" --auth PLAIN \
		--local-interface "127.0.0.${who%%:*}" --auth-user "${who#*:}" \
		--auth-password wrong-password --from "${who#*:}" --to h@gmail.test
done
rd_assert_grep "$RD_EXIM_MAINLOG" 'plain authenticator failed for .*\[127\.0\.0\.40\]:[0-9]+ I=\[127\.0\.0\.1\]:'"$RD_EXIM_SUBMISSION_PORT"': 535 Incorrect authentication data \(set_id=alice@example\.test\)' \
	"Exim logs the failed AUTH with the listener and the login"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="auth" and .client.ip=="127.0.0.41")' 20 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="auth" and .client.ip=="127.0.0.40") | .auth==null and .auth_failure.user==$u and .auth_failure.mech=="plain" and .front_end=="log" and .server.port=='"$RD_EXIM_SUBMISSION_PORT"' and .server.submission==true' \
	"a failed AUTH: an auth event naming the login; auth stays null" --arg u "$RD_ALICE_USER"
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage")' 10 >/dev/null || true
rd_assert_jq "$RD_EVENTS" 'select(.type=="alert" and .diagnosis.id=="alert.auth-outage") | .threshold.observed>=2' \
	"two logins failing: alert.auth-outage"
rd_e2e_swaks --port "$RD_EXIM_SUBMISSION_PORT" --local-interface 127.0.0.40 --helo alice-laptop \
	--from "$RD_ALICE_USER" --to af1@gmail.test --quit-after RCPT
rcpt af1@gmail.test '.diagnosis.id=="relay.auth-failed" and (.diagnosis.summary | test("as alice@example\\.test"))' \
	"a refused relay right after a failed AUTH: relay.auth-failed"

# -- outbound: the remote server refuses to relay
send() {
	rd_e2e_exim_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test \
		--from staff@example.test --to "$1"
	rd_assert_grep "$RD_TRANSCRIPT" '<- +250 OK id=' "Exim accepts the trusted client's mail for $1"
}
delivery() {
	rd_e2e_assert_event 'select(.type=="delivery" and .delivery.rcpt==$r)' "$2" "$3" 30 --arg r "$1"
}
send a@remote.test
delivery a@remote.test '.diagnosis.id=="remote.relay-denied" and .delivery.status=="bounced" and .delivery.reply.code=="554" and .front_end=="log" and (.diagnosis.remedy_admin | test("127\\.0\\.0\\.1 is an MX of remote\\.test"))' \
	"Exim's ** line: remote.relay-denied, the refusing server is the domain's MX"
send b@moved.test
delivery b@moved.test '.diagnosis.id=="remote.relay-denied" and (.diagnosis.remedy_admin | test("is not an MX of moved\\.test"))' \
	"the refusing server is not the domain's MX: our routing"
send c@soft.test
delivery c@soft.test '.diagnosis.id=="remote.relay-denied" and .delivery.status=="deferred" and .delivery.reply.code=="454"' \
	"Exim's == line (454, deferred): the same cause"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr=="ok1@gmail.test")' 0 \
	"the accepted relay of a logged-in user: no event"

# -- hostile HELOs (the instance has helo_accept_junk_hosts = *): Exim
#    writes control bytes escaped (\033), and a HELO that writes a fake
#    client and refusal into the line fools nobody
rd_e2e_exim_swaks --local-interface 127.0.0.50 --helo $'evil\e[31m\xff%s' \
	--from x@client.test --to hostile1@gmail.test --quit-after RCPT
rd_assert_grep "$RD_EXIM_MAINLOG" $'H=\\(evil\e\\[31m\xff%s\\) \\[127\\.0\\.0\\.50\\]' \
	"Exim logs the junk HELO's raw bytes (ESC, 0xFF) as they came"
rcpt hostile1@gmail.test '.front_end=="log" and .client.ip=="127.0.0.50" and .client.helo=="evil\u001b[31m\ufffd%s"' \
	"a HELO with ESC and 0xFF: one event, ESC JSON-escaped, 0xFF become U+FFFD (docs/events.md)"
rd_assert_eq "$(grep -c $'\e' "$RD_EVENTS")" 0 "no raw ESC byte in the event stream"
rd_e2e_exim_swaks --local-interface 127.0.0.51 \
	--helo 'J) [9.9.9.9]:1 F=<s@x.test> rejected RCPT <spoof@gmail.test>: x (' \
	--from x@client.test --to hostile2@gmail.test --quit-after RCPT
rd_assert_grep "$RD_EXIM_MAINLOG" 'H=\(J\) \[9\.9\.9\.9\]:1 F=<s@x\.test> rejected RCPT <spoof@gmail\.test>: x \(\) \[127\.0\.0\.51\]' \
	"Exim logs the junk HELO as written"
rcpt hostile2@gmail.test '.client.ip=="127.0.0.51" and .sender.addr=="x@client.test"' \
	"a HELO that fakes a client and a refusal: the event names the real client"
rd_assert_jq_count "$RD_EVENTS" 'select(.client.ip=="9.9.9.9" or .rcpt.addr=="spoof@gmail.test")' 0 \
	"no event for the fake client or recipient"

# -- relaydiag -L: what the log front end makes of this mainlog
"$RELAYDIAG_BIN" -c "$RD_MILTER_CONF" -L "$RD_EXIM_MAINLOG" >"$run/logtest.txt" 2>&1
rd_assert_grep "$run/logtest.txt" '^  exim +[0-9]+ lines: delivery 3 auth 2 rcpt 5 verify 0 auth-down 0$' \
	"relaydiag -L: 3 deliveries, 2 failed AUTH, 5 refusals, all read (LogFormat exim)"
rd_assert_not_contains "$run/logtest.txt" $'\e' "relaydiag -L prints no raw ESC from the hostile HELO"

rd_e2e_milter_alive "relaydiag still running"
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_stop_exim
rd_assert_eq "$(rd_e2e_exim_ns_pids | wc -l)" 0 "no process left in Exim's PID namespace"
rd_e2e_finish
