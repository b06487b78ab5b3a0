# shellcheck shell=bash
#
# tests/e2e/sendmail.sh - a private Sendmail for the end-to-end tests, with
# relaydiag attached through INPUT_MAIL_FILTER. Source it AFTER lib.sh:
#
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/sendmail.sh"
#     rd_e2e_start_milter "SubmissionPorts $RD_SM_SUBMISSION_PORT"
#     rd_e2e_start_sendmail               # reads RD_MILTER: start the milter first
#     rd_e2e_sm_swaks --local-interface 127.0.0.5 --to bob@gmail.test --quit-after RCPT
#     ...
#     rd_e2e_finish
#
# Debian's sendmail packages conflict with postfix (both are "the MTA"), so
# they are never installed: sendmail-bin, sendmail-base, sendmail-cf, m4,
# libwrap0, liblockfile1 and sasl2-bin are fetched into $RD_SM_CACHE/debs
# and unpacked into $RD_SM_CACHE/root (lib/debs.sh). The other libraries
# sendmail needs are installed ones (libsasl2-2, libsasl2-modules for
# PLAIN/LOGIN, libldap, libdb5.3: scripts/install-deps.sh); a missing one
# bails with its name. That sendmail
# (usr/libexec/sendmail/sendmail, 8.17.1.9) runs as root with
# `-C RUN/sendmail/sendmail.cf -bD -q1m -X RUN/sendmail/traffic.log` and
# LD_LIBRARY_PATH for the unpacked libwrap; -bD is -bd in the foreground.
# It runs in its own UTS namespace (host name mx.relaydiag.test: else an
# unqualified host name makes sendmail sleep 60 s at startup) and its own
# PID namespace, as its init (lib/pidns.sh: its delivery processes call
# setsid() and would escape lib.sh's session tracking; when it exits, the
# kernel kills whatever is left in the namespace). lib.sh's cleanup (EXIT trap) stops it
# first, and dumps its logs on failure.
#
# The instance (RUN/sendmail; .mc built with the unpacked m4 and cf files):
#   127.0.0.1:$RD_SM_MX_PORT (2625)          Name=MTA  (port-25-like)
#   127.0.0.1:$RD_SM_SUBMISSION_PORT (2687)  Name=MSA, M=Ea (AUTH required)
#   $j = mx.relaydiag.test; no DNS for host names (service switch: files),
#   no ident, no interface probing; local domain (class w) example.test.
#   DontBlameSendmail=TrustStickyBit: the run directory is under /tmp, and
#   Sendmail refuses files (the milter socket too) below a world-writable
#   directory unless it trusts the sticky bit.
#   Local delivery: the local mailer is RUN/sendmail/deliver (as nobody),
#   which writes each message to RUN/mail/example.test/USER/new/ (lib.sh's
#   rd_e2e_delivered_message / rd_e2e_wait_delivered work unchanged); any
#   user of example.test exists. Anything else Sendmail accepts (an
#   authorized relay) goes, by a mailertable ".", to the "relayed" mailer:
#   RUN/sendmail/relayed/USER_DOMAIN/new/. Nothing leaves the machine.
#   Relaying is authorized as in a real Sendmail: by class R (RELAY_DOMAIN)
#   holding the client addresses $RD_SM_RELAY_CLIENTS (default
#   "$RD_TRUSTED_IP", i.e. 127.0.0.100), and by SMTP AUTH (TRUST_AUTH_MECH
#   PLAIN LOGIN; Cyrus sasldb RUN/sendmail/sasl/sasldb2 for the app
#   "Sendmail", users $RD_ALICE_USER and $RD_BOB_USER, who log in with the
#   full address).
#   NOTE: Sendmail's Relay_ok ruleset lets 127.0.0.1 relay unconditionally
#   ("originated locally", hard-coded in proto.m4): never drive an
#   unauthorized client from 127.0.0.1; use --local-interface 127.0.0.5 etc.
#   Those clients have no name in /etc/hosts ({client_resolve}=FAIL), so
#   Sendmail's refusal reads "550 5.7.1 <rcpt>... Relaying denied. IP name
#   lookup failed [127.0.0.5]".
#   NOTE: this sendmail is built without _FFR_MILTER_CHECK_REJECTIONS_TOO:
#   a recipient refused by check_rcpt (relaying denied, access db) never
#   reaches a milter, SMFIP_RCPT_REJ or not (rd_e2e_sm_compiled_with).
#   The milter: INPUT_MAIL_FILTER(`relaydiag', `S=local:<RD_MILTER path>,
#   F=T, T=S:30s;R:30s;E:5m') with the macro lists relaydiag asks for.
#   No STARTTLS.
#
# Functions
#   rd_e2e_start_sendmail [MC_LINE...]
#                         write the .mc (each MC_LINE appended before the
#                         MAILER() lines), build the .cf, start, wait
#                         (bounded) for a 220 banner on both ports or bail
#                         with the logs
#   rd_e2e_stop_sendmail  stop the daemon and every process of its PID
#                         namespace; bails if one survives
#   rd_e2e_restart_sendmail [MC_LINE...]
#   rd_e2e_sm_swaks ARGS...
#                         rd_e2e_swaks with --port $RD_SM_MX_PORT (ARGS
#                         override it)
#   rd_e2e_sm_fetch       fetch + unpack the packages into the cache (run
#                         by rd_e2e_start_sendmail); prints nothing
#   rd_e2e_sm_compiled_with NAME
#                         0 when sendmail -d0.13 lists NAME ("Compiled
#                         with:" or "FFR Defines:")
#   rd_e2e_sm_ns_pids     live processes of the instance's PID namespace
#
# Variables (set before rd_e2e_start_sendmail)
#   RD_SM_MX_PORT (2625), RD_SM_SUBMISSION_PORT (2687)
#   RD_SM_RELAY_CLIENTS   client IPs (or prefixes) Sendmail relays for
#                         (class R); default "$RD_TRUSTED_IP"
#   RD_SM_CACHE           default /var/cache/relaydiag-e2e/sendmail
#   RD_SM_AUTH            yes (default): Cyrus sasldb AUTH PLAIN/LOGIN,
#                         M=Ea on the MSA port; no: no AUTH at all
#   RD_SM_DEBUG           extra sendmail -d flags (e.g. "-d64.10" for milter
#                         traces; output in RUN/sendmail/debug.log)
# Exported
#   RD_SM_DIR (RUN/sendmail), RD_SM_ROOT (the unpacked packages),
#   RD_SM_BIN, RD_SM_CF, RD_SM_LOG (daemon stdout/stderr), RD_SM_XLOG (-X
#   traffic of every SMTP session and mailer), RD_SM_HOSTNAME, RD_SM_PID
#   (the session leader: unshare, whose child is the daemon).
# On failure the last lines of RD_SM_LOG and RD_SM_XLOG are printed with
# lib.sh's other logs.

