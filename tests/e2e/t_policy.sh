#!/bin/bash
# t_policy.sh - deployment 3: relaydiag explains to the client as a Postfix
# policy service, with Postfix's own relay check intact:
#   smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
#       permit_auth_destination, check_policy_service unix:<relaydiag>,
#       reject_unauth_destination
# relaydiag is attached as milter and policy service in one daemon. Proves,
# as swaks sees it: every unauthorized-relay cause reaches the client as
# relaydiag's text; authorized, trusted, local and relay-domain recipients
# are untouched; one decision gives one rcpt event (front_end "policy"),
# the milter counting it without a second one; with Redis down the
# explanations still come from the local cache; with the policy service
# stopped Postfix answers 4xx and nothing is ever relayed.

. "$(dirname "$0")/lib.sh"

run=$RD_E2E_DIR
psock=$run/rd/policy.sock
# the README's shape; smtpd_policy_service_default_action keeps its
# default, "451 4.3.5 Server configuration problem"
relay3="smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, check_policy_service unix:$psock, reject_unauth_destination"
extra=("$relay3" "relay_domains = backup.test")
# the submission-like listener offers AUTH only after STARTTLS
RD_E2E_SUBMISSION_OPTS="-o smtpd_tls_auth_only=yes"
export RD_E2E_SUBMISSION_OPTS
RD_MILTER=unix:$run/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "${extra[@]}"
milter_lines=("Mode annotate" "ImportPostfix $RD_POSTFIX_CONF" "PolicySocket unix:$psock" "ProbeDomains 3")
rd_e2e_start_milter "${milter_lines[@]}"
rd_wait 10 0.05 test -S "$psock" || rd_e2e_bail "no policy socket $psock"

# refused RCPT WANT-ID DESC [SWAKS ARGS...]: the client reads relaydiag's
# explanation in Postfix's one reject line
refused() {
	local rcpt=$1 want=$2 desc=$3
	shift 3
	rd_e2e_swaks --to "$rcpt" --quit-after RCPT "$@"
	rd_assert_grep "$RD_TRANSCRIPT" "<~?\\*+ +554 5\\.7\\.1 <${rcpt//./\\.}>: Recipient address rejected: .* Ref ${want//./\\.} [0-9A-Z]{16}\\.[0-9]+\$" \
		"$want: $desc: the client reads relaydiag's explanation"
}

# -- every unauthorized-relay cause, as the client sees it
refused bob@gmail.test relay.client-on-port-25 "a desktop program on the MX port" \
	--helo UserPC --from anna@client.test
rd_assert_grep "$RD_TRANSCRIPT" '554 5\.7\.1 <bob@gmail\.test>: Recipient address rejected: Relay access denied for <bob@gmail\.test>\. A mail program \(HELO "UserPC"\) connected to port [0-9]+ from 127\.0\.0\.1 without logging in\. Fix: Set the outgoing server to port 587 with STARTTLS' \
	"the whole explanation, facts and fix, on Postfix's line"
rd_assert_ok "Postfix's line stays within RFC 5321's 512 octets" \
	bash -c "! grep -E '^<~?\\*' '$RD_TRANSCRIPT' | awk 'length(\$0) - 4 > 510' | grep -q ."
refused carol@remote.test relay.no-auth "a server that may not relay" \
	--local-interface 127.0.0.5 --helo mail.partner.test --from noreply@partner.test
refused tls@remote.test relay.tls-required-for-auth "AUTH only after STARTTLS, no TLS" \
	--port "$RD_E2E_SUBMISSION_PORT" --local-interface 127.0.0.6 --helo mail.partner.test --from x@partner.test
# relay.ip-changed: alice relayed with AUTH from 127.0.0.1 (the policy
# service is not even asked), then her phone comes from 127.0.0.8
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to dave@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<~ +250 2\.0\.0 Ok: queued' "a logged-in relay is untouched"
refused frank@gmail.test relay.ip-changed "the sender relayed with authorization from another address" \
	--local-interface 127.0.0.8 --helo alice-phone.example.test --from "$RD_ALICE_USER"
