#!/bin/bash
# demo.sh - the main job, on a fresh Debian 12 machine as root: install what
# is needed, build relaydiag, start a private Postfix (Dovecot SASL,
# STARTTLS) with relaydiag attached on loopback, replay real failure cases
# from the field reports with swaks, and show what relaydiag concluded:
# the events (from the Redis stream), relaydiag-report why, what a private
# Prometheus scraped from MetricsListen, and what relaydiag-dashboard
# holds. --serve keeps the dashboard (http://127.0.0.1:8491/) and
# Prometheus up after the replay, until Ctrl-C.
#
# Nothing outside a temporary directory is touched; everything started is
# stopped at the end. RD_KEEP=1 keeps the directory (events, logs, mail).
set -eu
serve=0
case ${1:-} in
--serve) serve=1 ;;
"") ;;
*)
	echo "usage: demo.sh [--serve]   (--serve: keep the dashboard up after the replay, until Ctrl-C)" >&2
	exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: the demo runs a private Postfix: run as root" >&2
	exit 1
fi
if [ -n "${RELAYDIAG_BIN:-}" ]; then
	# An installed relaydiag (the Debian package: scripts/deb-check.sh).
	echo "demo: installing packages (scripts/install-deps.sh)"
	sh scripts/install-deps.sh
	[ -x "$RELAYDIAG_BIN" ] || {
		echo "demo: RELAYDIAG_BIN=$RELAYDIAG_BIN is not executable" >&2
		exit 1
	}
	echo "demo: using the installed $RELAYDIAG_BIN"
	# and the installed consumers beside it (/usr/sbin -> /usr/bin)
	bindir=$(dirname "$RELAYDIAG_BIN")/../bin
	if [ -x "$bindir/relaydiag-report" ] && [ -x "$bindir/relaydiag-dashboard" ]; then
		RD_REPORT_BIN=$(cd "$bindir" && pwd)/relaydiag-report
		RD_DASHBOARD_BIN=$(cd "$bindir" && pwd)/relaydiag-dashboard
		export RD_DASHBOARD_BIN
		echo "demo: and the installed $RD_REPORT_BIN, $RD_DASHBOARD_BIN"
	fi
else
	# The demo has a build directory of its own: the test command's
	# build/ keeps its tests whatever the demo configures.
	build=${RD_DEMO_BUILD_DIR:-build-demo}
	echo "demo: installing packages (scripts/install-deps.sh; a first run takes a few minutes)"
	sh scripts/install-deps.sh
	echo "demo: building relaydiag in $build/"
	mkdir -p "$build"
	cmake -S . -B "$build" -DRD_BUILD_TESTS=OFF >"$build/configure.log" 2>&1 || {
		cat "$build/configure.log" >&2
		echo "demo: cmake configure failed" >&2
		exit 1
	}
	cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
		tail -40 "$build/build.log" >&2
		echo "demo: build failed; see $build/build.log" >&2
		exit 1
	}
	RELAYDIAG_BIN=$top/$build/milter/relaydiag
fi
echo "demo: starting Redis, a private Postfix + Dovecot and relaydiag on loopback"
set +eu

export RD_SRC=$top RELAYDIAG_BIN
# The harness of the end-to-end tests starts and stops the daemons.
. "$top/tests/e2e/lib.sh"

bold=$(tput bold 2>/dev/null || true)
norm=$(tput sgr0 2>/dev/null || true)

say() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$norm" >&7; }

# The MTA's view: example.test is delivered here; the submission-like port
# offers AUTH only after STARTTLS, as in the field reports
# (smtpd_tls_auth_only = yes). relaydiag is told the same, plus a domain
# that was "migrated" here but is missing from Postfix's configuration.
# A laptop at 127.0.0.30 may relay without logging in: Postfix permits it
# through a POP-before-SMTP style client table that relaydiag does not
# model. Postfix starts first: relaydiag imports its view (ImportPostfix),
# listener by listener.
RD_E2E_SUBMISSION_OPTS="-o smtpd_tls_auth_only=yes"
# Redis carries the events; the dashboard reads them as a consumer group,
# Prometheus scrapes relaydiag's metrics, and Postfix adds relaydiag's
# reject footers (relaydiag -F) under its own texts.
rd_e2e_start_redis
metrics_port=$(rd_free_port)
"$RELAYDIAG_BIN" -F >"$RD_E2E_DIR/footer.regexp"
printf '127.0.0.30 OK\n' >"$RD_E2E_DIR/pop-before-smtp"
touch -d '-10 seconds' "$RD_E2E_DIR/pop-before-smtp"
RD_MILTER=unix:$RD_E2E_DIR/rd/relaydiag.sock
export RD_MILTER
# Postfix removes forged copies of relaydiag's header (the shipped
# header_checks table): relaydiag sees it and asks for no header at all.
cp "$top/conf/postfix-header_checks.regexp" "$RD_E2E_DIR/header_checks"
rd_e2e_start_postfix "smtpd_relay_restrictions = check_client_access texthash:$RD_E2E_DIR/pop-before-smtp, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
	"smtpd_reject_footer_maps = regexp:$RD_E2E_DIR/footer.regexp" \
	"header_checks = regexp:$RD_E2E_DIR/header_checks"
