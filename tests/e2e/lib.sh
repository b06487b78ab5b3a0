# shellcheck shell=bash
#
# tests/e2e/lib.sh - end-to-end harness: a private Postfix (+ Dovecot SASL),
# optionally Redis and relaydiag, all on loopback, all inside one run
# directory, all stopped when the test script exits.
#
# Usage (a test script, run as root with bash; ctest runs tests/e2e/t_*.sh):
#
#     . "$(dirname "$0")/lib.sh"        # checks prerequisites, makes the run dir
#     rd_e2e_start_redis                 # optional
#     rd_e2e_start_milter "RedisURL redis://127.0.0.1:$RD_REDIS_PORT"   # optional
#     rd_e2e_start_postfix               # reads RD_MILTER: start the milter first
#     rd_e2e_swaks --to bob@gmail.test --quit-after RCPT
#     rd_assert_contains "$RD_TRANSCRIPT" "554 5.7.1" "relay refused"
#     rd_e2e_wait_for "$RD_EVENTS" '.rcpt == "bob@gmail.test"' 5
#     rd_assert_jq "$RD_EVENTS" '.rcpt == "bob@gmail.test"' "event written"
#     rd_e2e_finish                      # "N passed, M failed"; exit status
#
# Sourcing the file runs rd_e2e_init: it FAILS (exit 1, "Bail out!") when
# the test cannot run (not root, a command missing); nothing is skipped.
# A script that ends without rd_e2e_finish fails too.
#
# The instance (run directory RUN = $RD_E2E_DIR):
#   Postfix  127.0.0.1:$RD_E2E_MX_PORT (2525, port-25-like, syslog_name postfix)
#            127.0.0.1:$RD_E2E_SUBMISSION_PORT (2587, syslog_name
#            postfix/submission); STARTTLS "may" on both (self-signed cert
#            in RUN/tls), AUTH (Dovecot SASL) offered on both.
#            myhostname mx.relaydiag.test; mynetworks 127.0.0.100/32 only:
#            connect from 127.0.0.1 (or 127.0.0.5 ...) to be an untrusted
#            client, --local-interface 127.0.0.100 to be a trusted one.
#            smtpd_relay_restrictions = permit_mynetworks,
#            permit_sasl_authenticated, reject_unauth_destination.
#            example.test is a virtual mailbox domain with alice@ and bob@
#            delivered for real to maildirs under RUN/mail; any other
#            recipient (a relay that was allowed) goes to the discard
#            transport: nothing leaves the machine. No reverse DNS lookups
#            (smtpd_peername_lookup = no: clients are "unknown[ip]").
#   Dovecot  auth only, users $RD_ALICE_USER/$RD_ALICE_PASS and
#            $RD_BOB_USER/$RD_BOB_PASS (PLAIN, LOGIN).
#   The ports are fixed: one e2e test at a time on a machine (ctest runs
#   them RUN_SERIAL); rd_e2e_start_postfix bails if a port is taken.
#   Harness probes (banner checks) connect from 127.0.0.254: ignore that
#   client in events.
#
# Functions
#   rd_e2e_init                  run by sourcing; idempotent
#   rd_e2e_start_postfix [LINE...]
#                                start Postfix (and Dovecot) ; each LINE is
#                                appended to main.cf ("name = value"; the
#                                last definition of a parameter wins, so a
#                                LINE overrides the defaults). Waits for a
#                                220 banner on both ports (bounded) or bails
#                                with the maillog.
#   rd_e2e_stop_postfix          stop Postfix (every process of the instance)
#   rd_e2e_restart_postfix [LINE...]
#                                stop + start with these LINEs (the previous
#                                LINEs are forgotten); the queue and the
#                                delivered mail are kept. Re-reads RD_MILTER,
#                                RD_MILTER_DEFAULT_ACTION, RD_E2E_TLS_AUTH_ONLY ...
#   rd_e2e_postconf ARGS...      postconf against the private instance
#   rd_e2e_start_redis           private redis-server (no persistence) on a
#                                free 127.0.0.1 port and a unix socket;
#                                exports RD_REDIS_PORT, RD_REDIS_URL,
#                                RD_REDIS_SOCKET
#   rd_e2e_redis_cli ARGS...     redis-cli against it
#   rd_e2e_start_milter [LINE...]
#                                write RUN/relaydiag.conf (defaults below,
#                                then LINEs; a LINE whose key matches a
#                                default key replaces that default) and run
#                                "$RELAYDIAG_BIN -f -c RUN/relaydiag.conf"
#                                (output in RUN/relaydiag.log); waits for the
#                                socket and checks that user postfix can
#                                connect to it; exports RD_MILTER. With
#                                RD_FAKE_MILTER=1 everything but the daemon:
#                                Postfix then finds no milter on RD_MILTER.
#                                Defaults:
#                                  Socket local:RUN/rd/relaydiag.sock
#                                  SocketMode 0660
#                                  UserID relaydiag:postfix
#                                  EventLog RUN/events.jsonl
#                                  SpoolDir RUN/rd/spool
#                                  LocalDomains example.test
#                                  TrustedNetworks 127.0.0.100/32
#                                  SubmissionPorts 2587
#                                  Mode observe
#   rd_e2e_stop_milter           SIGTERM, then a bare connect to the socket
#                                every 0.25 s (libmilter otherwise notices
#                                the stop only after 5 s), bounded wait,
#                                then SIGKILL
#   rd_e2e_reload_milter         SIGUSR1
#   rd_e2e_swaks ARGS...         swaks with defaults --server 127.0.0.1
#                                --port 2525 --from sender@client.test
#                                --helo client.test --timeout 15 (ARGS
#                                override them: swaks keeps the last);
#                                transcript in $RD_TRANSCRIPT (a new file
#                                RUN/swaks/NNN.txt, command line in .cmd),
#                                swaks' exit code in $RD_SWAKS_RC; always
#                                returns 0 (safe under set -e). Do not call
#                                it in $(...): the variables would be lost.
#   rd_e2e_wait_for FILE JQ_FILTER TIMEOUT [JQ_ARGS...]
#                                poll (every 0.1 s) until a line of the JSON
#                                Lines FILE makes JQ_FILTER truthy; returns
#                                0, or 1 after TIMEOUT seconds (decimals ok)
#   rd_e2e_stop_dovecot, rd_e2e_start_dovecot
#                                the SASL service goes away mid-run (its
#                                socket too), and comes back
#   rd_e2e_assert_event SELECT CHECK DESC TIMEOUT [JQ_ARGS...]
#                                wait (TIMEOUT) for an event of RD_EVENTS
#                                that SELECT (a jq select(...)) keeps, then
#                                assert "SELECT | CHECK" (DESC)
#   rd_e2e_jq_count FILE JQ_FILTER [JQ_ARGS...]
#                                prints how many lines match
#   rd_e2e_wait_maillog ERE TIMEOUT
#                                poll the maillog for an extended regexp
#   rd_e2e_delivered_message [ADDRESS]
#                                path of the most recently delivered message
#                                (for ADDRESS, else any example.test mailbox);
#                                returns 1 when there is none
#   rd_e2e_delivered_count [ADDRESS]
#   rd_e2e_wait_delivered COUNT TIMEOUT [ADDRESS]
#                                poll until at least COUNT messages delivered
#   rd_assert_contains FILE TEXT [DESC]      fixed string
#   rd_assert_not_contains FILE TEXT [DESC]
#   rd_assert_grep FILE ERE [DESC]           extended regexp
#   rd_assert_jq FILE JQ_FILTER DESC [JQ_ARGS...]
#                                passes when some line of the JSON Lines
#                                FILE makes JQ_FILTER truthy (lines that are
#                                not JSON are ignored, and counted in the
#                                failure context); JQ_ARGS e.g. --arg x y
#   rd_assert_jq_count FILE JQ_FILTER COUNT DESC [JQ_ARGS...]
#                                exactly COUNT lines match
#   rd_assert_eq GOT EXPECTED DESC
#   rd_assert_ok DESC CMD [ARGS...]          CMD exits 0
#   rd_pass DESC / rd_fail DESC [CONTEXT...] record a result by hand
#   rd_diag TEXT...              print "# TEXT"
#   rd_e2e_bail TEXT...          the test cannot run: "Bail out!", exit 1
#   rd_e2e_finish                print "N passed, M failed"; exit 1 if any
#                                failed or none ran, else 0
# Every assertion prints "ok - DESC" or "not ok - DESC" followed by
# "#   " context lines (the file and its content, the values ...).
# Assertions never abort the script. Under set -e, the wait functions and
# rd_e2e_delivered_message return 1 on timeout / nothing: add "|| true"
# where that is expected. Harness output goes to the test's stdout even
# from inside $(...) (fd 7).
#
# Variables (set before sourcing / before the start function to change them)
#   RD_SRC                   repo root (default: two levels above this file)
#   RELAYDIAG_BIN            default $RD_SRC/build/milter/relaydiag
#   RD_E2E_DIR               run directory; default mktemp -d /tmp/rd-e2e.XXXXXX.
#                            If set, it must be absent or empty; a directory
#                            that existed before is never removed.
#   RD_KEEP=1                keep the run directory even on success
#   RD_E2E_VERBOSE=1         dump whole logs on failure (default: last 40 lines)
#   RD_FAKE_MILTER=1         rd_e2e_start_milter does not start relaydiag
#   RD_MILTER                smtpd_milters ("unix:/path"); empty = none
#   RD_MILTER_DEFAULT_ACTION milter_default_action (default tempfail)
#   RD_E2E_TLS_AUTH_ONLY     smtpd_tls_auth_only on both listeners (default no)
#   RD_E2E_MX_AUTH           offer AUTH on the MX port too (default yes)
#   RD_E2E_MX_OPTS, RD_E2E_SUBMISSION_OPTS
#                            extra master.cf "-o name=value" words per listener
#                            (e.g. "-o milter_macro_daemon_name=ORIGINATING")
#   RD_E2E_MX_PORT (2525), RD_E2E_SUBMISSION_PORT (2587)
# Exported by the harness
#   RD_E2E_DIR, RD_MAILLOG (RUN/maillog), RD_POSTFIX_CONF (config dir),
#   RD_MAILDIR_BASE (RUN/mail), RD_DOVECOT_LOG (RUN/dovecot.log),
#   RD_SASL_SOCKET, RD_EVENTS (RUN/events.jsonl), RD_MILTER_CONF,
#   RD_MILTER_LOG (RUN/relaydiag.log), RD_MILTER_PID, RD_REDIS_*,
#   RD_TRUSTED_IP (127.0.0.100), RD_PROBE_IP (127.0.0.254),
#   RD_ALICE_USER/RD_ALICE_PASS, RD_BOB_USER/RD_BOB_PASS,
#   RD_TRANSCRIPT, RD_SWAKS_RC (after rd_e2e_swaks).
#
# Logs on failure: the run directory is kept and its path printed; the
# last lines of RUN/maillog, RUN/dovecot.log, RUN/relaydiag.log and
# RUN/redis.log are printed as "#" lines. Swaks transcripts: RUN/swaks/.
#
# Processes: every daemon runs in its own session (setsid; Postfix's master
# makes its own); cleanup (an EXIT trap; INT/TERM/HUP exit through it)
# signals each session, waits, SIGKILLs what is left, and fails the test if
# anything survives. Nothing outside the run directory is touched except the
# system user "relaydiag" (created once by rd_e2e_start_milter).

if [ -n "${_RD_E2E_LIB_LOADED:-}" ]; then
	return 0
fi
_RD_E2E_LIB_LOADED=1

# The harness by job, around one wait loop (lib/wait.sh): output and
# assertions, processes and the run directory, the MTA, Redis and
# relaydiag, mail.
_rd_lib=$(dirname "${BASH_SOURCE[0]}")/lib
for _rd_part in tap wait proc mta relaydiag observe mail debs pidns; do
	# shellcheck source=/dev/null
	. "$_rd_lib/$_rd_part.sh"
done
unset _rd_part

rd_e2e_init
