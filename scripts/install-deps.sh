#!/bin/sh
# install-deps.sh - every Debian 12 package relaydiag's build, tests and demo
# need. Idempotent and non-interactive; run as root.
#
# Postfix is preseeded to "No configuration" so that the machine's own mail
# set-up (/etc/postfix) is never written: the tests and the demo run private
# Postfix instances with their own configuration directories.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (it calls apt-get)" >&2
	exit 1
fi

# libidn12, libnsl2 and libgnutls-dane0: what Debian's exim4 needs beyond
# these, for tests/e2e/exim.sh (Exim itself is never installed: it would
# replace postfix). They must be installed, not unpacked beside it: Exim
# re-executes its set-uid binary for deliveries, and the loader ignores
# LD_LIBRARY_PATH for a set-uid program.
PKGS="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
libmilter-dev libhiredis-dev libjansson-dev libcmocka-dev libunbound-dev
libmicrohttpd-dev prometheus chromium chromium-driver fonts-dejavu-core curl
zlib1g-dev libpcre2-dev libidn2-dev libsystemd-dev systemd-journal-remote
postfix redis-server redis-tools swaks jq
dovecot-core openssl ca-certificates
libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libsasl2-modules
procps psmisc iproute2 python3 python3-jsonschema
systemd man-db debhelper dpkg-dev lintian
libidn12 libnsl2 libgnutls-dane0"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps.sh: all packages present"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# Debian starts the packaged daemons; the tests run their own private ones.
for svc in redis-server dovecot postfix prometheus; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl stop "$svc" >/dev/null 2>&1 || true
		systemctl disable "$svc" >/dev/null 2>&1 || true
	fi
	service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-deps.sh: installed:$missing"
