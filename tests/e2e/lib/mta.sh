# tests/e2e/lib/mta.sh - the private Postfix and its Dovecot SASL.
# Part of the harness: sourced by tests/e2e/lib.sh, never on its own.

# --------------------------------------------------------------- dovecot --

_rd_start_dovecot() {
	[ -n "${_RD_SID[dovecot]:-}" ] && return 0
	local d=$RD_E2E_DIR/dovecot dl
	mkdir -p "$d/run" "$d/state"
	printf '%s:{PLAIN}%s::::::\n' "$RD_ALICE_USER" "$RD_ALICE_PASS" \
		"$RD_BOB_USER" "$RD_BOB_PASS" >"$d/users"
	chmod 0644 "$d/users"
	cat >"$d/dovecot.conf" <<EOF
# private Dovecot for the relaydiag e2e tests: SASL auth for Postfix only
instance_name = relaydiag-e2e
base_dir = $d/run
state_dir = $d/state
log_path = $RD_DOVECOT_LOG
protocols = none
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# failed AUTH: reply at once (500 ms granularity), and no per-IP penalty
# (2, 4, 8, 15 s after failures): anvil does not create the
# anvil-auth-penalty socket, auth finds none (ENOENT) and disables penalties
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener $RD_SASL_SOCKET {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
	_rd_spawn dovecot "$RD_DOVECOT_LOG" dovecot -F -c "$d/dovecot.conf"
	rd_wait 10 0.05 _rd_while_alive "${_RD_SID[dovecot]}" test -S "$RD_SASL_SOCKET"
	case $? in
	1) rd_e2e_bail "dovecot: no auth socket $RD_SASL_SOCKET after 10 s" ;;
	2) rd_e2e_bail "dovecot exited at startup; see $RD_DOVECOT_LOG" ;;
	esac
}

# rd_e2e_stop_dovecot / rd_e2e_start_dovecot: the SASL service goes away
# in the middle of a run (its socket with it), and comes back
rd_e2e_stop_dovecot() {
	_rd_stop_session dovecot 10 all || rd_e2e_bail "dovecot did not stop"
	rm -f "$RD_SASL_SOCKET"
}
rd_e2e_start_dovecot() {
	_rd_start_dovecot
}

# --------------------------------------------------------------- postfix --

