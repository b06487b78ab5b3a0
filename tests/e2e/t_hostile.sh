#!/bin/bash
# t_hostile.sh - hostile input: relaydiag is the relay gate (deployment 2:
# Mode enforce, RelayGate yes) and gets the worst text a client or an MTA
# can send. Through a real Postfix where it lets the bytes through (8-bit
# and invalid UTF-8, '%' and format strings, quoted local parts, AUTH user,
# header values, values as long as Postfix takes), and through the milter
# protocol itself (tests/e2e/milterdrive.c) for the rest: NUL, CR, LF,
# every control byte, 64 KB values and invalid UTF-8 in HELO, MAIL and RCPT
# arguments, header names and values, and every macro relaydiag reads,
# including {rcpt_addr} (the MTA's reply text), {auth_authen} and
# {tls_version}.
# Every time: relaydiag is still running and a normal session still works;
# every event is valid against the schema; the reply the client sees has
# exactly one final line and no injected one; the header relaydiag adds is
# printable ASCII with every continuation line starting with a tab (no
# injected header field); relaydiag's log has no raw control or 8-bit
# byte.

. "$(dirname "$0")/lib.sh"

DRIVE=${RD_MILTERDRIVE:-$(dirname "$RELAYDIAG_BIN")/../tests/milterdrive}
[ -x "$DRIVE" ] || rd_e2e_bail "milterdrive not found: $DRIVE (build the tests, or set RD_MILTERDRIVE)"

relay2="smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, warn_if_reject reject_unauth_destination, check_recipient_access static:OK, reject_unauth_destination"
RD_MILTER_DEFAULT_ACTION=tempfail
rd_e2e_start_milter "Mode enforce" "RelayGate yes" "LogLevel debug"
rd_e2e_start_postfix "$relay2"
D=$RD_E2E_DIR/drive
mkdir -p "$D"


# raw_ctl FILE: lines with a raw control byte (but tab), DEL or 8-bit byte
raw_ctl() { LC_ALL=C grep -naP '[\x00-\x08\x0a-\x1f\x7f-\xff]' "$1" | head -5; }

