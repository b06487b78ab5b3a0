# shellcheck shell=bash
#
# tests/e2e/exim.sh - a private Exim for the end-to-end tests. Exim has no
# milter: relaydiag sees it only through its log (LogFile = Exim's
# mainlog, the log front end). Source it AFTER lib.sh:
#
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/exim.sh"
#     rd_e2e_start_exim
#     rd_e2e_start_milter "LogFile $RD_EXIM_MAINLOG" "LogFormat exim" ...
#     rd_e2e_exim_swaks --local-interface 127.0.0.5 --to bob@gmail.test --quit-after RCPT
#     ...
#     rd_e2e_finish
#
# Debian's exim4 packages conflict with postfix: exim4-daemon-light and
# exim4-base are fetched and unpacked into $RD_EXIM_CACHE (lib/debs.sh),
# never installed. The libraries it needs beyond Postfix's are installed
# by scripts/install-deps.sh (libidn12, libnsl2, libgnutls-dane0): Exim
# re-executes its set-uid binary for each delivery (exim_path, the
# unpacked binary), and the loader ignores LD_LIBRARY_PATH for a set-uid
# program (unpacked libraries worked for the daemon, started by root, and
# failed every delivery on a fresh machine). That exim (4.96) runs as root
# with `-C RUN/exim/exim.conf -bdf` (the daemon in the foreground), in its
# own PID namespace as its init (lib/pidns.sh). Debian's binary looks up
# its compiled-in user Debian-exim at startup: it is created (a system
# user, no home, no shell) when missing, as Debian's exim4-base would.
#
# The instance (RUN/exim/exim.conf):
#   127.0.0.1:$RD_EXIM_MX_PORT (2825)          the port-25-like listener
#   127.0.0.1:$RD_EXIM_SUBMISSION_PORT (2887)  submission (AUTH offered on
#                                              both; no STARTTLS)
#   primary_hostname mx.relaydiag.test; no DNS for client names, no ident;
#   helo_accept_junk_hosts = * (any HELO is taken, and logged, as written);
#   log_selector +incoming_port +incoming_interface (the client's port and
#   the listener, I=[ip]:port, on each line), mainlog RUN/exim/log/mainlog
#   ($RD_EXIM_MAINLOG, mode 0644: relaydiag reads it unprivileged).
#   Local domain example.test: delivered to RUN/mail/example.test/USER/new/
#   (lib.sh's rd_e2e_delivered_message works unchanged).
#   Relaying is authorized as in Debian's default configuration: for
#   relay_from_hosts ($RD_TRUSTED_IP) and for an authenticated client
#   (plaintext PLAIN/LOGIN, users $RD_ALICE_USER and $RD_BOB_USER with their
#   passwords); anything else to a domain not ours is refused at RCPT with
#   "relay not permitted" (Exim logs "rejected RCPT <rcpt>: relay not
#   permitted").
#   Outbound: remote.test, moved.test and soft.test go to the remote
#   Postfix (rd_e2e_start_remote: 127.0.0.1:$RD_E2E_REMOTE_PORT, or its
#   soft_bounce port for soft.test), which refuses to relay; nothing else
#   leaves (other domains: the "discard" router, a blackhole).
#
# Functions
#   rd_e2e_start_exim     fetch, write the configuration, start, wait
#                         (bounded) for a 220 banner on both ports or bail
#   rd_e2e_stop_exim      stop the daemon and every process of its PID
#                         namespace; bails if one survives
#   rd_e2e_exim_swaks ARGS...
#                         rd_e2e_swaks with --port $RD_EXIM_MX_PORT
#   rd_e2e_exim_ns_pids   live processes of the instance's PID namespace
#
# Exported: RD_EXIM_DIR (RUN/exim), RD_EXIM_ROOT, RD_EXIM_BIN,
# RD_EXIM_MAINLOG, RD_EXIM_MX_PORT, RD_EXIM_SUBMISSION_PORT.
# On failure the last lines of the daemon's output and logs are printed
# with lib.sh's other logs.

if [ -n "${_RD_E2E_EXIM_LOADED:-}" ]; then
	return 0
fi
_RD_E2E_EXIM_LOADED=1

[ -n "${_RD_E2E_LIB_LOADED:-}" ] || {
	echo "Bail out! tests/e2e/exim.sh: source lib.sh first" >&2
	exit 1
}