_rd_write_postfix_config() {
	local p=$RD_E2E_DIR/postfix c=$RD_POSTFIX_CONF line
	mkdir -p "$c" "$p/queue" "$p/data" "$RD_MAILDIR_BASE" "$RD_E2E_DIR/tls"
	chown root:root "$p/queue"
	chmod 0755 "$p/queue"
	chown postfix:postfix "$p/data"
	chmod 0700 "$p/data"
	chown nobody:nogroup "$RD_MAILDIR_BASE"
	if [ ! -s "$RD_E2E_DIR/tls/cert.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -days 2 -subj "/CN=mx.relaydiag.test" \
			-addext "subjectAltName=DNS:mx.relaydiag.test" \
			-keyout "$RD_E2E_DIR/tls/key.pem" -out "$RD_E2E_DIR/tls/cert.pem" \
			>"$RD_E2E_DIR/tls/openssl.log" 2>&1 ||
			rd_e2e_bail "openssl could not make a certificate: $(cat "$RD_E2E_DIR/tls/openssl.log")"
		chmod 0600 "$RD_E2E_DIR/tls/key.pem"
	fi
	printf '%s example.test/%s/\n' \
		"$RD_ALICE_USER" "${RD_ALICE_USER%@*}" \
		"$RD_BOB_USER" "${RD_BOB_USER%@*}" >"$p/vmailbox"
	chmod 0644 "$p/vmailbox"

	local milter=${RD_MILTER:-} tao=${RD_E2E_TLS_AUTH_ONLY:-no} defaults
	local names=" " name
	# an extra line replaces the default of the same parameter (postconf
	# would warn "overriding earlier entry" on every command otherwise)
	for line in "$@"; do
		[[ $line =~ ^([A-Za-z0-9_]+)[[:space:]]*= ]] && names+="${BASH_REMATCH[1]} "
	done
	defaults=$(cat <<EOF
# private Postfix for the relaydiag e2e tests (written by tests/e2e/lib.sh)
compatibility_level = 3.6
queue_directory = $p/queue
data_directory = $p/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $RD_MAILLOG
maillog_file_prefixes = $RD_E2E_DIR
smtputf8_enable = no
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.relaydiag.test
mydomain = relaydiag.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
mynetworks = $RD_TRUSTED_IP/32
# nothing leaves the machine; example.test is delivered to maildirs
local_transport = discard
default_transport = discard
relay_transport = discard
virtual_mailbox_domains = example.test
virtual_mailbox_base = $RD_MAILDIR_BASE
virtual_mailbox_maps = texthash:$p/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $RD_SASL_SOCKET
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = may
smtpd_tls_cert_file = $RD_E2E_DIR/tls/cert.pem
smtpd_tls_key_file = $RD_E2E_DIR/tls/key.pem
smtpd_tls_auth_only = $tao
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_milters = $milter
milter_default_action = ${RD_MILTER_DEFAULT_ACTION:-tempfail}
milter_protocol = 6
EOF
)
	while IFS= read -r line; do
		name=
		[[ $line =~ ^([A-Za-z0-9_]+)[[:space:]]*= ]] && name=${BASH_REMATCH[1]}
		if [ -n "$name" ] && [[ $names == *" $name "* ]]; then
			printf '# %s: set below\n' "$name"
		else
			printf '%s\n' "$line"
		fi
	done <<<"$defaults" >"$c/main.cf"
	if [ $# -gt 0 ]; then
		printf '# extra lines (rd_e2e_start_postfix arguments)\n' >>"$c/main.cf"
		for line in "$@"; do
			printf '%s\n' "$line" >>"$c/main.cf"
		done
	fi

	local mxopts=${RD_E2E_MX_OPTS:-}
	[ "${RD_E2E_MX_AUTH:-yes}" = no ] && mxopts="-o smtpd_sasl_auth_enable=no $mxopts"
	cat >"$c/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$RD_E2E_MX_PORT inet n - n - - smtpd
  $mxopts
127.0.0.1:$RD_E2E_SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  ${RD_E2E_SUBMISSION_OPTS:-}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# Postfix will not read a main.cf (or a texthash: table) modified less
	# than 2 s ago: every command re-reads it in 300 ms steps until it is
	# old enough (about 2 s per start). Backdate what we just wrote.
	touch -d '-10 seconds' "$c/main.cf" "$c/master.cf" "$p/vmailbox"
}

rd_e2e_postconf() {
	postconf -c "$RD_POSTFIX_CONF" "$@"
}

# _rd_banner PORT TIMEOUT: 0 when a 220 banner arrives (then QUIT)
_rd_banner() {
	perl -MIO::Socket::INET -e '
		my ($port, $t, $src) = @ARGV;
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
			LocalAddr => $src, Timeout => $t) or exit 2;
		local $SIG{ALRM} = sub { exit 3 };
		alarm $t;
		my $l = <$s>;
		exit 4 unless defined $l && $l =~ /^220[ -]/;
		while ($l =~ /^220-/) { $l = <$s> // exit 4 }
		print $s "QUIT\r\n";
		<$s>;
		exit 0;' "$1" "$2" "$RD_PROBE_IP" 2>/dev/null
}

rd_e2e_start_postfix() {
	[ -n "${_RD_SID[postfix]:-}" ] && rd_e2e_bail "rd_e2e_start_postfix: already running (use rd_e2e_restart_postfix)"
	local port pidf=$RD_E2E_DIR/postfix/queue/pid/master.pid pid dl
	for port in "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT"; do
		_rd_port_in_use "$port" &&
			rd_e2e_bail "port $port is already in use (a Postfix left by an earlier run?): $(ss -Htlnp "( sport = :$port )")"
	done
	_rd_start_dovecot
	_rd_write_postfix_config "$@"
	rm -f "$pidf"
	# with maillog_file set, postfix(1)'s own fatal errors go to the maillog
	# (no need for a terminal); stderr gets postconf warnings
	if ! postfix -c "$RD_POSTFIX_CONF" start </dev/null \
		>>"$RD_E2E_DIR/postfix/start.log" 2>&1 7>&-; then
		rd_e2e_bail "postfix -c $RD_POSTFIX_CONF start failed: $(cat "$RD_E2E_DIR/postfix/start.log")"
	fi
	pid=$(tr -d ' \n' <"$pidf" 2>/dev/null) || true
	[ -n "$pid" ] || rd_e2e_bail "postfix started but wrote no $pidf"
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] ||
		rd_e2e_bail "postfix master (pid $pid) is not a session leader"
	_RD_SID[postfix]=$pid
	for port in "$RD_E2E_MX_PORT" "$RD_E2E_SUBMISSION_PORT"; do
		rd_wait 15 0.1 _rd_postfix_banner "$port"
		case $? in
		1) rd_e2e_bail "postfix: no 220 banner on 127.0.0.1:$port within 15 s (see the maillog below)" ;;
		2) rd_e2e_bail "postfix: a daemon failed at startup (see the maillog below)" ;;
		esac
	done
	return 0
}

