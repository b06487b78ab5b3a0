#!/bin/sh
# fresh-check.sh - prove the README on a brand-new Debian 12: build a minimal
# Debian 12 root (debootstrap --variant=minbase, from the Debian mirror this
# machine's apt already uses), copy the checkout in, and run the README's two
# commands there exactly as written: scripts/demo.sh, then scripts/test.sh.
# A package that the project's scripts forget to install fails here, as it
# would for a new user. CI runs this (.ci/run).
#
#   sudo scripts/fresh-check.sh            # demo, then every test
#   sudo scripts/fresh-check.sh --demo     # only the demo
#   sudo scripts/fresh-check.sh --deb      # also: build the .deb in the
#                                          # chroot, install it, run the
#                                          # demo against the installed daemon
#
# Environment: RD_FRESH_DIR (default /var/tmp/relaydiag-fresh; wiped first),
# RD_FRESH_MIRROR (default: this machine's Debian mirror), RD_KEEP=1 keeps
# the root afterwards. Needs root, debootstrap (installed if missing) and
# about 3 GB of disk.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
what=all
deb=0
for a in "$@"; do
	case $a in
	--demo) what=demo ;;
	--deb) deb=1 ;;
	-h | --help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "fresh-check.sh: unknown argument: $a (try --help)" >&2
		exit 2
		;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "fresh-check.sh: debootstrap and chroot need root" >&2
	exit 1
fi
dir=${RD_FRESH_DIR:-/var/tmp/relaydiag-fresh}
root=$dir/root
t0=$(date +%s)
step() { printf '\n== fresh-check: %s (%ss) ==\n' "$*" "$(($(date +%s) - t0))"; }

# The host's Debian mirror: a deb822 "URIs:" line or a one-line "deb" entry
# for the main archive (not -security).
mirror=${RD_FRESH_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
	    -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\)[[:space:]]\{1,\}bookworm[[:space:]].*/\2/p' |
	    grep -E '/debian/?$' | head -n 1)
	mirror=${mirror:-http://deb.debian.org/debian}
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	step "installing debootstrap on this machine"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi

# Whatever happens, nothing started in the chroot outlives this script and
# no mount is left behind.
cleanup() {
	rc=$?
	set +e
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$root" | "$root"/*) kill -9 "${p#/proc/}" 2>/dev/null ;; esac
	done
	sleep 0.5
	for m in dev/pts dev proc sys; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	mountpoint -q "$root" 2>/dev/null && umount -l "$root"
	if [ "${RD_KEEP:-0}" = 1 ]; then
		echo "fresh-check: root kept: $root"
	else
		rm -rf "$dir"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

step "debootstrap --variant=minbase bookworm from $mirror"
rm -rf "$dir"
mkdir -p "$dir"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 || {
	tail -20 "$dir/debootstrap.log" >&2
	echo "fresh-check.sh: debootstrap failed" >&2
	exit 1
}
base_size=$(du -smx "$root" | cut -f1)
# As in Debian's own container images: no init runs in a chroot, so a
# package's postinst must not start its daemon here.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The root a mount point of its own, as a container's is: else `unshare
# --mount` in it (the Sendmail test's private /dev) fails with "cannot
# change root filesystem propagation: Invalid argument".
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null ||
    mount --bind /dev/pts "$root/dev/pts"

step "copying the checkout (tracked files) to /root/relaydiag"
mkdir -p "$root/root/relaydiag"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z | tar --null -T - -cf -) |
	    tar -xf - -C "$root/root/relaydiag"
else
	(cd "$top" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$root/root/relaydiag"
fi

# inchroot CMD: run CMD in the checkout inside the chroot with a clean
# environment, as a new root login would have it.
inchroot() {
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    ${CI:+CI=$CI} ${RD_FUZZ_SECONDS:+RD_FUZZ_SECONDS=$RD_FUZZ_SECONDS} \
	    /bin/sh -c "cd /root/relaydiag && $1"
}
step "README command 1: scripts/demo.sh"
s=$(date +%s)
inchroot "scripts/demo.sh" || {
	echo "fresh-check.sh: FAILED: the demo, on a fresh Debian 12" >&2
	exit 1
}
demo_s=$(($(date +%s) - s))
demo_size=$(du -smx "$root" | cut -f1)

test_s=-
if [ "$what" = all ]; then
	step "README command 2: scripts/test.sh"
	s=$(date +%s)
	{
		rc=0
		inchroot "scripts/test.sh" 2>&1 || rc=$?
		echo "$rc" >"$dir/test.rc"
	} | tee "$dir/test.log"
	if [ "$(cat "$dir/test.rc")" != 0 ]; then
		echo "fresh-check.sh: FAILED: scripts/test.sh, on a fresh Debian 12" >&2
		exit 1
	fi
	if grep -q 'No tests were found' "$dir/test.log"; then
		echo "fresh-check.sh: FAILED: a stage ran no test" >&2
		exit 1
	fi
	test_s=$(($(date +%s) - s))
fi

if [ "$deb" = 1 ]; then
	step "the Debian package: build, install, demo against the installed daemon"
	inchroot "scripts/deb-check.sh" || {
		echo "fresh-check.sh: FAILED: the .deb" >&2
		exit 1
	}
fi
all_size=$(du -smx "$root" | cut -f1)

step "done"
printf 'fresh-check: base system %s MB; after the demo %s MB (+%s MB: packages and build)\n' \
    "$base_size" "$demo_size" "$((demo_size - base_size))"
printf 'fresh-check: after everything %s MB; demo %ss, tests %ss\n' \
    "$all_size" "$demo_s" "$test_s"
n=1
[ "$what" = all ] && n=$((n + 1))
[ "$deb" = 1 ] && n=$((n + 1))
printf 'fresh-check: %d passed, 0 failed\n' "$n"