# -- through Postfix ----------------------------------------------------
#
# check_reply DESC: the client's transcript ($RD_TRANSCRIPT) has one
# refusal: every line "554-5.7.1 " but the last, "554 5.7.1 ", none longer
# than 512 octets, no control byte.
check_reply() {
	local desc=$1 t=$RD_TRANSCRIPT lines bad
	lines=$(grep -a '^<\*\* ' "$t" | sed 's/^<\*\* *//' | tr -d '\r')
	bad=$(printf '%s\n' "$lines" | awk '
		{ l[NR] = $0 }
		END {
			if (NR == 0) { print "no refusal"; exit }
			for (i = 1; i < NR; i++) if (l[i] !~ /^554-5\.7\.1 /) print "line " i ": " l[i]
			if (l[NR] !~ /^554 5\.7\.1 /) print "last line: " l[NR]
			for (i = 1; i <= NR; i++) if (length(l[i]) > 512) print "line " i " longer than 512"
		}')
	if [ -z "$bad" ] && [ "$(printf '%s\n' "$lines" | grep -c '^554 ')" = 1 ] &&
		[ -z "$(printf '%s\n' "$lines" | LC_ALL=C grep -aP '[\x00-\x1f\x7f]')" ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "$bad"
		_rd_context_file "$t" 30
	fi
}

# delivered SUBJECT: the delivered message with this Subject, or /nonexistent
delivered() {
	local f
	rd_e2e_wait_delivered "$((++NDELIVERED))" 10 || true
	f=$(grep -rlaF -- "$1" "$RD_MAILDIR_BASE" 2>/dev/null | head -1)
	echo "${f:-/nonexistent}"
}
NDELIVERED=0

# check_header FILE DESC: exactly one X-Relay-Diagnostic, printable ASCII,
# continuation lines start with a tab, at most 78 columns; no header field
# the hostile text tried to inject.
check_header() {
	local f=$1 desc=$2 hdr bad
	hdr=$(sed -n '/^$/q;p' "$f" | tr -d '\r' |
		awk '/^X-Relay-Diagnostic:/ { h = 1; print; next }
			h && /^[ \t]/ { print; next } { h = 0 }')
	bad=$(printf '%s\n' "$hdr" | awk 'NR > 1 && !/^\t/ { print "not a tab: " $0 }
		length > 78 { print "longer than 78: " $0 }')
	bad+=$(printf '%s\n' "$hdr" | LC_ALL=C grep -naP '[^\t\x20-\x7e]' | head -3)
	bad+=$(sed -n '/^$/q;p' "$f" | grep -aiE '^(X-Injected|Bcc):' | head -3)
	if [ -f "$f" ] && [ "$(grep -ac '^X-Relay-Diagnostic:' "$f")" = 1 ] && [ -z "$bad" ]; then
		rd_pass "$desc"
	else
		rd_fail "$desc" "header: $hdr" "$bad"
		[ -f "$f" ] && _rd_context_file "$f" 30
	fi
}

evil=$'\xff\xfe\xc0\xaf\xed\xa0\x80%s%n%x%%\\x0D\\'
long=$(printf 'h%.0s' $(seq 2000))

# HELO: 8-bit, invalid UTF-8, '%' and backslashes; then 2,000 octets
for h in "mail.$evil.test" "$long"; do
	what="8-bit HELO"
	[ "$h" = "$long" ] && what="2,000-octet HELO"
	rd_e2e_swaks --helo "$h" --from anna@client.test --to carol@gmail.test --quit-after RCPT
	check_reply "$what, unauthorized relay: one well-formed refusal"
	rd_e2e_swaks --helo "$h" --from anna@client.test --to "$RD_ALICE_USER" \
		--header "Subject: helo $NDELIVERED" --add-header "X-Relay-Diagnostic: forged $evil"
	check_header "$(delivered "Subject: helo $NDELIVERED")" "$what, local mail: our header only, folded ASCII"
done

# MAIL FROM: a quoted local part with 8-bit, '%' and an escaped quote;
# then a 1,500-octet local part
for f in "\"q$evil \\\"x\"@client.test" "$(printf 's%.0s' $(seq 1500))@client.test"; do
	rd_e2e_swaks --from "$f" --to "$RD_ALICE_USER" --header "Subject: from $NDELIVERED"
	check_header "$(delivered "Subject: from $NDELIVERED")" "hostile MAIL FROM (${#f} octets): local mail delivered, header folded ASCII"
	rd_e2e_swaks --from "$f" --to dave@gmail.test --quit-after RCPT
	check_reply "hostile MAIL FROM (${#f} octets), unauthorized relay: one well-formed refusal"
done

# RCPT TO: quoted local parts (Postfix itself may refuse some: its one
# line then), and a 1,500-octet one
for r in "\"r$evil \"@gmail.test" "\"r %s %n\"@gmail.test" "$(printf 'r%.0s' $(seq 1500))@gmail.test"; do
	rd_e2e_swaks --to "$r" --quit-after RCPT
	check_reply "hostile RCPT TO (${#r} octets): one well-formed refusal"
done

# AUTH user: Dovecot allows only [A-Za-z0-9.@_-] (auth_username_chars),
# so through Postfix a long user name; the milter protocol below sends
# every byte as {auth_authen}.
user=$(printf 'u%.0s' $(seq 200)).-_@example.test
printf '%s:{PLAIN}%s::::::\n' "$user" pw >>"$RD_E2E_DIR/dovecot/users"
rd_e2e_swaks --port "$RD_E2E_SUBMISSION_PORT" --auth PLAIN --auth-user "$user" --auth-password pw \
	--helo "x$evil" --from "$user" --to "$RD_ALICE_USER" --header "Subject: auth $NDELIVERED"
check_header "$(delivered "Subject: auth $NDELIVERED")" "212-octet SASL user: header folded ASCII"
rd_assert_jq "$RD_EVENTS" '.auth.user == $u' "the event keeps the whole SASL user" --arg u "$user"

# header values: 8-bit, invalid UTF-8, '%', a forged copy of our header,
# and a 20 KB folded Subject
big=$(for i in $(seq 400); do printf ' word%s%%s%%n\xff' "$i"; done | fold -w 70 | sed '2,$s/^/\t/')
rd_e2e_swaks --to "$RD_ALICE_USER" --header "Subject: hdr $NDELIVERED" \
	--add-header "X-Evil: $evil" --add-header "X-Relay-Diagnostic: $evil" --add-header "X-Big:$big"
check_header "$(delivered "Subject: hdr $NDELIVERED")" "hostile header values: the forged copy removed, ours folded ASCII"

# -- the milter protocol, any bytes ------------------------------------
#
# drive NAME < script: one milterdrive session; output in $D/NAME.out.
# Then the reply and header checks (check_drive) and relaydiag alive.
drive() {
	local name=$1 out=$D/$1.out
	cat >"$D/$name.script"
	timeout 30 "$DRIVE" -s "$RD_MILTER" -t "${DRIVE_TIMEOUT:-10}" <"$D/$name.script" >"$out" 2>&1
	echo $? >"$D/$name.rc"
}

# unesc FILE: the driver's output with its own "\\" pairs removed, so a
# remaining "\x" is a raw byte the filter sent (see milterdrive.c)
unesc() { sed 's/\\\\//g' "$1"; }

# check_drive NAME [EXPECT_REJECTS]: the session ended normally, every
# reply is well-formed (all lines "554-5.7.1 ", exactly one final "554 "
# line per reply, no raw control byte), every header relaydiag adds is
# folded ASCII (continuation lines start with a tab, nothing raw).
check_drive() {
	local name=$1 want=${2:-} out=$D/${1%% *}.out n bad rc
	rc=$(cat "$D/${1%% *}.rc")
	if [ "$rc" = 0 ] && grep -q '^closed$' "$out"; then
		rd_pass "$name: the session ran to its end"
	else
		rd_fail "$name: the session ran to its end" "milterdrive exit status $rc"
		_rd_context_file "$out" 20
	fi
	# each replycode block: lines, last one "554 " and all others "554-"
	bad=$(awk '
		function flush() {
			if (n == 0) return
			for (i = 1; i < n; i++)
				if (l[i] !~ /^reply\| (554|451)-[45]\.7\.1 /) print "not a continuation: " l[i]
			if (l[n] !~ /^reply\| (554|451) [45]\.7\.1 Ref /) print "bad last line: " l[n]
			n = 0
		}
		/^[a-z]+ replycode / { flush(); inr = 1; blocks++; next }
		inr && /^reply\| / { l[++n] = $0; next }
		{ flush(); inr = 0 }
		END { flush(); print "blocks " blocks + 0 }' "$out")
	n=$(printf '%s\n' "$bad" | sed -n 's/^blocks //p')
	bad=$(printf '%s\n' "$bad" | grep -v '^blocks ' || true)
	if [ -z "$bad" ] && { [ -z "$want" ] || [ "$n" = "$want" ]; }; then
		rd_pass "$name: $n refusal(s), each one well-formed reply (one final line)"
	else
		rd_fail "$name: $n refusal(s), each one well-formed reply (one final line)" \
			"expected ${want:-any} refusal(s), got $n" "$bad"
		_rd_context_file "$out" 30
	fi
	# (a header's continuation lines start with a raw tab: the fold)
	bad=$(unesc "$out" | grep -E '^(reply|header)\| ' |
		sed 's/^header| \\x09/header| /' | grep -F '\x' | head -3)
	if [ -z "$bad" ]; then
		rd_pass "$name: no raw control or 8-bit byte in a reply line or header"
	else
		rd_fail "$name: no raw control or 8-bit byte in a reply line or header" "$bad"
	fi
	bad=$(awk '/^(insheader|addheader|chgheader) / { h = 1; first = 1; next }
		h && /^header\| / { if (!first && $0 !~ /^header\| \\x09/) print; first = 0; next }
		{ h = 0 }' "$out" | head -3)
	if [ -z "$bad" ]; then
		rd_pass "$name: every continuation line of the header starts with a tab"
	else
		rd_fail "$name: every continuation line of the header starts with a tab" "$bad"
	fi
}

# The hostile values, in milterdrive's escapes (no space: \s).
declare -A V=(
	[crlf]='x\r\nBcc:\sinjected@evil.test\r\n554\s5.7.1\sinjected\r\nX-Injected:\s1'
	[lf]='x\nX-Injected:\s1\n\t\n554\sinjected'
	[nul]='a\0\0b'
	[ctl]='\x01\x02\x03\x04\x05\x06\x07\x08\t\x0B\x0C\x0E\x0F\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1A\x1B[31m\x1C\x1D\x1E\x1F\x7F'
	[utf8]='\xFF\xFE\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82\xC3\xA9\xF0\x9F\x92'
	[fmt]='%s%n%x%p%%%.99999d%*s%1$s%hhn\\x0D\\'
	[long]='\[3000:61]\r\nX-Injected:\s1\[3000:62]'
)

# session_unauth V: a client without auth relays (refused by relaydiag),
# one recipient the MTA refused with V as its text, and a local recipient
# (accepted: the header), V everywhere else.
session_unauth() {
	local v=$1
	cat <<EOF
macro C j $v {daemon_name} $v {daemon_addr} $v {daemon_port} $v {client_addr} $v {client_port} $v {client_name} $v {client_ptr} $v _ $v
connect ${CONN_HOST:-$v} 4 4711 127.0.0.1
macro H {tls_version} $v {cipher} $v {cipher_bits} $v {cert_subject} $v
helo $v
macro M i $v {tls_version} $v {cipher} $v {cipher_bits} $v
mail <$v@client.test> SIZE=$v $v
macro R i $v {rcpt_mailer} $v {rcpt_host} $v {rcpt_addr} $v
rcpt <$v@gmail.test> NOTIFY=$v
macro R i $v {rcpt_mailer} smtp {rcpt_host} gmail.test {rcpt_addr} bob@gmail.test
rcpt <"$v"@gmail.test>
macro R i $v {rcpt_mailer} error {rcpt_host} $v {rcpt_addr} $v
rcpt <$v@example.test>
macro R i $v {rcpt_mailer} error {rcpt_host} 5.7.1 {rcpt_addr} <x@gmail.test>:\s$v
rcpt <x@gmail.test>
macro R {rcpt_mailer} virtual {rcpt_host} example.test {rcpt_addr} alice@example.test
rcpt <alice@example.test>
header $v $v
header X-Relay-Diagnostic $v
header Subject $v
macro E i $v
eom
quit
EOF
}

# session_auth V: V as the SASL user and mechanism, the connection's
# address unknown to libmilter (family U: the {client_addr} macro is used)
session_auth() {
	local v=$1
	cat <<EOF
macro C j mx.relaydiag.test {daemon_port} 587 {client_addr} $v
connect ${CONN_HOST:-$v} U
macro H {tls_version} $v {cipher} $v {cipher_bits} 256
helo $v
macro M i Q1 {auth_type} $v {auth_authen} $v {auth_author} $v {tls_version} $v
mail <>
macro R {rcpt_mailer} smtp {rcpt_host} gmail.test {rcpt_addr} $v
rcpt <$v>
macro R {rcpt_mailer} virtual {rcpt_host} example.test {rcpt_addr} alice@example.test
rcpt <alice@example.test>
header X-Relay-Diagnostic $v
macro E i Q1
eom
abort
macro M i Q2 {auth_type} $v {auth_authen} $v
mail $v
rcpt $v
quit
EOF
}

for k in crlf lf nul ctl utf8 fmt long; do
	# A NUL in the connect host name ends it and makes the next byte the
	# address family: libmilter drops such a connection (tested below).
	CONN_HOST=
	[ "$k" = nul ] && CONN_HOST=client.test
	session_unauth "${V[$k]}" | drive "unauth-$k"
	check_drive "unauth-$k"
	session_auth "${V[$k]}" | drive "auth-$k"
	check_drive "auth-$k"
done
rd_assert_grep "$D/unauth-crlf.out" '^reply\| 554-5\.7\.1 Relay access denied for <x\\\\x0D\\\\x0ABcc:' \
	"CR LF in a recipient: shown escaped in the reply's first line"
rd_assert_grep "$D/unauth-crlf.out" '^eom insheader 0 X-Relay-Diagnostic$' \
	"the header was added (a local recipient was accepted)"
rd_assert_grep "$D/unauth-crlf.out" '^header\| .*helo=x\\\\x0D\\\\x0ABcc:' \
	"CR LF in HELO: escaped inside the header, not a new field"
rd_assert_grep "$D/unauth-fmt.out" '^reply\| 554-5\.7\.1 .*%%s%%n' \
	"'%' doubled in the reply lines (smfi_setmlreply formats)"
rd_assert_grep "$D/auth-crlf.out" '^header\| .*user=x\\\\x0D' \
	"CR LF in the SASL user: escaped inside the header"
rd_assert_grep "$D/auth-crlf.out" '^eom chgheader 1 X-Relay-Diagnostic$' \
	"the forged X-Relay-Diagnostic with CR LF is removed"

# 64 KB values, one per stage (a milter packet carries at most 64 KB)
big='\[32000:41]\r\nX-Injected:\s1\r\n\[32000:42]'
i=0
for slot in 'macro C j' 'macro C {client_name}' 'macro C {daemon_port}' \
	'macro C {client_addr}' 'macro H {tls_version}' 'macro H {cipher}' \
	'macro M {auth_authen}' 'macro M {auth_type}' 'macro M i' \
	'macro R {rcpt_addr}' 'macro R {rcpt_host}' 'macro R {rcpt_mailer}' \
	'macro E i' connect helo mail rcpt rcpt-error header-name header-value; do
	i=$((i + 1))
	c=("macro C j mx.relaydiag.test {daemon_port} 25" "connect client.test 4 1234 192.0.2.1"
		"helo client.test" "mail <a@client.test>" "macro R {rcpt_mailer} smtp"
		"rcpt <b@gmail.test>" "macro R {rcpt_mailer} virtual" "rcpt <alice@example.test>"
		"header Subject x" "eom" "quit")
	case $slot in
	'macro C '*) c[0]="$slot $big" ;;
	'macro H '*) c=("${c[@]:0:2}" "$slot $big" "${c[@]:2}") ;;
	'macro M '*) c=("${c[@]:0:3}" "$slot $big" "${c[@]:3}") ;;
	'macro R '*) c[4]="$slot $big" ;;
	'macro E '*) c=("${c[@]:0:9}" "$slot $big" "${c[@]:9}") ;;
	connect) c[1]="connect $big 4 1234 192.0.2.1" ;;
	helo) c[2]="helo $big" ;;
	mail) c[3]="mail <$big@client.test>" ;;
	rcpt) c[5]="rcpt <$big@gmail.test>" ;;
	rcpt-error) c[4]="macro R {rcpt_mailer} error {rcpt_host} 5.7.1 {rcpt_addr} <b@gmail.test>:\s$big" ;;
	header-name) c[8]="header $big x" ;;
	header-value) c[8]="header X-Relay-Diagnostic $big" ;;
	esac
	printf '%s\n' "${c[@]}" | drive "64k-$i"
	check_drive "64k-$i ($slot)"