# _rd_postfix_banner PORT: 0 on a 220 banner, 2 when a daemon failed
_rd_postfix_banner() {
	_rd_banner "$1" 5 && return 0
	grep -qE 'fatal:|panic:|throttling' "$RD_MAILLOG" 2>/dev/null && return 2
	return 1
}

_rd_stop_postfix_quiet() {
	[ -n "${_RD_SID[postfix]:-}" ] || return 0
	# master's SIGTERM handler signals its process group, then exits
	_rd_stop_session postfix 10
}

rd_e2e_stop_postfix() {
	_rd_stop_postfix_quiet || rd_e2e_bail "postfix: processes left behind"
}

rd_e2e_restart_postfix() {
	rd_e2e_stop_postfix
	rd_e2e_start_postfix "$@"
}

# ---------------------------------------------------------- remote postfix --
# A second private Postfix playing the recipient's server, or a relayhost,
# that refuses to relay for what it does not host (no local domain; its
# mynetworks trusts nobody on loopback): 127.0.0.1:$RD_E2E_REMOTE_PORT
# answers 554 5.7.1 Relay access denied, :$RD_E2E_REMOTE_SOFT_PORT 454 4.7.1
# (soft_bounce). Its log: RUN/remote/maillog. Stopped with the rest.

# rd_e2e_remote_dns FILE: DNS data of our own (an unbound.conf for
# relaydiag's DNSConfig) for the domains the remote serves: remote.test and
# soft.test have it as their MX, moved.test another (mx.new-home.test)
rd_e2e_remote_dns() {
	cat >"$1" <<EOF2
server:
	local-zone: "test." static
	local-data: "remote.test. MX 10 127.0.0.1."
	local-data: "moved.test. MX 10 mx.new-home.test."
	local-data: "soft.test. MX 10 127.0.0.1."
EOF2
	chmod 0644 "$1"
}

rd_e2e_start_remote() {
	[ -n "${_RD_SID[remote]:-}" ] && return 0
	local d=$RD_E2E_DIR/remote port pid
	RD_E2E_REMOTE_PORT=${RD_E2E_REMOTE_PORT:-2725}
	RD_E2E_REMOTE_SOFT_PORT=${RD_E2E_REMOTE_SOFT_PORT:-2727}
	export RD_E2E_REMOTE_PORT RD_E2E_REMOTE_SOFT_PORT
	for port in "$RD_E2E_REMOTE_PORT" "$RD_E2E_REMOTE_SOFT_PORT"; do
		_rd_port_in_use "$port" && rd_e2e_bail "port $port (remote Postfix) is already in use"
	done
	mkdir -p "$d/conf" "$d/queue" "$d/data"
	chown root:root "$d/queue"
	chown postfix:postfix "$d/data"
	chmod 0700 "$d/data"
	cat >"$d/conf/main.cf" <<EOF2
# the remote server of the e2e tests (tests/e2e/lib/mta.sh)
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/maillog
maillog_file_prefixes = $RD_E2E_DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.remote.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.253/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_error_sleep_time = 0
smtputf8_enable = no
default_transport = discard
EOF2
	cat >"$d/conf/master.cf" <<EOF2
127.0.0.1:$RD_E2E_REMOTE_PORT inet n - n - - smtpd
127.0.0.1:$RD_E2E_REMOTE_SOFT_PORT inet n - n - - smtpd -o soft_bounce=yes
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF2
	touch -d '-10 seconds' "$d/conf/main.cf" "$d/conf/master.cf"
	postfix -c "$d/conf" start </dev/null >>"$d/start.log" 2>&1 7>&- ||
		rd_e2e_bail "remote postfix: start failed: $(cat "$d/start.log")"
	pid=$(tr -d ' \n' <"$d/queue/pid/master.pid" 2>/dev/null) || true
	[ -n "$pid" ] || rd_e2e_bail "remote postfix started but wrote no pid file"
	_RD_SID[remote]=$pid
	for port in "$RD_E2E_REMOTE_PORT" "$RD_E2E_REMOTE_SOFT_PORT"; do
		rd_wait 15 0.1 _rd_banner "$port" 5 ||
			rd_e2e_bail "remote postfix: no banner on 127.0.0.1:$port"
	done
}
