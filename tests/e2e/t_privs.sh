#!/bin/bash
# t_privs.sh - who relaydiag runs as, and what it leaves behind: after
# binding, every thread runs as UserID (real, effective, saved and file
# system ids; supplementary groups: the configured group only) with no
# capability left, so root cannot be regained; the socket gets SocketMode
# and UserID as owner, the socket directory it creates 0750, the Redis
# spool directory it creates 0700 and the spool files 0600, all owned by
# UserID; "UserID root" and an unknown user are refused. (Refusing to run
# as root without UserID is in t_daemon.sh.)

. "$(dirname "$0")/lib.sh"

pgid=$(getent group postfix | cut -d: -f3)


# ids PID: "uid gid groups cap" as /proc shows every thread of PID and of
# its children (the filter process under the AutoRestart supervisor)
ids() {
	local t p kids
	kids=$(pgrep -P "$1" | tr '\n' ' ')
	[ -n "$kids" ] || echo "no filter process under the supervisor $1"
	for p in "$1" $kids; do
	for t in /proc/"$p"/task/*/status; do
		awk '/^Uid:/ { u = $2 " " $3 " " $4 " " $5 }
			/^Gid:/ { g = $2 " " $3 " " $4 " " $5 }
			/^Groups:/ { sub(/^Groups:[ \t]*/, ""); sub(/[ \t]+$/, ""); gr = $0 }
			/^Cap(Inh|Prm|Eff|Amb):/ { c = c $2 }
			END { printf "uid=%s gid=%s groups=%s caps=%s\n", u, g, gr, c }' "$t"
	done
	done | sort -u
}

# -- the daemon the harness starts: UserID relaydiag:postfix, Redis gone
spool=$RD_E2E_DIR/rd/spool-new
rd_e2e_start_milter "RedisURL redis://127.0.0.1:$(rd_free_port)" "SpoolDir $spool" "RedisTimeout 200"
rd_e2e_start_postfix
uid=$(id -u relaydiag)
got=$(ids "$RD_MILTER_PID")
rd_assert_eq "$got" "uid=$uid $uid $uid $uid gid=$pgid $pgid $pgid $pgid groups=$pgid caps=0000000000000000000000000000000000000000000000000000000000000000" \
	"every thread: uid and gid (real, effective, saved, fs) are UserID's, groups the configured one, no capability"
sock=${RD_MILTER#unix:}
rd_assert_eq "$(stat -c '%a %U %G' "$sock")" "660 relaydiag postfix" \
	"the socket: SocketMode 0660, owned by UserID (relaydiag:postfix)"
rd_assert_eq "$(stat -c '%a %U %G' "$spool" 2>&1)" "700 relaydiag postfix" \
	"the spool directory relaydiag created: 0700, owned by UserID"

# an event while Redis is gone goes to the spool, as 0600 files of UserID
rd_e2e_swaks --to "$RD_ALICE_USER" --header "Subject: spooled"
for _ in $(seq 50); do
	[ -n "$(find "$spool" -name 'spool-*.log' -size +0 2>/dev/null)" ] && break
	sleep 0.1
done
files=$(find "$spool" -type f -printf '%m %u %f\n' | sort)
rd_assert_ok "the spool holds the session's events (Redis is gone)" \
	bash -c "find '$spool' -name 'spool-*.log' -size +0 | grep -q ."
bad=$(printf '%s\n' "$files" | awk 'NF && !($1 == "600" && $2 == "relaydiag")')
rd_assert_eq "$bad" "" "every spool file is 0600 and owned by UserID (${files//$'\n'/, })"

# -- a second instance: another SocketMode, a socket directory to create,
#    UserID without a group (the user's own group), and the socket's
#    prefix in capitals, which libmilter accepts: SocketMode and the chown
#    must apply all the same (they were skipped silently when the daemon
#    looked for the path with a case-sensitive compare)
d=$RD_E2E_DIR/second
mkdir -p "$d"
cat >"$d/relaydiag.conf" <<EOF
Socket LOCAL:$d/sock/relaydiag.sock
SocketMode 0600
UserID relaydiag
EventLog $d/events.jsonl
LocalDomains example.test
EOF
timeout 20 "$RELAYDIAG_BIN" -f -c "$d/relaydiag.conf" >"$d/relaydiag.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do [ -S "$d/sock/relaydiag.sock" ] && break; sleep 0.05; done
pid2=$(pgrep -P "$tpid" | head -1)
rgid=$(id -g relaydiag)
sleep 0.2
rd_assert_eq "$(ids "${pid2:-0}" 2>&1)" "uid=$uid $uid $uid $uid gid=$rgid $rgid $rgid $rgid groups=$rgid caps=0000000000000000000000000000000000000000000000000000000000000000" \
	"UserID relaydiag (no group): the user's own group, and only that one"
rd_assert_eq "$(stat -c '%a %U %G' "$d/sock/relaydiag.sock" 2>&1)" "600 relaydiag relaydiag" \
	"the socket (Socket LOCAL:...): SocketMode 0600, owned by UserID"
rd_assert_eq "$(stat -c '%a %U %G' "$d/sock" 2>&1)" "750 relaydiag relaydiag" \
	"the socket directory relaydiag created: 0750, owned by UserID"
rd_assert_eq "$(stat -c '%a %U' "$d/events.jsonl" 2>&1)" "640 root" \
	"the event log it created: 0640, opened as root before the drop"
[ -n "$pid2" ] && kill -KILL "$pid2" 2>/dev/null
wait "$tpid" 2>/dev/null || true

# -- refused
printf 'Socket local:%s/r.sock\nUserID root\nEventLog -\n' "$RD_E2E_DIR" >"$RD_E2E_DIR/root.conf"
timeout 5 "$RELAYDIAG_BIN" -f -c "$RD_E2E_DIR/root.conf" >"$RD_E2E_DIR/root.out" 2>&1
rd_assert_eq "$?" 1 "UserID root: refuses to start"
rd_assert_contains "$RD_E2E_DIR/root.out" 'UserID: "root" is root (uid 0); name an unprivileged user' "and says why"
printf 'Socket local:%s/n.sock\nUserID no-such-user-rd\nEventLog -\n' "$RD_E2E_DIR" >"$RD_E2E_DIR/nouser.conf"
timeout 5 "$RELAYDIAG_BIN" -f -c "$RD_E2E_DIR/nouser.conf" >"$RD_E2E_DIR/nouser.out" 2>&1
rd_assert_eq "$?" 1 "an unknown UserID: refuses to start"
rd_assert_contains "$RD_E2E_DIR/nouser.out" 'no such user "no-such-user-rd"' "and names it"
rd_assert_ok "neither left a socket behind" \
	bash -c "[ ! -e '$RD_E2E_DIR/r.sock' ] && [ ! -e '$RD_E2E_DIR/n.sock' ]"

rd_e2e_finish