done

printf '%s\n' 'connect a\0\0b 4 1234 192.0.2.1' quit | drive nul-connect
rd_assert_grep "$D/nul-connect.out" '^error: ' "a NUL in the connect host name: libmilter drops the connection"

# beyond libmilter's limit (64 KB per packet): the connection is dropped
printf '%s\n' "connect client.test 4 1234 192.0.2.1" "helo \\[70000:41]" quit | drive too-big
rd_assert_grep "$D/too-big.out" '^error: ' "a 70 KB HELO packet: libmilter drops the connection"

# Malformed and truncated commands, each after a valid start: libmilter
# answers, hangs up or waits; relaydiag sees NULL or empty arguments.
# Not here: a macro packet with an odd number of strings ("macro R
# {rcpt_addr}"): libmilter 8.17 stores it as it is and smfi_getsymval then
# reads past the end of the array and may crash the filter (SECURITY.md:
# whoever can connect to the milter socket is trusted like the MTA).
pre=("connect c 4 1 192.0.2.1" "helo h" "mail <a@b.test>")
i=0
for bad in "raw C" "raw C h\\0" "raw C h\\0X" "raw C h\\04\\x00" "raw H" "raw M" "raw M \\0\\0\\0" \
	"raw R" "raw R \\0" "raw L" "raw L x" "raw L \\0" "raw D" "raw Z \\[100:FF]" "macro Q x y"; do
	i=$((i + 1))
	case $bad in
	"raw C"*) printf '%s\n' "$bad" quit ;;
	*) printf '%s\n' "${pre[@]}" "$bad" "rcpt <b@gmail.test>" quit ;;
	esac | DRIVE_TIMEOUT=2 drive "malformed-$i"
