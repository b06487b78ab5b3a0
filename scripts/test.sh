#!/bin/sh
# test.sh - install what is needed, build with warnings as errors, run every
# test: cmocka unit tests and the end-to-end tests against a real Postfix,
# Dovecot SASL, Redis and relaydiag on loopback. Needs root (Postfix).
#
#   sudo scripts/test.sh            # everything: all tests, then the unit
#                                   # and end-to-end tests again under
#                                   # ASan+UBSan, then short fuzz runs
#   sudo scripts/test.sh -L unit    # only these ctest tests, normal build
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the end-to-end tests run a private Postfix: run as root" >&2
	exit 1
fi
step() { printf '\n== test.sh: %s ==\n' "$*"; }

step "packages (scripts/install-deps.sh)"
sh scripts/install-deps.sh
build=${RD_BUILD_DIR:-build}
# The test option is set explicitly: a build directory configured without
# tests (by hand, or by an older demo) must never make this run zero tests.
step "configure and build in $build/ (-Werror, tests on)"
cmake -S . -B "$build" -DRD_WERROR=ON -DRD_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
if [ $# -gt 0 ]; then
	# A selection (ctest arguments): only that, in the normal build.
	exec ctest --test-dir "$build" --output-on-failure --no-tests=error "$@"
fi

# 1. Every test (unit, end to end, benchmark smoke) in the normal build.
step "1/3 every test (unit, end to end, bench smoke)"
ctest --test-dir "$build" --output-on-failure --no-tests=error
# 2. Again under AddressSanitizer + UndefinedBehaviorSanitizer: the unit
#    tests (leaks too), then the end-to-end tests with the daemon built
#    the same way; any sanitizer report fails.
step "2/3 unit and end-to-end tests again under ASan+UBSan (build-asan/)"
sh scripts/sanitize.sh -L unit
sh scripts/sanitize.sh -L e2e
# 3. Every fuzz target for a short while over its committed corpus, with
#    a fixed seed so that a landing is judged on a repeatable run (long,
#    random-seed runs: scripts/fuzz.sh --help).
step "3/3 every fuzz target, ${RD_FUZZ_SECONDS:-10} s each (build-fuzz/)"
RD_FUZZ_SEED=${RD_FUZZ_SEED:-1} sh scripts/fuzz.sh "${RD_FUZZ_SECONDS:-10}"