for _rd_exim_c in apt-get dpkg flock unshare ldd readlink paste; do
	command -v "$_rd_exim_c" >/dev/null 2>&1 ||
		rd_e2e_bail "exim.sh: missing command $_rd_exim_c (packages: apt dpkg util-linux libc-bin coreutils)"
done
unset _rd_exim_c

RD_EXIM_MX_PORT=${RD_EXIM_MX_PORT:-2825}
RD_EXIM_SUBMISSION_PORT=${RD_EXIM_SUBMISSION_PORT:-2887}
RD_EXIM_CACHE=${RD_EXIM_CACHE:-/var/cache/relaydiag-e2e/exim}
RD_EXIM_DIR=$RD_E2E_DIR/exim
RD_EXIM_MAINLOG=$RD_EXIM_DIR/log/mainlog
RD_EXIM_OUT=$RD_EXIM_DIR/exim.out
export RD_EXIM_MX_PORT RD_EXIM_SUBMISSION_PORT RD_EXIM_DIR RD_EXIM_MAINLOG

_RD_EXIM_PKGS="exim4-daemon-light exim4-base"

# lib.sh's EXIT trap: stop Exim first, show its logs too
eval "_rd_exim_lib_stop_all() $(declare -f _rd_stop_all | tail -n +2)"
_rd_stop_all() {
	local ok=0
	_rd_exim_stop_quiet || ok=1
	_rd_exim_lib_stop_all || ok=1
	return $ok
}
eval "_rd_exim_lib_dump_logs() $(declare -f _rd_dump_logs | tail -n +2)"
_rd_dump_logs() {
	local f n=40
	_rd_exim_lib_dump_logs
	[ "${RD_E2E_VERBOSE:-0}" = 1 ] && n=100000
	for f in "$RD_EXIM_OUT" "$RD_EXIM_MAINLOG" "$RD_EXIM_DIR/log/paniclog" \
		"$RD_EXIM_DIR/log/rejectlog"; do
		[ -s "$f" ] || continue
		printf '# ---- %s (last %s lines) ----\n' "$f" "$n" >&7
		tail -n "$n" "$f" | tr -d '\r' | sed 's/^/#   /' >&7
	done
}

_rd_exim_fetch() {
	# shellcheck disable=SC2086
	rd_e2e_fetch_debs exim "$RD_EXIM_CACHE" $_RD_EXIM_PKGS
	RD_EXIM_ROOT=$RD_EXIM_CACHE/root
	RD_EXIM_BIN=$RD_EXIM_ROOT/usr/sbin/exim4
	export RD_EXIM_ROOT RD_EXIM_BIN
	# the installed libraries only (see above)
	rd_e2e_debs_check_libs exim "" "$RD_EXIM_BIN"
}

_rd_exim_user() {
	getent passwd Debian-exim >/dev/null && return 0
	if command -v adduser >/dev/null 2>&1; then
		adduser --system --group --no-create-home --home /nonexistent \
			--allow-bad-names Debian-exim >/dev/null 2>&1
	else
		useradd --system --user-group --no-create-home \
			--home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim
	fi
	getent passwd Debian-exim >/dev/null ||
		rd_e2e_bail "exim: cannot create the system user Debian-exim"
}