done
rd_e2e_milter_alive "malformed commands: relaydiag still runs"
printf '%s\n' "${pre[@]}" "rcpt <b@gmail.test>" hangup | drive hangup
rd_assert_grep "$D/hangup.out" '^hangup$' "a session that hangs up in the middle"
{
	printf '%s\n' "macro C {daemon_port} 25" "connect c 4 1 192.0.2.1" "helo h" "mail <a@b.test>"
	for r in $(seq 300); do printf 'rcpt <u%d@gmail%d.test>\n' "$r" "$r"; done
	printf '%s\n' "eom" "quit"
} | drive many-rcpts
check_drive many-rcpts 300
# an address the MTA passes only as {client_addr} (family unknown), with
# CR LF, in a relay probe: the alert's log line must not be split
{
	printf '%s\n' "macro C {daemon_port} 25 {client_addr} 203.0.113.9\r\nFAKE\sLOG\sLINE\x1B[2J" \
		"connect c U" "helo h" "mail <a@b.test>"
	for r in $(seq 25); do printf 'rcpt <p%d@probe%d.test>\n' "$r" "$r"; done
	printf '%s\n' "quit"
} | drive probe-alert
check_drive probe-alert 25
rd_assert_grep "$RD_MILTER_LOG" 'alert=alert\.relay-probe client=203\.0\.113\.9\\x0D\\x0AFAKE' \
	"the relay-probe alert logs the hostile client address escaped"
rd_e2e_milter_alive "relaydiag survived every milter-protocol session"

# -- a normal session still works --------------------------------------
rd_e2e_swaks --helo mx.google.test --from friend@gmail.test --to "$RD_ALICE_USER" --header "Subject: after the storm"
rd_assert_grep "$RD_TRANSCRIPT" '<-  250 2\.0\.0 Ok: queued' "a normal session still works"

# -- the events and the log --------------------------------------------
sleep 0.5
rd_assert_ok "all events valid against the schema" "$RD_SRC/tests/tools/check-events" "$RD_EVENTS"
bad=$(raw_ctl "$RD_MILTER_LOG")
if [ -z "$bad" ]; then
	rd_pass "relaydiag's log has no raw control or 8-bit byte"
else
	rd_fail "relaydiag's log has no raw control or 8-bit byte" "$bad"
fi
rd_assert_not_contains "$RD_MAILLOG" "malformed" "Postfix found no malformed milter reply"
rd_e2e_milter_alive "relaydiag is still running"

rd_e2e_finish
