#!/usr/bin/env bash
#
# bench/postfix.sh - Postfix alone, Postfix + the null filter (plain and
# with no-reply flags), Postfix + the limit filter (nullfilter -L),
# Postfix + relaydiag: messages/s from smtp-source
# (10 sessions, 1 KB messages) into the discard transport, in alternating
# rounds; the table shows the median of each. Run by bench/run.sh; needs
# root. Uses the e2e harness (tests/e2e/lib.sh) for the private Postfix and
# relaydiag, on ports of its own (RD_E2E_MX_PORT 4525, submission 4587).
#
# Environment: RELAYDIAG_BIN, NULLFILTER_BIN (required), RD_SRC,
# BENCH_ROUNDS (3), BENCH_MSGS (2000 per run), BENCH_SESSIONS (10),
# BENCH_REDIS=1: relaydiag publishes to a private Redis (RedisURL);
# BENCH_RD_CONFIG: more relaydiag.conf lines (bench/run.sh --rd-config);
# BENCH_HEADER_CHECKS=0: Postfix without the shipped header_checks table.
#
# As the README deploys it, Postfix removes forged copies of relaydiag's
# header with conf/postfix-header_checks.regexp, in every configuration
# (the table costs every one the same), and relaydiag, with ImportPostfix,
# sees that (StripForgedHeaders auto) and asks for no header; with
# BENCH_HEADER_CHECKS=0 it strips them itself and sees every header.
#
# The client is 127.0.0.1, made a trusted network (mynetworks, and
# relaydiag's TrustedNetworks) so that mail to remote.test relays to the
# discard transport. smtp-source's own time is the measure (SMTP
# acceptance, as in the issue), not delivery.

RD_E2E_MX_PORT=${RD_E2E_MX_PORT:-4525}
RD_E2E_SUBMISSION_PORT=${RD_E2E_SUBMISSION_PORT:-4587}
export RD_E2E_MX_PORT RD_E2E_SUBMISSION_PORT
RD_SRC=${RD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
: "${NULLFILTER_BIN:?set NULLFILTER_BIN}" "${RELAYDIAG_BIN:?set RELAYDIAG_BIN}"
ROUNDS=${BENCH_ROUNDS:-3}
MSGS=${BENCH_MSGS:-2000}
SESS=${BENCH_SESSIONS:-10}

# shellcheck source=../tests/e2e/lib.sh
. "$RD_SRC/tests/e2e/lib.sh"

command -v smtp-source >/dev/null || rd_e2e_bail "no smtp-source (package postfix)"

# The null filters are ours to stop: before the harness's own cleanup.
_bench_on_exit() {
	local rc=$?
	_rd_stop_session null 5 || true
	_rd_stop_session nullnr 5 || true
	_rd_stop_session limit 5 || true
	(exit $rc)
	_rd_on_exit
}
trap _bench_on_exit EXIT

PF_LINES=("mynetworks = 127.0.0.0/8")
if [ "${BENCH_HEADER_CHECKS:-1}" = 1 ]; then
	cp "$RD_SRC/conf/postfix-header_checks.regexp" "$RD_E2E_DIR/header_checks"
	PF_LINES+=("header_checks = regexp:$RD_E2E_DIR/header_checks")
fi

nf_dir=$RD_E2E_DIR/nf
mkdir -p "$nf_dir"
chown postfix:postfix "$nf_dir"
for v in null nullnr limit; do
	opts=()
	[ $v = nullnr ] && opts=(-r)
	[ $v = limit ] && opts=(-L)
	_rd_spawn $v "$RD_E2E_DIR/$v.log" setpriv --reuid=postfix --regid=postfix \
		--init-groups "$NULLFILTER_BIN" -s "unix:$nf_dir/$v.sock" "${opts[@]}"
	for ((i = 0; i < 100; i++)); do
		[ -S "$nf_dir/$v.sock" ] && break
		sleep 0.05
	done
	[ -S "$nf_dir/$v.sock" ] || rd_e2e_bail "$v: no socket (see $RD_E2E_DIR/$v.log)"
done
# relaydiag as deployed: events to Redis when the daemon has the publisher
# (bench/run.sh found out: BENCH_REDIS=1), else to the EventLog file
rd_lines=("TrustedNetworks 127.0.0.0/8" "Mode annotate")
if [ "${BENCH_REDIS:-0}" = 1 ]; then
	rd_e2e_start_redis
	rd_lines+=("RedisURL $RD_REDIS_URL")
fi
# bench/run.sh --rd-config lines, one per line
while IFS= read -r line; do
	[ -n "$line" ] && rd_lines+=("$line")
done <<<"${BENCH_RD_CONFIG:-}"
rd_e2e_start_milter "${rd_lines[@]}"
RD_MILTER_SOCK=$RD_MILTER
# relaydiag reads Postfix's configuration as it will run with relaydiag
# (ImportPostfix, at reload), and says who removes forged headers
RD_MILTER=$RD_MILTER_SOCK _rd_write_postfix_config "${PF_LINES[@]}"
echo "ImportPostfix $RD_POSTFIX_CONF" >>"$RD_MILTER_CONF"
rd_e2e_reload_milter
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c 'forged X-Relay-Diagnostic headers: ' "$RD_MILTER_LOG")" -ge 2 ] && break
	sleep 0.05
done
strip=$(grep -o 'forged X-Relay-Diagnostic headers: .*' "$RD_MILTER_LOG" | tail -n 1)
[ -n "$strip" ] || rd_e2e_bail "relaydiag did not reload with ImportPostfix (see $RD_MILTER_LOG)"
rd_diag "relaydiag: $strip"

