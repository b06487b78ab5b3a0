#!/bin/bash
# shellcheck disable=SC2016	# jq filters and PromQL: $x is theirs
# t_observe.sh - how an admin looks at relaydiag, with the real things: a
# private Postfix with relaydiag's reject footers, relaydiag publishing to
# a real redis-server and serving MetricsListen, a real Prometheus
# scraping it, relaydiag-dashboard consuming the stream as a consumer
# group, opened in a real headless Chromium, and relaydiag-report.
#
#  1. footers (deployment 1): swaks sees the help and the look-up line
#     under Postfix's own "Relay access denied"
#  2. the page fills live: refusals from a hostile HELO are text, not
#     markup; "why" for a client tells its story; latency XADD -> page
#  3. /metrics: the decision counters equal the events of the run; the
#     exposition passes promtool; the listener is on the loopback only,
#     answers only GET/HEAD of /metrics
#  4. Prometheus scrapes it: its HTTP API returns relaydiag's series with
#     the counts of the run; scrape time reported
#  5. relaydiag-report why <ip> explains the refusal from the stream;
#     relaydiag's log line and Postfix's are found by the same grep
#  6. the dashboard's own guards: Host check, methods, CSP, a login when
#     asked, refusal to listen beyond the loopback without one

. "$(dirname "$0")/lib.sh"

for c in prometheus promtool chromium chromedriver curl; do
	command -v "$c" >/dev/null ||
		rd_e2e_bail "$c missing (scripts/install-deps.sh installs prometheus, chromium, chromium-driver, curl)"
done

MPORT=$(rd_free_port)
D=$RD_E2E_DIR
REPORT=$RD_SRC/tools/relaydiag-report
DASH=$RD_SRC/tools/relaydiag-dashboard
HOSTILE='<img/src=x/onerror=window.__pwned=1>'

# -- the MTA, with the footers "relaydiag -F" generates
"$RELAYDIAG_BIN" -F >"$D/footer.regexp"
rd_assert_ok "relaydiag -F matches the shipped conf/postfix-reject-footer.regexp" \
	cmp "$D/footer.regexp" "$RD_SRC/conf/postfix-reject-footer.regexp"
rd_e2e_start_redis
RD_MILTER=unix:$D/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "smtpd_reject_footer_maps = regexp:$D/footer.regexp"
rd_e2e_start_milter "RedisURL $RD_REDIS_URL" "MetricsListen inet:$MPORT"

# -- the dashboard and Prometheus
rd_e2e_start_dashboard
rd_e2e_start_prometheus "127.0.0.1:$MPORT"

# -- the browser opens the page, then the mail comes
ready=$D/page-ready
"$RD_SRC/tests/tools/dashboard-check" "$RD_DASHBOARD_URL" "$ready" 4 \
	"$HOSTILE" 127.0.0.1 "$D/dashboard.png" >"$D/page.tap" 2>"$D/page.err" &
page=$!
rd_wait 60 0.1 test -e "$ready" || { cat "$D/page.err" >&7; rd_e2e_bail "the page never became ready"; }

rd_e2e_swaks --helo "$HOSTILE" --from anna@client.test --to bob@gmail.test --quit-after RCPT
cp "$RD_TRANSCRIPT" "$D/footer.txt"
rd_e2e_swaks --local-interface 127.0.0.5 --helo mail.partner.test --from noreply@partner.test \
	--to carol@remote.test --quit-after RCPT
rd_e2e_swaks --local-interface 127.0.0.5 --helo mail.partner.test --from noreply@partner.test \
	--to dan@remote.test --quit-after RCPT
rd_e2e_swaks --local-interface 127.0.0.6 --helo "DESKTOP-X" --from eve@client.test \
	--to fay@gmail.test --quit-after RCPT
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --tls --auth PLAIN --auth-user "$RD_ALICE_USER" \
	--auth-password "$RD_ALICE_PASS" --from "$RD_ALICE_USER" --to dave@gmail.test
rd_e2e_swaks --helo mx.google.test --from friend@gmail.test --to "$RD_ALICE_USER"

wait "$page"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) rd_pass "dashboard: ${line#ok - }" ;;
	"not ok - "*) rd_fail "dashboard: ${line#not ok - }" "$D/page.err" ;;
	"# "*) printf '%s\n' "$line" >&7 ;;
	esac
done <"$D/page.tap"
rd_assert_eq "$rc" 0 "the page check passed as a whole"
if [ -n "${RD_SCREENSHOT_DIR:-}" ] && [ -s "$D/dashboard.png" ]; then
	cp "$D/dashboard.png" "$RD_SCREENSHOT_DIR/dashboard.png"
fi