rd_assert_contains "$RD_TRANSCRIPT" "relayed with authorization from 127.0.0.1 recently" \
	"relay.ip-changed names the address it was authorized from"
# relay.auth-stopped: bob logged in from 127.0.0.9, then stopped
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --local-interface 127.0.0.9 \
	--auth-user "$RD_BOB_USER" --auth-password "$RD_BOB_PASS" \
	--from "$RD_BOB_USER" --to gina@gmail.test
refused hank@gmail.test relay.auth-stopped "the same sender stopped logging in" \
	--local-interface 127.0.0.9 --helo bob-laptop.example.test --from "$RD_BOB_USER"
# relay.probe: an implausible HELO from an address with no authorized past
refused victim@remote.test relay.probe "open-relay probing" \
	--local-interface 127.0.0.66 --helo "[192.0.2.1]" --from offer@spammer.test
rd_assert_not_contains "$RD_TRANSCRIPT" "Fix:" "relay.probe: no fix offered to a prober"

# -- authorized, trusted, local and relay-domain recipients: untouched
rd_e2e_swaks --local-interface "$RD_TRUSTED_IP" --helo office.example.test --to erin@gmail.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 2\.1\.5 Ok' "trusted network: 250"
rd_e2e_swaks --local-interface 127.0.0.5 --helo mx.google.test --from friend@gmail.test --to "$RD_ALICE_USER" --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 2\.1\.5 Ok' "local recipient: 250"
rd_e2e_swaks --local-interface 127.0.0.5 --helo mx.google.test --from friend@gmail.test --to x@backup.test --quit-after RCPT
rd_assert_grep "$RD_TRANSCRIPT" '<- +250 2\.1\.5 Ok' "relay-domain recipient: 250"

# -- one decision, one event
for r in bob@gmail.test carol@remote.test tls@remote.test frank@gmail.test hank@gmail.test victim@remote.test; do
	rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r)' 10 --arg r "$r" >/dev/null || true
done
rd_e2e_wait_for "$RD_EVENTS" 'select(.type=="session" and .client.ip=="127.0.0.66")' 10 >/dev/null || true
for r in bob@gmail.test carol@remote.test tls@remote.test frank@gmail.test hank@gmail.test victim@remote.test; do
	rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r)' 1 \
		"$r: exactly one rcpt event" --arg r "$r"
	rd_assert_jq "$RD_EVENTS" 'select(.type=="rcpt" and .rcpt.addr==$r) | .front_end=="policy" and .action=="reject" and .mta.verdict=="reject"' \
		"$r: published by the policy front end" --arg r "$r"
done
rd_assert_grep "$RD_MILTER_LOG" 'to=<bob@gmail\.test> diagnosis=relay\.client-on-port-25 front_end=milter explained_by=' \
	"the milter saw the refusal and counted it, without a second event"
rd_assert_jq "$RD_EVENTS" 'select(.type=="session" and .client.ip=="127.0.0.66") | .front_end=="milter" and .counts.rcpts_rejected==1 and (.diagnoses | index("relay.probe") != null)' \
	"the milter's session event counts the policy's decision"
rd_assert_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .front_end=="milter" and .mta.verdict=="accept")' 5 \
	"the accepted recipients: the milter's events, as before"

# -- hostile requests on the socket itself: a half-sent request holds only
#    its own connection; 100 KB lines, a thousand attributes, CR/LF/NUL in
#    values never break an answer
hostile=$run/hostile.txt
python3 - "$psock" >"$hostile" 2>&1 <<'PY'
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    return s
def answer(s):
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
       b"client_address=127.0.0.40\nclient_port=40000\nhelo_name=%s\n"
       b"sender=x@partner.test\nrecipient=%s\nserver_address=127.0.0.1\n"
       b"server_port=2525\n\n")