rd_e2e_start_milter "Mode annotate" "LocalDomains example.test newdomain.test" \
	"ImportPostfix $RD_POSTFIX_CONF" "RedisURL $RD_REDIS_URL" \
	"MetricsListen inet:$metrics_port"
printf '   relaydiag: %s\n' "$(grep -o 'forged X-Relay-Diagnostic headers: .*' "$RD_MILTER_LOG" | head -n 1)" >&7
dash_port=8491
_rd_port_in_use "$dash_port" && dash_port=$(rd_free_port)
rd_e2e_start_dashboard "$dash_port"
rd_e2e_start_prometheus "127.0.0.1:$metrics_port"
say "The dashboard: $RD_DASHBOARD_URL (live; relaydiag-dashboard). Prometheus: $RD_PROM_URL"
if [ "$serve" = 1 ]; then
	printf '   Open it now (from another machine: ssh -L %s:127.0.0.1:%s this-host)\n' \
		"$dash_port" "$dash_port" >&7
	printf '   and watch it fill; the replay starts in 10 s.\n' >&7
	sleep 10
fi

# case TITLE SWAKS-ARGS...: replay one session and show the reply
case_() {
	local title=$1
	shift
	say "$title"
	printf '   swaks %s\n' "$*" >&7
	rd_e2e_swaks "$@"
	grep -E '^<[-~*]+ +[45][0-9][0-9][ -]' "$RD_TRANSCRIPT" | sed 's/^/   server: /' >&7
	grep -E '^<[-~] +250 2\.0\.0 Ok: queued' "$RD_TRANSCRIPT" | sed 's/^/   server: /' >&7
}

case_ "1. Outlook on a desktop, port 25, never logged in (seed: 95% of tickets)" \
	--helo DESKTOP-4F2K --from anna@client.test --to bob@gmail.test --quit-after RCPT
case_ "2. A server that talks SMTP properly but is not allowed to relay" \
	--local-interface 127.0.0.5 --helo mail.partner.test --from noreply@partner.test --to carol@remote.test --quit-after RCPT
case_ "3. A phone on the submission port, logged in over STARTTLS" \
	--port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --auth-user "$RD_ALICE_USER" \
	--auth-password "$RD_ALICE_PASS" --from "$RD_ALICE_USER" --to dave@gmail.test
case_ "3b. The same phone on another network, settings lost: no login (POP-before-SMTP days)" \
	--local-interface 127.0.0.8 --helo alice-phone.example.test --from "$RD_ALICE_USER" --to frank@gmail.test --quit-after RCPT
case_ "3c. A spammer probing for an open relay (HELO claims an address it does not have)" \
	--local-interface 127.0.0.66 --helo "[192.0.2.1]" --from offer@spammer.test --to victim@remote.test --quit-after RCPT
case_ "4. An office server in the trusted network (mynetworks)" \
	--local-interface "$RD_TRUSTED_IP" --helo office.example.test --to erin@gmail.test
case_ "5. After a migration: newdomain.test was moved here but Postfix was not told" \
	--local-interface 127.0.0.7 --helo mx.google.test --from friend@gmail.test --to info@newdomain.test --quit-after RCPT
case_ "6. A cancelled account" \
	--helo mx.google.test --from friend@gmail.test --to nobody@example.test --quit-after RCPT
case_ "8. A laptop Postfix lets relay by a POP-before-SMTP table: accepted, and relaydiag names the rule" \
	--local-interface 127.0.0.30 --helo bob-laptop.example.test --from "$RD_BOB_USER" --to grace@gmail.test --quit-after RCPT
case_ "7. Mail for a local user, with a forged diagnostic header from outside" \
	--helo mx.google.test --from friend@gmail.test --to "$RD_ALICE_USER" \
	--header "Subject: hello" --add-header "X-Relay-Diagnostic: forged; diagnosis=relay.authorized-sasl"

