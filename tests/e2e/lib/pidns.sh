# shellcheck shell=bash
#
# tests/e2e/lib/pidns.sh - an MTA daemon run as the init of its own PID
# namespace (`unshare --pid --fork`, unshare the session leader): its
# delivery processes may call setsid() and leave the session lib.sh
# tracks, but when the namespace's init exits the kernel kills whatever is
# left in it.
#
#   rd_e2e_pidns_of LEADER     print the PID namespace of LEADER's child
#                              (the daemon) once it is not ours; 1: not yet
#   rd_e2e_pidns_pids NS       live (non-zombie) processes of namespace NS

rd_e2e_pidns_of() {
	local child ns
	child=$(ps -o pid= --ppid "$1" | head -n 1 | tr -d ' ')
	[ -n "$child" ] || return 1
	ns=$(readlink "/proc/$child/ns/pid" 2>/dev/null) || return 1
	[ -n "$ns" ] && [ "$ns" != "$(readlink /proc/self/ns/pid)" ] || return 1
	echo "$ns"
}

rd_e2e_pidns_pids() {
	local f p
	[ -n "${1:-}" ] || return 0
	for f in /proc/[0-9]*/ns/pid; do
		[ "$(readlink "$f" 2>/dev/null)" = "$1" ] || continue
		p=${f#/proc/}
		p=${p%%/*}
		[ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" = Z ] || echo "$p"
	done
}

# The PID namespace of each daemon started this way, by its _RD_SID name
declare -gA _RD_PIDNS=()

_rd_pidns_find() {	# NAME: 0 once the daemon runs in its own namespace
	local ns
	ns=$(rd_e2e_pidns_of "${_RD_SID[$1]}") || return 1
	_RD_PIDNS[$1]=$ns
}

# rd_e2e_pidns_up LABEL NAME LOG PORT...: after `_rd_spawn NAME LOG unshare
# --pid --fork ...`, wait (bounded) for the daemon in its own namespace,
# then for a 220 banner on each 127.0.0.1:PORT; bails naming LABEL and LOG
# on a timeout or an exit
rd_e2e_pidns_up() {
	local label=$1 name=$2 log=$3 port
	shift 3
	_RD_PIDNS[$name]=
	rd_wait 15 0.02 _rd_while_alive "${_RD_SID[$name]}" _rd_pidns_find "$name"
	case $? in
	1) rd_e2e_bail "$label: no daemon in its own PID namespace after 15 s" ;;
	2) rd_e2e_bail "$label exited at startup (see $log below)" ;;
	esac
	for port in "$@"; do
		rd_wait 15 0.1 _rd_while_alive "${_RD_SID[$name]}" _rd_banner "$port" 5
		case $? in
		1) rd_e2e_bail "$label: no 220 banner on 127.0.0.1:$port within 15 s (see the logs below)" ;;
		2) rd_e2e_bail "$label exited at startup (see $log below)" ;;
		esac
	done
}

# rd_e2e_pidns_stop LABEL NAME: stop the session (unshare ignores SIGTERM
# while it waits for its child: the whole session is signalled; the
# daemon's handler signals its children and exits, the kernel kills what is
# left in its namespace, and unshare exits with it); SIGKILL what survives
# in the namespace anyway, and say so: 1
rd_e2e_pidns_stop() {
	local label=$1 name=$2 ok=0 left
	[ -n "${_RD_SID[$name]:-}" ] || return 0
	_rd_stop_session "$name" 10 all || ok=1
	left=$(rd_e2e_pidns_pids "${_RD_PIDNS[$name]:-}")
	if [ -n "$left" ]; then
		rd_diag "$label: processes left in its PID namespace: $(ps -o pid=,args= -p "$(paste -sd, <<<"$left")"); SIGKILL"
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
		ok=1
	fi
	return $ok
}