# -- 1. footers
rd_assert_grep "$D/footer.txt" '^<\*\* +554-5\.7\.1 <bob@gmail\.test>: Relay access denied$' "Postfix's own reply comes first, now as a continued line"
rd_assert_grep "$D/footer.txt" '^<\*\* +554-5\.7\.1 This server passes mail on to other domains only for users who log in' \
	"swaks sees the footer's help under it"
rd_assert_grep "$D/footer.txt" '^<\*\* +554 5\.7\.1 Your mail admin can look up why: relaydiag-report why 127\.0\.0\.1 \(at ' \
	"and the look-up line with \$client_address and \$localtime expanded"

# -- the run's events, as the stream has them (XRANGE into RD_EVENTS)
stream_has_all() {
	rd_e2e_stream_dump
	[ "$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="session" and .counts.messages==1)')" -ge 2 ]
}
rd_wait 20 0.25 stream_has_all || true
sleep 2.5	# two scrapes
n_port25=$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .diagnosis.id=="relay.client-on-port-25")')
n_noauth=$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt" and .diagnosis.id=="relay.no-auth")')
n_rcpt=$(rd_e2e_jq_count "$RD_EVENTS" 'select(.type=="rcpt")')
rd_assert_ok "the run has refusals of two kinds ($n_port25 port-25, $n_noauth no-auth)" \
	test "$n_port25" -ge 2 -a "$n_noauth" -ge 1

# -- 3. /metrics
m=http://127.0.0.1:$MPORT
curl -fsS "$m/metrics" >"$D/metrics.txt"
rd_assert_ok "GET /metrics answers 200" test -s "$D/metrics.txt"
got=$(awk '/^relaydiag_decisions_total\{diagnosis="relay.client-on-port-25",.*front_end="milter"\}/ { s += $2 } END { print s + 0 }' "$D/metrics.txt")
rd_assert_eq "$got" "$n_port25" "relaydiag_decisions_total{diagnosis=relay.client-on-port-25} equals the events"
got=$(awk '/^relaydiag_decisions_total\{/ { s += $2 } END { print s + 0 }' "$D/metrics.txt")
rd_assert_eq "$got" "$n_rcpt" "the decisions add up to the run's rcpt events"
rd_assert_grep "$D/metrics.txt" '^relaydiag_redis_up 1$' "relaydiag_redis_up is 1"
rd_assert_grep "$D/metrics.txt" '^relaydiag_callback_duration_seconds_count\{stage="rcpt"\} [1-9]' \
	"the rcpt callback's time is in the histogram"
rd_assert_grep "$D/metrics.txt" '^relaydiag_events_published_total [1-9]' "events published are counted"
promtool check metrics <"$D/metrics.txt" >"$D/promtool-metrics.txt" 2>&1
rd_assert_eq "$?" 0 "promtool check metrics accepts the exposition"
code=$(curl -s -o /dev/null -w '%{http_code}' "$m/nothing")
rd_assert_eq "$code" 404 "another path is 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$m/metrics")
rd_assert_eq "$code" 405 "POST is 405"
rd_assert_ok "MetricsListen inet:PORT listens on 127.0.0.1 only" \
	bash -c "ss -ltnH 'sport = :$MPORT' | awk '{print \$4}' | grep -qx '127.0.0.1:$MPORT'"
t0=$(date +%s%N)
for _ in $(seq 20); do curl -fsS -o /dev/null "$m/metrics"; done
printf '# /metrics: %d bytes, %d us per GET (20 GETs with curl)\n' \
	"$(wc -c <"$D/metrics.txt")" $(( ($(date +%s%N) - t0) / 20000 )) >&7

# -- 4. Prometheus
q() { rd_e2e_prom_query "$1"; }
prom_has_all() { [ "$(q 'sum(relaydiag_decisions_total)')" = "$n_rcpt" ]; }
rd_wait 20 0.5 prom_has_all || true
rd_assert_eq "$(q 'sum(relaydiag_decisions_total)')" "$n_rcpt" "Prometheus has sum(relaydiag_decisions_total) = the run's decisions"
rd_assert_eq "$(q 'sum(relaydiag_decisions_total{diagnosis="relay.client-on-port-25"})')" "$n_port25" \
	"and the per-diagnosis series"
rd_assert_eq "$(q 'up{job="relaydiag"}')" 1 "the target is up"
rd_assert_eq "$(q 'relaydiag_redis_up')" 1 "relaydiag_redis_up is 1 in Prometheus"
st=$(q 'scrape_duration_seconds{job="relaydiag"}')
printf '# Prometheus scrape of relaydiag: %s s\n' "${st:-?}" >&7
rules=$(curl -fsS "$RD_PROM_URL/api/v1/rules" | jq -r '[.data.groups[].rules[] | select(.health=="ok")] | length')
rd_assert_ok "Prometheus loaded the shipped alerting rules, all healthy ($rules)" test "${rules:-0}" -ge 4