stream_done() {
	rd_e2e_stream_dump
	[ "$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="session" and .counts.messages==1 and .auth==null and .client.ip=="127.0.0.1")')" -ge 1 ]
}
rd_wait 10 0.2 stream_done || true
rd_e2e_wait_delivered 1 10 "$RD_ALICE_USER" || true
sleep 1.5	# one more scrape
rd_e2e_stream_dump

say "What relaydiag concluded (one rcpt event per recipient; $RD_EVENTS)"
jq -r 'select(.type=="rcpt") |
	"\n  \(.client.ip) helo=\(.client.helo) port=\(.server.port) auth=\(.auth.user // "none") tls=\(.tls.version // "none")\n" +
	"  -> <\(.rcpt.addr)> class=\(.rcpt.class), MTA \(.mta.verdict)\(if .mta.dsn then " " + .mta.dsn + " " + .mta.text else "" end)\n" +
	"  diagnosis: \(.diagnosis.id) [\(.diagnosis.severity)]\n" +
	"  summary:   \(.diagnosis.summary)" +
	(if .diagnosis.remedy_client != null then "\n  client:    \(.diagnosis.remedy_client)" else "" end) +
	(if .diagnosis.remedy_admin != null then "\n  admin:     \(.diagnosis.remedy_admin)" else "" end)' \
	"$RD_EVENTS" >&7

say "The header on the delivered message (the forged copy is gone)"
msg=$(rd_e2e_delivered_message "$RD_ALICE_USER")
sed -n '/^X-Relay-Diagnostic:/,/^[^\t]/p' "${msg:-/dev/null}" | sed '$d' | sed 's/^/   /' >&7

say "relaydiag's log (syslog in production)"
grep -E ' to=<' "$RD_MILTER_LOG" | sed 's/^/   /' >&7

say "Why was 127.0.0.8 refused? (relaydiag-report why 127.0.0.8, from the stream)"
"${RD_REPORT_BIN:-$top/tools/relaydiag-report}" --redis "$RD_REDIS_URL" why 127.0.0.8 | sed 's/^/   /' >&7

n_rcpt=$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt")')
prom_has_all() { [ "$(rd_e2e_prom_query 'sum(relaydiag_decisions_total)')" = "$n_rcpt" ]; }
rd_wait 20 0.5 prom_has_all || true
say "What Prometheus scraped: sum by (diagnosis) (relaydiag_decisions_total)"
curl -fsS -G "$RD_PROM_URL/api/v1/query" \
	--data-urlencode 'query=sum by (diagnosis) (relaydiag_decisions_total)' |
	jq -r '.data.result[] | "   \(.metric.diagnosis): \(.value[1])"' | sort >&7
prom_total=$(rd_e2e_prom_query 'sum(relaydiag_decisions_total)')

say "What the dashboard holds ($RD_DASHBOARD_URL api/summary)"
dash=$(curl -fsS "${RD_DASHBOARD_URL}api/summary")
printf '%s\n' "$dash" | jq -r '"   \(.totals.events) events, \(.totals.rcpts) recipients, \(.totals.refused) refused; stream connected: \(.redis.ok)"' >&7

ok=1
"$top/tests/tools/check-events" "$RD_EVENTS" >&7 || ok=0
[ "${prom_total:-0}" = "$n_rcpt" ] || {
	printf 'demo: Prometheus counted %s decisions, the stream has %s\n' "${prom_total:-none}" "$n_rcpt" >&7
	ok=0
}
[ "$(printf '%s' "$dash" | jq -r .totals.rcpts)" = "$n_rcpt" ] || {
	printf 'demo: the dashboard does not hold the %s decisions\n' "$n_rcpt" >&7
	ok=0
}
n=$(jq -r 'select(.type=="rcpt") | .diagnosis.id' "$RD_EVENTS" | sort -u | wc -l)
[ "$n" -ge 10 ] || ok=0
if [ "$serve" = 1 ] && [ "$ok" = 1 ]; then
	say "Serving until Ctrl-C: dashboard $RD_DASHBOARD_URL, Prometheus $RD_PROM_URL"
	printf '   Send more: swaks --server 127.0.0.1:%s --to someone@gmail.test --quit-after RCPT\n' \
		"$RD_E2E_MX_PORT" >&7
	trap 'serving=0' INT TERM
	serving=1
	while [ "$serving" = 1 ]; do sleep 1; done
fi
_RD_FINISHED=1
[ "${RD_KEEP:-0}" = 1 ] && printf '\nrun directory kept: %s\n' "$RD_E2E_DIR" >&7
if [ "$ok" = 1 ]; then
	printf '\ndemo: %d distinct diagnoses from 10 sessions.\n' "$n" >&7
	exit 0
fi
printf '\ndemo: FAILED (see above)\n' >&7
exit 1