_rd_exim_write_config() {
	local d=$RD_EXIM_DIR
	mkdir -p "$d/spool" "$d/log" "$RD_MAILDIR_BASE/example.test"
	# Exim (as Debian-exim) writes there; this sandbox's root may lack
	# CAP_DAC_OVERRIDE, so the directories are open rather than chowned
	chmod 0777 "$d/spool" "$d/log"
	chmod 0755 "$d"
	chown nobody:nogroup "$RD_MAILDIR_BASE" "$RD_MAILDIR_BASE/example.test"
	# the log exists before Exim opens it: readable by relaydiag
	: >"$RD_EXIM_MAINLOG"
	chmod 0666 "$RD_EXIM_MAINLOG"
	cat >"$d/exim.conf" <<EOF2
# the private Exim of the e2e tests (tests/e2e/exim.sh)
primary_hostname = mx.relaydiag.test
exim_path = $RD_EXIM_BIN
spool_directory = $d/spool
log_file_path = $d/log/%slog
log_selector = +incoming_port +incoming_interface
daemon_smtp_ports = $RD_EXIM_MX_PORT : $RD_EXIM_SUBMISSION_PORT
local_interfaces = 127.0.0.1
domainlist local_domains = example.test
hostlist relay_from_hosts = $RD_TRUSTED_IP
acl_smtp_rcpt = acl_check_rcpt
auth_advertise_hosts = *
host_lookup =
rfc1413_hosts =
helo_accept_junk_hosts = *
never_users =
keep_environment =
queue_run_in_order = false
message_size_limit = 10M

begin acl
acl_check_rcpt:
  accept hosts = +relay_from_hosts
  accept authenticated = *
  accept domains = +local_domains
  deny message = relay not permitted

begin routers
remote_hard:
  driver = manualroute
  domains = remote.test : moved.test
  route_list = * 127.0.0.1
  self = send
  transport = remote_smtp
remote_soft:
  driver = manualroute
  domains = soft.test
  route_list = * 127.0.0.1
  self = send
  transport = remote_smtp_soft
local_user:
  driver = accept
  domains = +local_domains
  transport = maildir
discard:
  driver = redirect
  data = :blackhole:

begin transports
remote_smtp:
  driver = smtp
  port = $RD_E2E_REMOTE_PORT
  allow_localhost
  hosts_avoid_tls = *
remote_smtp_soft:
  driver = smtp
  port = $RD_E2E_REMOTE_SOFT_PORT
  allow_localhost
  hosts_avoid_tls = *
maildir:
  driver = appendfile
  directory = $RD_MAILDIR_BASE/\$domain/\$local_part
  maildir_format
  create_directory
  user = nobody
  group = nogroup
  mode = 0644

begin retry
* * F,1m,1m

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if or {{and {{eq{\$auth2}{$RD_ALICE_USER}}{eq{\$auth3}{$RD_ALICE_PASS}}}}\\
    {and {{eq{\$auth2}{$RD_BOB_USER}}{eq{\$auth3}{$RD_BOB_PASS}}}}}}
  server_set_id = \$auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if or {{and {{eq{\$auth1}{$RD_ALICE_USER}}{eq{\$auth2}{$RD_ALICE_PASS}}}}\\
    {and {{eq{\$auth1}{$RD_BOB_USER}}{eq{\$auth2}{$RD_BOB_PASS}}}}}}
  server_set_id = \$auth1
EOF2
	chmod 0644 "$d/exim.conf"
	"$RD_EXIM_BIN" -C "$d/exim.conf" -bV >"$d/check.log" 2>&1 ||
		rd_e2e_bail "exim: $d/exim.conf does not load: $(tail -n 5 "$d/check.log")"
}

rd_e2e_start_exim() {
	[ -n "${_RD_SID[exim]:-}" ] && rd_e2e_bail "rd_e2e_start_exim: already running"
	local port
	for port in "$RD_EXIM_MX_PORT" "$RD_EXIM_SUBMISSION_PORT"; do
		_rd_port_in_use "$port" &&
			rd_e2e_bail "port $port is already in use (an Exim left by an earlier run?): $(ss -Htlnp "( sport = :$port )")"
	done
	[ -n "${RD_E2E_REMOTE_PORT:-}" ] ||
		rd_e2e_bail "rd_e2e_start_exim: start the remote Postfix first (rd_e2e_start_remote)"
	_rd_exim_fetch
	_rd_exim_user
	mkdir -p "$RD_EXIM_DIR"
	_rd_exim_write_config
	_rd_spawn exim "$RD_EXIM_OUT" unshare --pid --fork --kill-child=SIGTERM \
		"$RD_EXIM_BIN" -C "$RD_EXIM_DIR/exim.conf" -bdf
	rd_e2e_pidns_up exim exim "$RD_EXIM_OUT" "$RD_EXIM_MX_PORT" "$RD_EXIM_SUBMISSION_PORT"
}

rd_e2e_exim_ns_pids() {
	rd_e2e_pidns_pids "${_RD_PIDNS[exim]:-}"
}

_rd_exim_stop_quiet() {
	rd_e2e_pidns_stop exim exim
}

rd_e2e_stop_exim() {
	_rd_exim_stop_quiet || rd_e2e_bail "exim: processes left behind"
}

rd_e2e_exim_swaks() {
	rd_e2e_swaks --port "$RD_EXIM_MX_PORT" "$@"
}