half = conn()
half.sendall(b"request=smtpd_access_policy\nprotocol_state=RC")
t0 = time.time()
b = conn()
b.sendall(req % (b"mail.partner.test", b"h1@gmail.test"))
print("while-half:", answer(b).decode("latin-1").split("\n")[0][:40], "%.2fs" % (time.time() - t0))
big = b"helo_name=" + b"H" * 100000 + b"\n" + b"".join(b"x%d=y\n" % i for i in range(1000))
b.sendall(big + req % (b"mail.partner.test", b"h2@gmail.test"))
print("big:", answer(b).decode("latin-1").split("\n")[0][:40])
b.sendall(req % (b"x\r554 ok %s\x01\x7f\xff", b"h3@gmail.test"))
a = answer(b)
print("ctl:", "safe" if all(32 <= c < 127 for c in a[:-2]) and a.count(b"\n") == 2 else "UNSAFE", a[:20].decode("latin-1"))
b.sendall(req % (b"mail.partner.test", b"h4@gmail.test\x00evil"))
print("nul:", answer(b).decode("latin-1").split("\n")[0])
half.sendall(b"PT\nclient_address=127.0.0.41\nrecipient=h5@gmail.test\nhelo_name=a.b.test\n\n")
print("half-done:", answer(half).decode("latin-1").split("\n")[0][:40])
PY
rd_assert_grep "$hostile" '^while-half: action=REJECT 5\.7\.1 Relay access denied +0\.[0-9]+s$' \
	"a half-sent request does not stall another connection"
rd_assert_grep "$hostile" '^big: action=DUNNO$' "a 100 KB line and a thousand attributes: DUNNO, on the same connection"
rd_assert_grep "$hostile" '^ctl: safe action=REJECT 5\.7\.1' "CR, control and 8-bit bytes in helo_name: one printable answer"
rd_assert_grep "$hostile" '^nul: action=DUNNO$' "a NUL in the recipient: DUNNO"
rd_assert_grep "$hostile" '^half-done: action=REJECT 5\.7\.1' "the half-sent request, finished, is answered"
rd_e2e_milter_alive "relaydiag still running after the hostile requests"

# -- Redis down: the explanations still come, from the local cache
rd_e2e_stop_milter
rd_e2e_start_redis
rd_e2e_start_milter "${milter_lines[@]}" "RedisURL $RD_REDIS_URL" "RedisTimeout 300" "HistoryTimeout 50"
rd_wait 10 0.05 test -S "$psock" || rd_e2e_bail "no policy socket $psock after a restart"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --local-interface 127.0.0.10 \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to ivy@gmail.test
{ kill -KILL "${_RD_SID[redis]}"; _rd_stop_session redis 5 || true; } 2>/dev/null
refused jack@gmail.test relay.ip-changed "Redis down: the history comes from the local cache" \
	--local-interface 127.0.0.11 --helo alice-tablet.example.test --from "$RD_ALICE_USER"
rd_e2e_milter_alive "relaydiag still running with Redis down"

# -- the policy service stopped (no milter either): 451, never relayed
rd_e2e_stop_milter
RD_MILTER=
rd_e2e_restart_postfix "${extra[@]}"
rd_e2e_swaks --helo UserPC --from anna@client.test --to kate@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<\*\* +451 4\.3\.5 <kate@gmail\.test>: Recipient address rejected: Server configuration problem' \
	"policy service down: Postfix defers (451 4.3.5)"
rd_assert_not_contains "$RD_TRANSCRIPT" "queued as" "and nothing is queued"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN \
	--auth-user "$RD_ALICE_USER" --auth-password "$RD_ALICE_PASS" \
	--from "$RD_ALICE_USER" --to liam@gmail.test
rd_assert_grep "$RD_TRANSCRIPT" '<~ +250 2\.0\.0 Ok: queued' "a logged-in relay still passes"
sleep 1
rd_assert_ok "no mail for kate@gmail.test ever left (maillog)" \
	bash -c "! grep -q 'to=<kate@gmail.test>.*status=sent' '$RD_MAILLOG'"
rd_assert_ok "and none waits in the queue" \
	bash -c "! postqueue -c '$RD_POSTFIX_CONF' -p 2>/dev/null | grep -q 'kate@gmail.test'"

rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
rd_e2e_finish