if [ -n "${_RD_E2E_SM_LOADED:-}" ]; then
	return 0
fi
_RD_E2E_SM_LOADED=1

[ -n "${_RD_E2E_LIB_LOADED:-}" ] || {
	echo "Bail out! tests/e2e/sendmail.sh: source lib.sh first" >&2
	exit 1
}

_rd_sm_missing=()
for _rd_sm_c in apt-get dpkg flock unshare hostname ldd readlink paste; do
	command -v "$_rd_sm_c" >/dev/null 2>&1 || _rd_sm_missing+=("$_rd_sm_c")
done
[ ${#_rd_sm_missing[@]} -eq 0 ] ||
	rd_e2e_bail "sendmail.sh: missing command(s): ${_rd_sm_missing[*]} (packages: apt dpkg util-linux hostname libc-bin coreutils)"
unset _rd_sm_missing _rd_sm_c

RD_SM_MX_PORT=${RD_SM_MX_PORT:-2625}
RD_SM_SUBMISSION_PORT=${RD_SM_SUBMISSION_PORT:-2687}
RD_SM_CACHE=${RD_SM_CACHE:-/var/cache/relaydiag-e2e/sendmail}
RD_SM_DIR=$RD_E2E_DIR/sendmail
RD_SM_CF=$RD_SM_DIR/sendmail.cf
RD_SM_LOG=$RD_SM_DIR/sendmail.log
# Sendmail's syslog, captured as a mail.log (_rd_sm_start_syslog)
RD_SM_SYSLOG=$RD_SM_DIR/mail.log
RD_SM_XLOG=$RD_SM_DIR/traffic.log
RD_SM_HOSTNAME=mx.relaydiag.test
export RD_SM_MX_PORT RD_SM_SUBMISSION_PORT RD_SM_CACHE RD_SM_DIR RD_SM_CF \
	RD_SM_LOG RD_SM_XLOG RD_SM_HOSTNAME

# the packages (and their version-independent names); the cache holds the
# .debs apt-get downloaded and the tree they unpack to
_RD_SM_PKGS="sendmail-bin sendmail-base sendmail-cf m4 libwrap0 liblockfile1 sasl2-bin"

# ------------------------------------------------------------ hook lib.sh --

# lib.sh's EXIT trap stops the daemons it knows (_rd_stop_all) and dumps
# their logs (_rd_dump_logs): wrap both so that Sendmail is stopped first
# and its logs are shown too. lib.sh itself is not changed.
eval "_rd_sm_lib_stop_all() $(declare -f _rd_stop_all | tail -n +2)"
_rd_stop_all() {
	local ok=0
	_rd_sm_stop_quiet || ok=1
	_rd_stop_session smsyslog 5 || ok=1
	_rd_sm_lib_stop_all || ok=1
	return $ok
}
eval "_rd_sm_lib_dump_logs() $(declare -f _rd_dump_logs | tail -n +2)"
_rd_dump_logs() {
	local f n=40
	_rd_sm_lib_dump_logs
	[ "${RD_E2E_VERBOSE:-0}" = 1 ] && n=100000
	for f in "$RD_SM_LOG" "$RD_SM_XLOG" "$RD_SM_DIR/debug.log" "$RD_SM_DIR/mail.log"; do
		[ -s "$f" ] || continue
		printf '# ---- %s (last %s lines) ----\n' "$f" "$n" >&7
		tail -n "$n" "$f" | tr -d '\r' | sed 's/^/#   /' >&7
	done
}

# ------------------------------------------------------------- packages --

rd_e2e_sm_fetch() {
	local f
	# shellcheck disable=SC2086
	rd_e2e_fetch_debs sendmail "$RD_SM_CACHE" $_RD_SM_PKGS
	RD_SM_ROOT=$RD_SM_CACHE/root
	RD_SM_BIN=$RD_SM_ROOT/usr/libexec/sendmail/sendmail
	export RD_SM_ROOT RD_SM_BIN
	for f in "$RD_SM_ROOT/usr/libexec/sendmail/makemap" \
		"$RD_SM_ROOT/usr/share/sendmail/cf/m4/cf.m4"; do
		[ -e "$f" ] || rd_e2e_bail "sendmail packages: $f missing in the unpacked tree (remove $RD_SM_CACHE to fetch again)"
	done
	rd_e2e_debs_check_libs sendmail "$RD_SM_ROOT" "$RD_SM_BIN" \
		"$RD_SM_ROOT/usr/sbin/saslpasswd2" "$RD_SM_ROOT/usr/bin/m4"
}

_rd_sm_env() {	# CMD...: run an unpacked binary with its libraries
	rd_e2e_debs_env "$RD_SM_ROOT" "$@"
}

# rd_e2e_sm_compiled_with NAME: 0 when the unpacked sendmail was built with
# NAME (a "Compiled with:" or "FFR Defines:" word of sendmail -d0.13)
rd_e2e_sm_compiled_with() {
	[ -n "${RD_SM_ROOT:-}" ] || rd_e2e_sm_fetch
	if [ -z "${_RD_SM_DEFINES:-}" ]; then
		# in its own UTS namespace: see rd_e2e_start_sendmail
		_RD_SM_DEFINES=$(unshare --uts sh -c 'hostname "$0" && exec "$@"' \
			"$RD_SM_HOSTNAME" env \
			LD_LIBRARY_PATH="$RD_SM_ROOT/usr/lib/x86_64-linux-gnu:$RD_SM_ROOT/lib/x86_64-linux-gnu" \
			"$RD_SM_BIN" -d0.13 -bt -C /dev/null </dev/null 2>&1 |
			sed -n '/Compiled with:/,/Canonical name:/p')
	fi
	[[ " $(tr -s ' \t\n' '   ' <<<"$_RD_SM_DEFINES") " == *" $1 "* ]]
}

# --------------------------------------------------------------- config --

_rd_sm_saslpasswd() {	# USER@DOMAIN PASSWORD
	local u=${1%@*} realm=${1#*@}
	# the unpacked one: sasl2-bin is not installed (its saslauthd would be
	# one more system daemon); it needs only libsasl2-2
	printf '%s' "$2" | _rd_sm_env "$RD_SM_ROOT/usr/sbin/saslpasswd2" -p -c -a Sendmail \
		-f "$RD_SM_DIR/sasl/sasldb2" -u "$realm" "$u" ||
		rd_e2e_bail "saslpasswd2 could not add $1 to $RD_SM_DIR/sasl/sasldb2"
}

_rd_sm_write_config() {
	local d=$RD_SM_DIR cfdir=$RD_SM_ROOT/usr/share/sendmail/cf line sock=
	local auth=${RD_SM_AUTH:-yes} c
	mkdir -p "$d/mqueue" "$d/sasl" "$RD_MAILDIR_BASE/example.test"
	chmod 0755 "$d"
	chmod 0700 "$d/mqueue"
	chown nobody:nogroup "$RD_MAILDIR_BASE" "$RD_MAILDIR_BASE/example.test"
	: >"$d/statistics"
	chmod 0600 "$d/statistics"
	printf 'example.test\n' >"$d/local-host-names"
	printf 'hosts files\naliases files\n' >"$d/service.switch"
	chmod 0644 "$d/local-host-names" "$d/service.switch"

	# the local mailer: one file per message, maildir-like, like lib.sh's
	# Postfix delivers (runs as DefaultUser nobody)
	mkdir -p "$d/relayed"
	chown nobody:nogroup "$d/relayed"
	cat >"$d/deliver" <<EOF
#!/bin/sh
# local and "relayed" mailer of the private Sendmail (tests/e2e/sendmail.sh)
#   deliver USER                 -> $RD_MAILDIR_BASE/example.test/USER/new/
#   deliver --relayed ADDRESS    -> $d/relayed/USER_DOMAIN/new/
set -e
if [ "\$1" = --relayed ]; then
	base=$d/relayed
	shift
else
	base=$RD_MAILDIR_BASE/example.test
fi
u=\$(printf '%s' "\$1" | tr -c 'A-Za-z0-9._+-' _)
dir=\$base/\$u
mkdir -p "\$dir/tmp" "\$dir/new"
f=\$(date +%s.%N).\$\$
cat >"\$dir/tmp/\$f"
mv "\$dir/tmp/\$f" "\$dir/new/\$f"
EOF
	chmod 0755 "$d/deliver"

	# everything not local goes to the "relayed" mailer (an accepted relay
	# ends in RUN/sendmail/relayed/USER_DOMAIN/: nothing leaves the machine).
	# Sendmail's own discard mailer cannot be named in a mailertable
	# ("554 5.3.5 buildaddr: unknown mailer discard").
	printf '.\trelayed:relayed\n' >"$d/mailertable"

	if [ "$auth" = yes ]; then
		rm -f "$d/sasl/sasldb2"
		cat >"$d/sasl/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $d/sasl/sasldb2
EOF
		_rd_sm_saslpasswd "$RD_ALICE_USER" "$RD_ALICE_PASS"
		_rd_sm_saslpasswd "$RD_BOB_USER" "$RD_BOB_PASS"
		chmod 0700 "$d/sasl"
		chmod 0600 "$d/sasl/Sendmail.conf" "$d/sasl/sasldb2"
	fi

	case ${RD_MILTER:-} in
	unix:*) sock=${RD_MILTER#unix:} ;;
	'') ;;
	*) rd_e2e_bail "rd_e2e_start_sendmail: RD_MILTER=$RD_MILTER is not unix:PATH" ;;
	esac

	{
		cat <<EOF
divert(-1)
# private Sendmail for the relaydiag e2e tests (written by tests/e2e/sendmail.sh)
divert(0)dnl
include(\`$cfdir/m4/cf.m4')dnl
VERSIONID(\`relaydiag e2e')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$RD_SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$d/mqueue')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confCW_FILE', \`-o $d/local-host-names')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confHELP_FILE', \`$RD_SM_ROOT/etc/mail/helpfile')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confDEF_USER_ID', \`65534:65534')dnl
define(\`confLOG_LEVEL', \`14')dnl
dnl the run directory is under /tmp (world-writable, sticky): without this
dnl Sendmail refuses every file below it, the milter socket too ("local
dnl socket name ... unsafe: World writable directory")
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confDELIVERY_MODE', \`background')dnl
FEATURE(\`use_cw_file')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`mailertable', \`hash -o $d/mailertable')dnl
define(\`LOCAL_MAILER_PATH', \`$d/deliver')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver \$u')dnl
define(\`LOCAL_MAILER_FLAGS', \`Pn9')dnl
MODIFY_MAILER_FLAGS(\`LOCAL', \`-wA')dnl
DAEMON_OPTIONS(\`Port=$RD_SM_MX_PORT, Addr=127.0.0.1, Name=MTA')dnl
EOF
		if [ "$auth" = yes ]; then
			cat <<EOF
DAEMON_OPTIONS(\`Port=$RD_SM_SUBMISSION_PORT, Addr=127.0.0.1, Name=MSA, M=Ea')dnl
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
dnl Cyrus SASL finds Sendmail.conf (app "Sendmail") through SASL_CONF_PATH
dnl (else /etc/sasl2 ...). Sendmail clears its environment at startup, but
dnl an E line sets a variable in its own environment before SASL starts.
LOCAL_CONFIG
ESASL_CONF_PATH=$d/sasl
EOF
		else
			printf "DAEMON_OPTIONS(\`Port=%s, Addr=127.0.0.1, Name=MSA, M=E')dnl\n" \
				"$RD_SM_SUBMISSION_PORT"
		fi
		for c in ${RD_SM_RELAY_CLIENTS-$RD_TRUSTED_IP}; do
			printf "RELAY_DOMAIN(\`%s')dnl\n" "$c"
		done
		if [ -n "$sock" ]; then
			cat <<EOF
INPUT_MAIL_FILTER(\`relaydiag', \`S=local:$sock, F=T, T=S:30s;R:30s;E:5m')dnl
define(\`confMILTER_MACROS_CONNECT', \`j, _, {daemon_name}, {daemon_addr}, {daemon_port}, {client_addr}, {client_port}, {client_name}, {client_ptr}')dnl
define(\`confMILTER_MACROS_HELO', \`{tls_version}, {cipher}, {cipher_bits}, {cert_subject}')dnl
define(\`confMILTER_MACROS_ENVFROM', \`i, {auth_type}, {auth_authen}, {tls_version}, {cipher}, {cipher_bits}, {cert_subject}')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`i, {rcpt_mailer}, {rcpt_host}, {rcpt_addr}')dnl
define(\`confMILTER_MACROS_EOM', \`i')dnl
EOF
		fi
		if [ $# -gt 0 ]; then
			printf 'dnl extra lines (rd_e2e_start_sendmail arguments)\n'
			for line in "$@"; do
				printf '%s\n' "$line"
			done
		fi
		cat <<EOF
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MAILER_DEFINITIONS
Mrelayed,	P=$d/deliver, F=DFMn, U=65534:65534, A=deliver --relayed \$u
EOF
	} >"$d/sendmail.mc"

	_rd_sm_env "$RD_SM_ROOT/usr/bin/m4" "$d/sendmail.mc" >"$RD_SM_CF" 2>"$d/m4.log" ||
		rd_e2e_bail "m4 $d/sendmail.mc failed: $(cat "$d/m4.log")"
	[ -s "$d/m4.log" ] && rd_e2e_bail "m4 $d/sendmail.mc: $(cat "$d/m4.log")"
	chmod 0644 "$d/sendmail.mc" "$RD_SM_CF"
	(cd "$d" && _rd_sm_env "$RD_SM_ROOT/usr/libexec/sendmail/makemap" -C "$RD_SM_CF" \
		hash mailertable <mailertable) >"$d/makemap.log" 2>&1 ||
		rd_e2e_bail "makemap hash $d/mailertable failed: $(cat "$d/makemap.log")"
	return 0
}

# --------------------------------------------------------------- daemon --

# The mount namespace's set-up (sh -c): the host's /dev bound aside, a
# tmpfs on /dev with the nodes sendmail uses bound back, /dev/log a link
# to the receiver's socket.
_RD_SM_NS_SETUP='set -e; d=$RD_SM_DIR/olddev; mkdir -p "$d";
mount --make-rprivate /; mount --bind /dev "$d";
mount -t tmpfs -o mode=0755 relaydiag-dev /dev;
for n in null zero full random urandom tty; do
  [ -e "$d/$n" ] || continue; : >"/dev/$n"; mount --bind "$d/$n" "/dev/$n";
done;
ln -s /proc/self/fd /dev/fd; ln -s "$RD_SM_DIR/syslog.sock" /dev/log'

# _rd_sm_start_syslog - the receiver of Sendmail's syslog: a unix datagram
# socket; "<PRI>Mmm dd HH:MM:SS ident[pid]: msg" becomes "Mmm dd HH:MM:SS
# mx ident[pid]: msg" in $RD_SM_SYSLOG
_rd_sm_start_syslog() {
	[ -n "${_RD_SID[smsyslog]:-}" ] && return 0
	RD_SM_SYSLOG=$RD_SM_DIR/mail.log
	export RD_SM_SYSLOG RD_SM_DIR
	rm -f "$RD_SM_DIR/syslog.sock"
	: >"$RD_SM_SYSLOG"
	chmod 0644 "$RD_SM_SYSLOG"
	_rd_spawn smsyslog "$RD_SM_DIR/syslog-receiver.log" python3 -c '
import os, re, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        m = s.recv(65536)
        m = re.sub(rb"^<[0-9]+>", b"", m).rstrip(b"\n").replace(b"\n", b" ")
        f.write(m[:15] + b" mx " + m[16:] + b"\n")
' "$RD_SM_DIR/syslog.sock" "$RD_SM_SYSLOG"
	rd_wait 5 0.05 test -S "$RD_SM_DIR/syslog.sock" ||
		rd_e2e_bail "sendmail: the syslog receiver has no socket"
}

rd_e2e_start_sendmail() {
	[ -n "${_RD_SID[sendmail]:-}" ] && rd_e2e_bail "rd_e2e_start_sendmail: already running (use rd_e2e_restart_sendmail)"
	local port dl flags=()
	for port in "$RD_SM_MX_PORT" "$RD_SM_SUBMISSION_PORT"; do
		_rd_port_in_use "$port" &&
			rd_e2e_bail "port $port is already in use (a Sendmail left by an earlier run?): $(ss -Htlnp "( sport = :$port )")"
	done
	rd_e2e_sm_fetch
	unshare --mount true 2>/dev/null ||
		rd_e2e_bail "sendmail: cannot make a private mount namespace here ($(unshare --mount true 2>&1)); in a chroot, make its root a mount point first: mount --bind ROOT ROOT"
	mkdir -p "$RD_SM_DIR"
	_rd_sm_write_config "$@"
	rm -f "$RD_SM_DIR/sendmail.pid"
	# shellcheck disable=SC2206
	[ -n "${RD_SM_DEBUG:-}" ] && flags=(-D "$RD_SM_DIR/debug.log" $RD_SM_DEBUG)
	# Before it reads its .cf, sendmail qualifies the machine's host name
	# (conf.c myhostname): a name without a dot that DNS cannot qualify
	# (e.g. "vm", in /etc/hosts only) makes it sleep 60 s ("My unqualified
	# host name ... unknown; sleeping for retry"). So it runs in its own UTS
	# namespace whose host name is $RD_SM_HOSTNAME (the .cf's $j too).
	# And in its own PID namespace, as its init: Sendmail's delivery
	# processes and mailers call setsid(), so they leave the session that
	# lib.sh tracks (a hung one outlived a test run); when the namespace's
	# init exits, the kernel kills every process left in it. unshare is
	# the session leader (--kill-child: if unshare dies, sendmail gets
	# SIGTERM).
	# Sendmail empties its environment at startup: SASL_CONF_PATH is set
	# by an E line of the .cf instead (see _rd_sm_write_config).
	# Its syslog(3) goes to /dev/log: in its own mount namespace that is a
	# link to RUN/sendmail/syslog.sock, where a receiver (started first)
	# writes each message to $RD_SM_SYSLOG as a mail.log line, for the log
	# front end (LogFile). /dev there is a tmpfs with the host's device
	# nodes bound into it: no /dev/log is created on the host.
	_rd_sm_start_syslog
	_rd_spawn sendmail "$RD_SM_LOG" unshare --uts --pid --mount --fork --kill-child=SIGTERM \
		sh -c "$_RD_SM_NS_SETUP"' && hostname "$0" && exec "$@"' "$RD_SM_HOSTNAME" env \
		LD_LIBRARY_PATH="$RD_SM_ROOT/usr/lib/x86_64-linux-gnu:$RD_SM_ROOT/lib/x86_64-linux-gnu" \
		"$RD_SM_BIN" -C "$RD_SM_CF" -bD -q1m -X "$RD_SM_XLOG" "${flags[@]}"
	RD_SM_PID=${_RD_SID[sendmail]}
	export RD_SM_PID
	# the namespace of the daemon (unshare's child): its processes are ours
	rd_e2e_pidns_up sendmail sendmail "$RD_SM_LOG" "$RD_SM_MX_PORT" "$RD_SM_SUBMISSION_PORT"
	return 0
}

_rd_sm_stop_quiet() {
	rd_e2e_pidns_stop sendmail sendmail
}

# rd_e2e_sm_ns_pids: live processes in the PID namespace of the private
# Sendmail (its daemon, SMTP servers, deliveries, mailers); prints nothing
# when it is gone
rd_e2e_sm_ns_pids() {
	rd_e2e_pidns_pids "${_RD_PIDNS[sendmail]:-}"
}

rd_e2e_stop_sendmail() {
	_rd_sm_stop_quiet || rd_e2e_bail "sendmail: processes left behind"
	RD_SM_PID=
}

rd_e2e_restart_sendmail() {
	rd_e2e_stop_sendmail
	rd_e2e_start_sendmail "$@"
}

rd_e2e_sm_swaks() {
	rd_e2e_swaks --port "$RD_SM_MX_PORT" "$@"
}
