#!/usr/bin/env bash
#
# bench/policy.sh - what the policy service (deployment 3) costs: one
# private Postfix 3.7 with two listeners, the same but for one thing: on
# the first, smtpd_relay_restrictions asks relaydiag's policy service
# before reject_unauth_destination; on the second it does not. relaydiag
# is attached to both as a milter, so the difference is the policy service
# alone. In one alternating run (bench/policyclient.py), per listener: the
# RCPT round trip of an unauthorized relay (p50/p99, concurrency 1) and
# sessions/s (concurrency 10); then the service on its own socket:
# p50/p99 per request, REJECT (the whole engine) and DUNNO.
#
#   bench/policy.sh              # root (Postfix); ~1 min
#   bench/policy.sh --smoke      # a few sessions: protocol checks only
#   bench/policy.sh -n 2000 -r 3
#
# Uses the end-to-end harness (tests/e2e/lib.sh) to start Dovecot, Postfix
# and relaydiag; builds relaydiag in /tmp/rd-bench-build unless
# RELAYDIAG_BIN names one. Exit status 0 when every reply was right.

set -u
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
N=1000 ROUNDS=3 smoke=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 N=20 ROUNDS=2 ;;
	-n) N=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	-h|--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "policy.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "${RELAYDIAG_BIN:-}" ]; then
	build=${RD_BENCH_BUILD:-/tmp/rd-bench-build}
	cmake -S "$src" -B "$build" -DRD_BUILD_TESTS=OFF >/dev/null &&
		cmake --build "$build" -j"$(nproc)" --target relaydiag >/dev/null ||
		{ echo "policy.sh: build failed" >&2; exit 1; }
	RELAYDIAG_BIN=$build/milter/relaydiag
fi
export RD_SRC=$src RELAYDIAG_BIN
RD_E2E_MX_PORT=${RD_E2E_MX_PORT:-4525}
RD_E2E_SUBMISSION_PORT=${RD_E2E_SUBMISSION_PORT:-4587}
export RD_E2E_MX_PORT RD_E2E_SUBMISSION_PORT
. "$src/tests/e2e/lib.sh"

psock=$RD_E2E_DIR/rd/policy.sock
# listener A (the MX port): the policy service; B (the other): without
RD_E2E_MX_OPTS="-o smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,permit_auth_destination,check_policy_service,unix:$psock,reject_unauth_destination"
RD_E2E_SUBMISSION_OPTS="-o smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,permit_auth_destination,reject_unauth_destination"
export RD_E2E_MX_OPTS RD_E2E_SUBMISSION_OPTS
RD_MILTER=unix:$RD_E2E_DIR/rd/relaydiag.sock
export RD_MILTER
rd_e2e_start_postfix "smtpd_client_connection_count_limit = 0" "smtpd_client_connection_rate_limit = 0"
rd_e2e_start_milter "Mode annotate" "PolicySocket unix:$psock" "ProbeDomains 1000" \
	"AlertProbeAttempts 1000000" "LogLevel notice"
rd_wait 10 0.05 test -S "$psock" || rd_e2e_bail "no policy socket"

rc=0
echo "== RCPT round trip of an unauthorized relay: A = $RD_E2E_MX_PORT (policy service), B = $RD_E2E_SUBMISSION_PORT (without) ==" >&7
python3 "$src/bench/policyclient.py" smtp "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT" \
	"$ROUNDS" "$N" 1 >&7 2>&7 || rc=1
echo "== throughput, concurrency 10 ==" >&7
python3 "$src/bench/policyclient.py" smtp "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT" \
	"$ROUNDS" "$N" 10 >&7 2>&7 || rc=1
echo "== the policy service alone, on its socket ==" >&7
python3 "$src/bench/policyclient.py" policy "$psock" "$N" >&7 2>&7 || rc=1
# one decision, one event: on A, every refusal is the policy front end's
sleep 1
a_policy=$(jq -c "select(.type==\"rcpt\" and .server.port==$RD_E2E_MX_PORT and .front_end==\"policy\")" "$RD_EVENTS" | wc -l)
a_milter=$(jq -c "select(.type==\"rcpt\" and .server.port==$RD_E2E_MX_PORT and .front_end==\"milter\")" "$RD_EVENTS" | wc -l)
echo "events on A: $a_policy from the policy front end, $a_milter from the milter (want 0)" >&7
[ "$a_policy" -gt 0 ] && [ "$a_milter" -eq 0 ] || rc=1
_RD_FINISHED=1
exit $rc
