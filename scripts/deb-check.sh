#!/bin/sh
# deb-check.sh - the Debian package, as an admin gets it: build the .deb
# with dpkg-buildpackage from a clean copy of the tree, check it with
# lintian (every tag fails but those explained in debian/), install it with
# apt-get, check what the install made (user, unit, spool directory,
# conffile), then run the demo against the installed /usr/sbin/relaydiag.
# Meant for a fresh machine or chroot (scripts/fresh-check.sh --deb): it
# installs the package for real. Needs root.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "deb-check.sh: installs a package: run as root" >&2
	exit 1
fi
sh "$top/scripts/install-deps.sh"
work=$(mktemp -d /tmp/rd-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "deb-check: copying the tree to $work/relaydiag"
mkdir -p "$work/relaydiag"
(cd "$top" && tar --exclude='./build*' --exclude=./.git -cf - .) |
    tar -xf - -C "$work/relaydiag"
echo "deb-check: dpkg-buildpackage -us -uc -b"
(cd "$work/relaydiag" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
	tail -40 "$work/build.log" >&2
	echo "deb-check.sh: dpkg-buildpackage failed" >&2
	exit 1
}
deb=$(ls "$work"/relaydiag_*.deb)
echo "deb-check: built $(basename "$deb") ($(du -k "$deb" | cut -f1) KB)"
dpkg-deb -c "$deb" | awk '{print "  " $6}'
echo "deb-check: lintian"
lintian --fail-on error,warning --display-info "$deb" "$work"/relaydiag_*.changes || {
	echo "deb-check.sh: lintian found the tags above" >&2
	exit 1
}
echo "deb-check: apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
fail=0
t() { if "$@"; then echo "ok - $*"; else echo "not ok - $*"; fail=$((fail + 1)); fi; }
t id relaydiag
t test -d /var/spool/relaydiag
t test "$(stat -c %U:%a /var/spool/relaydiag)" = relaydiag:700
t test -x /usr/sbin/relaydiag
t test -x /usr/bin/relaydiag-report
t systemd-analyze verify /lib/systemd/system/relaydiag.service
t grep -qx /etc/relaydiag.conf /var/lib/dpkg/info/relaydiag.conffiles
t /usr/sbin/relaydiag -n -c /etc/relaydiag.conf
t man -w relaydiag-report
[ "$fail" -eq 0 ] || {
	echo "deb-check.sh: $fail check(s) of the installed package failed" >&2
	exit 1
}
echo "deb-check: the demo against the installed daemon"
RELAYDIAG_BIN=/usr/sbin/relaydiag "$top/scripts/demo.sh"