milter_for() {
	case $1 in
	none) echo "" ;;
	null) echo "unix:$nf_dir/null.sock" ;;
	nullnr) echo "unix:$nf_dir/nullnr.sock" ;;
	limit) echo "unix:$nf_dir/limit.sock" ;;
	relaydiag) echo "$RD_MILTER_SOCK" ;;
	esac
}

started=0
# run_config CONFIG ROUND: restart Postfix with that milter, warm, measure
run_config() {
	local cfg=$1 r=$2 t0 t1 rate off errs
	RD_MILTER=$(milter_for "$cfg")
	export RD_MILTER
	if [ $started = 0 ]; then
		rd_e2e_start_postfix "${PF_LINES[@]}"
		started=1
	else
		rd_e2e_restart_postfix "${PF_LINES[@]}"
	fi
	smtp-source -s "$SESS" -l 1024 -m 200 -f sender@client.test \
		-t user@remote.test -M client.test "127.0.0.1:$RD_E2E_MX_PORT" \
		>"$RD_E2E_DIR/ss.warm.out" 2>&1
	off=$(stat -c %s "$RD_MAILLOG")
	t0=$EPOCHREALTIME
	smtp-source -s "$SESS" -l 1024 -m "$MSGS" -f sender@client.test \
		-t user@remote.test -M client.test "127.0.0.1:$RD_E2E_MX_PORT" \
		>"$RD_E2E_DIR/ss.$cfg.$r.out" 2>&1
	local rc=$?
	t1=$EPOCHREALTIME
	rate=$(awk -v a="$t0" -v b="$t1" -v n="$MSGS" 'BEGIN { printf "%.1f", n / (b - a) }')
	# milter trouble shows in the maillog: warnings and tempfails
	errs=$(tail -c +"$((off + 1))" "$RD_MAILLOG" | grep -c -E 'milter.*(warning|error|timeout)|warning:.*milter|milter-reject|4\.7\.1 Service unavailable' )
	if [ $rc -ne 0 ] || [ -s "$RD_E2E_DIR/ss.$cfg.$r.out" ] || [ "$errs" -gt 0 ]; then
		rd_fail "round $r, $cfg: smtp-source exit $rc, $errs milter problem(s) in the maillog" \
			"$(head -n 5 "$RD_E2E_DIR/ss.$cfg.$r.out")" \
			"$(tail -c +"$((off + 1))" "$RD_MAILLOG" | grep -E 'milter' | head -n 5)"
		return
	fi
	echo "$rate" >>"$RD_E2E_DIR/rate.$cfg"
	rd_diag "round $r, $cfg: $rate msg/s"
}

for ((r = 1; r <= ROUNDS; r++)); do
	order="none null nullnr limit relaydiag"
	[ $((r % 2)) = 0 ] && order="relaydiag limit nullnr null none"
	for cfg in $order; do
		run_config "$cfg" "$r"
	done
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)] }'; }
base=$(median <"$RD_E2E_DIR/rate.none" 2>/dev/null)
nul=$(median <"$RD_E2E_DIR/rate.null" 2>/dev/null)
printf '%-36s %10s %12s %12s\n' "" "msg/s" "vs alone" "vs null"
for cfg in none null nullnr limit relaydiag; do
	m=$(median <"$RD_E2E_DIR/rate.$cfg" 2>/dev/null)
	case $cfg in
	none) label="Postfix alone" ;;
	null) label="Postfix + null filter" ;;
	nullnr) label="Postfix + null filter -r (NR, skip)" ;;
	limit) label="Postfix + limit filter (-L)" ;;
	relaydiag) label="Postfix + relaydiag" ;;
	esac
	printf '%-36s %10s %12s %12s\n' "$label" "$m" \
		"$(awk -v a="$m" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')" \
		"$(awk -v a="$m" -v b="$nul" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
done
for cfg in none null nullnr limit relaydiag; do
	rd_diag "runs $cfg: $(tr '\n' ' ' <"$RD_E2E_DIR/rate.$cfg" 2>/dev/null)"
done
rdm=$(median <"$RD_E2E_DIR/rate.relaydiag" 2>/dev/null)
lim=$(median <"$RD_E2E_DIR/rate.limit" 2>/dev/null)
rd_diag "target: Postfix + relaydiag >= 1.0x Postfix + null filter: $(awk -v a="$rdm" -v b="$nul" 'BEGIN { print (b > 0 && a / b >= 1.0 ? "met" : "MISSED") }') ($(awk -v a="$rdm" -v b="$nul" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')); stretch >= the limit filter: $(awk -v a="$rdm" -v b="$lim" 'BEGIN { print (b > 0 && a / b >= 1.0 ? "met" : "missed") }') ($(awk -v a="$rdm" -v b="$lim" 'BEGIN { if (b > 0) printf "%.2fx", a / b }'))"
if [ "${BENCH_REDIS:-0}" = 1 ]; then
	rd_diag "relaydiag published $(rd_e2e_redis_cli XLEN relaydiag:events) events to Redis"
else
	rd_diag "relaydiag wrote $(grep -c '"type":"message"' "$RD_EVENTS" 2>/dev/null) message events"
fi
[ "$(cat "$RD_E2E_DIR"/rate.* 2>/dev/null | wc -l)" -eq $((ROUNDS * 5)) ] &&
	rd_pass "every smtp-source run completed without milter errors"
rd_e2e_finish