bad=
while IFS= read -r e; do
	st=$(curl -fsS -G "$RD_PROM_URL/api/v1/query" --data-urlencode "query=$e" | jq -r .status)
	[ "$st" = success ] || bad+="$e; "
done < <(jq -r '.panels[].targets[].expr' "$RD_SRC/conf/grafana/relaydiag.json")
rd_assert_eq "$bad" "" "every query of the Grafana dashboard runs in Prometheus"
missing=
for name in $(jq -r '.panels[].targets[].expr' "$RD_SRC/conf/grafana/relaydiag.json" "$RD_SRC/conf/prometheus/relaydiag.rules.yml" 2>/dev/null |
	grep -o 'relaydiag_[a-z_]*' | sed 's/_bucket$//' | sort -u) \
	$(grep -o 'relaydiag_[a-z_]*' "$RD_SRC/conf/prometheus/relaydiag.rules.yml" | sort -u); do
	grep -q "^# TYPE $name " "$D/metrics.txt" || missing+="$name "
done
rd_assert_eq "$missing" "" "every metric the dashboard and the rules use is exported"

# -- 5. relaydiag-report and the log
"$REPORT" --redis "$RD_REDIS_URL" why 127.0.0.6 >"$D/why.txt" 2>&1
rd_assert_eq "$?" 0 "relaydiag-report why 127.0.0.6 exits 0"
rd_assert_grep "$D/why.txt" 'diagnosis: +relay\.client-on-port-25' "it names the diagnosis"
rd_assert_grep "$D/why.txt" 'fix \(client\): +.*587' "and the client's fix"
rd_assert_grep "$D/why.txt" '<fay@gmail\.test>' "for that recipient"
"$REPORT" --redis "$RD_REDIS_URL" --since 10m --csv why 127.0.0.5 >"$D/why.csv" 2>&1
rd_assert_eq "$(grep -c 'relay.no-auth' "$D/why.csv")" 2 "why --since 10m --csv: one row per decision"
"$REPORT" --redis "$RD_REDIS_URL" --until 2000-01-01 why 127.0.0.5 >/dev/null 2>&1
rd_assert_eq "$?" 1 "nothing before 2000: exit 1"
rd_assert_grep "$RD_MILTER_LOG" 'NOQUEUE: client=unknown\[127\.0\.0\.6\]:[0-9]+ from=<eve@client\.test> to=<fay@gmail\.test> diagnosis=relay\.client-on-port-25 mta=reject' \
	"relaydiag's log line: client IP, sender, recipient, in Postfix's terms"
rd_assert_grep "$RD_MAILLOG" 'NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.6\]: .* from=<eve@client\.test> to=<fay@gmail\.test>' \
	"Postfix's line for the same recipient matches the same client and to=<>"
rd_assert_grep "$RD_MILTER_LOG" 'client=unknown\[127\.0\.0\.1\]:[0-9]+ from=<anna@client\.test> ' \
	"the hostile HELO is not in the decision's line"
rd_assert_not_contains "$RD_MILTER_LOG" "$HOSTILE" "and nowhere raw in relaydiag's log"

# -- consumer group
pend=$(rd_e2e_redis_cli XINFO GROUPS relaydiag:events | awk 'p { print; exit } /^pending$/ { p = 1 }')
rd_assert_eq "$pend" 0 "the dashboard's consumer group acknowledged every entry"

# -- 6. the dashboard's guards
u=${RD_DASHBOARD_URL%/}
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$u/api/summary")
rd_assert_eq "$code" 421 "a foreign Host header is refused (DNS rebinding)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$u/api/summary")
rd_assert_eq "$code" 405 "POST is 405"
curl -sS -D "$D/headers.txt" -o /dev/null "$u/"
rd_assert_grep "$D/headers.txt" "^Content-Security-Policy: default-src 'none'; script-src 'self'" "the page is served under a strict CSP"
"$DASH" --redis "$RD_REDIS_URL" --listen "0.0.0.0:$(rd_free_port)" >"$D/open.txt" 2>&1
rd_assert_eq "$?" 2 "listening beyond the loopback without a login is refused"
rd_assert_contains "$D/open.txt" "set --basic-auth-file or --token-file" "and says what to set"
printf 'a-token-of-32-characters-000000\n' >"$D/token"
TPORT=$(rd_free_port)
_rd_spawn dashboard2 "$D/dashboard2.log" "$DASH" --redis "$RD_REDIS_URL" \
	--listen "127.0.0.1:$TPORT" --token-file "$D/token"
rd_wait 10 0.1 curl -fs -o /dev/null "http://127.0.0.1:$TPORT/healthz" || true
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TPORT/api/summary")
rd_assert_eq "$code" 401 "with --token-file: no token, 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer a-token-of-32-characters-000000' "http://127.0.0.1:$TPORT/api/summary")
rd_assert_eq "$code" 200 "the right bearer token, 200"

rd_e2e_finish
