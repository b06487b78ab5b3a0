#!/bin/sh
# container-check.sh - the images of docker/Dockerfile, built and run for
# real with Debian's podman: a Debian 12 base made with debootstrap and
# imported as debian:12 (no registry is reachable here), the relaydiag,
# postfix and redis targets built, the three run in one pod wired as
# compose.yaml wires them (names relaydiag and redis), then a refused relay
# and a local delivery sent with swaks through the container's Postfix, and
# the events read back from the container's Redis with relaydiag-report.
#
# This machine's kernel has hybrid cgroups and no CAP_SYS_RESOURCE, so
# podman runs with runc, cgroupfs and no default ulimits (CONTAINERS_CONF
# written below); on a normal host none of that is needed.
# Needs root. RD_KEEP=1 keeps the images.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" -ne 0 ]; then
	echo "container-check.sh: podman as root: run as root" >&2
	exit 1
fi
need=""
for p in podman runc debootstrap swaks; do
	command -v "$p" >/dev/null 2>&1 || need="$need $p"
done
# A pod's infra container runs catatonit, a Recommends of podman that
# --no-install-recommends leaves out ("finding pause binary: catatonit").
dpkg-query -W -f='${Status}' catatonit 2>/dev/null | grep -q "ok installed" ||
	need="$need catatonit"
if [ -n "$need" ]; then
	echo "container-check: installing$need"
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
work=$(mktemp -d /var/tmp/rd-container.XXXXXX)
export CONTAINERS_CONF="$work/containers.conf"
cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
pod=rd-check-$$
port=${RD_CONTAINER_PORT:-12525}
cleanup() {
	rc=$?
	set +e
	podman pod rm -f "$pod" >/dev/null 2>&1
	if [ "${RD_KEEP:-0}" != 1 ]; then
		podman rmi -f relaydiag:check relaydiag-postfix:check \
		    relaydiag-redis:check >/dev/null 2>&1
		podman image prune -f >/dev/null 2>&1
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

mirror=${RD_FRESH_MIRROR:-http://deb.debian.org/debian}
echo "container-check: debian:12 from debootstrap ($mirror)"
debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -20 "$work/debootstrap.log" >&2
	exit 1
}
tar -C "$work/base" -c . | podman import - docker.io/library/debian:12 >/dev/null
rm -rf "$work/base"
for t in relaydiag postfix redis; do
	tag=relaydiag-$t:check
	[ "$t" = relaydiag ] && tag=relaydiag:check
	echo "container-check: podman build --target $t"
	podman build --network=host -f docker/Dockerfile --target "$t" -t "$tag" . \
	    >"$work/build-$t.log" 2>&1 || {
		tail -30 "$work/build-$t.log" >&2
		echo "container-check.sh: the $t image does not build" >&2
		exit 1
	}
done
podman image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | grep ':check'

echo "container-check: one pod: redis, relaydiag, postfix (127.0.0.1:$port -> 25)"
podman pod create --name "$pod" -p "127.0.0.1:$port:25" \
    --add-host relaydiag:127.0.0.1 --add-host redis:127.0.0.1 >/dev/null
podman run -d --pod "$pod" --name "$pod-redis" relaydiag-redis:check >/dev/null
podman run -d --pod "$pod" --name "$pod-relaydiag" relaydiag:check >/dev/null
podman run -d --pod "$pod" --name "$pod-postfix" relaydiag-postfix:check >/dev/null
i=0
until swaks --server "127.0.0.1:$port" --quit-after EHLO >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 60 ] || { echo "container-check.sh: Postfix never answered" >&2; podman logs "$pod-postfix" >&2; exit 1; }
	sleep 0.5
done

fail=0 pass=0
t() {
	d=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"; else fail=$((fail + 1)); echo "not ok - $d"; fi
}
swaks --server "127.0.0.1:$port" --helo DESKTOP-4F2K --from anna@client.test \
    --to bob@remote.test --quit-after RCPT >"$work/relay.txt" 2>&1 || true	# 24: refused, as it should be
t "the containers' Postfix refuses the relay" grep -q '554 5.7.1 .*Relay access denied' "$work/relay.txt"
swaks --server "127.0.0.1:$port" --helo mx.other.test --from friend@other.test \
    --to postmaster@example.org >"$work/local.txt" 2>&1 || true
t "and accepts mail for example.org" grep -q '250 2.0.0 Ok: queued' "$work/local.txt"
i=0
while [ "$(podman exec "$pod-redis" redis-cli XLEN relaydiag:events)" -lt 5 ] && [ "$i" -lt 40 ]; do
	i=$((i + 1))
	sleep 0.25
done
podman exec "$pod-relaydiag" relaydiag-report --redis redis://redis:6379 >"$work/report.txt" 2>&1
sed -n '1,12p' "$work/report.txt" | sed 's/^/  /'
t "relaydiag in its container named the refusal" grep -q 'relay.client-on-port-25 .* 1 .* 1' "$work/report.txt"
t "and the local delivery" grep -q 'delivery.local' "$work/report.txt"
t "relaydiag runs unprivileged in its container" \
    test "$(podman exec "$pod-relaydiag" id -u)" != 0
t "no milter error in Postfix's log" sh -c "! podman logs $pod-postfix 2>&1 | grep -q 'Milter service'"
echo "container-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
