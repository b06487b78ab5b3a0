#!/bin/sh
# test.sh - install what is needed, build with warnings as errors, run every
# test: cmocka unit tests and the end-to-end tests against a real Postfix,
# Dovecot SASL, Redis and relaydiag on loopback. Needs root (Postfix).
#
#   sudo scripts/test.sh            # everything
#   sudo scripts/test.sh -L unit    # extra arguments go to ctest
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the end-to-end tests run a private Postfix: run as root" >&2
	exit 1
fi
sh scripts/install-deps.sh
build=${RD_BUILD_DIR:-build}
cmake -S . -B "$build" -DRD_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "$@"
