#!/bin/sh
# sanitize.sh - build with AddressSanitizer + UndefinedBehaviorSanitizer and
# warnings as errors in build-asan/, run the unit suite under it, and fail
# on any failing test or any sanitizer report (leaks included).
#
#   scripts/sanitize.sh              # ctest -L unit
#   scripts/sanitize.sh -R test_addr # other ctest arguments replace -L unit
#   CC=clang scripts/sanitize.sh     # the compiler (default: gcc)
#
# Reports are written to build-asan/sanitizer/ (ASan/LSan/UBSan log_path),
# so a report from a test that still passed, or from a child process, is
# caught too; they are printed at the end. UBSan is built with
# -fno-sanitize-recover (RD_SANITIZE), so its first report also fails the
# test.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

build=${RD_ASAN_BUILD_DIR:-build-asan}
cc=${CC:-gcc}
mkdir -p "$build"
CC=$cc cmake -S . -B "$build" -DRD_SANITIZE=ON -DRD_WERROR=ON \
    -DRD_BUILD_TESTS=ON >"$build/configure.log" 2>&1 || {
	cat "$build/configure.log" >&2
	echo "sanitize.sh: cmake configure failed" >&2
	exit 1
}
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
	grep -E 'error|warning' "$build/build.log" | head -40 >&2
	echo "sanitize.sh: build failed; see $build/build.log" >&2
	exit 1
}

reports=$build/sanitizer
rm -rf "$reports"
mkdir -p "$reports"
# The end-to-end tests run the daemon as its UserID: it writes its reports
# here too (sticky, like /tmp).
chmod 1777 "$reports"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$top/$reports/asan"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$top/$reports/ubsan"
LSAN_OPTIONS="log_path=$top/$reports/lsan"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

[ $# -gt 0 ] || set -- -L unit
ntests=$(ctest --test-dir "$build" -N "$@" |
    sed -n 's/^Total Tests: *//p')
if [ "${ntests:-0}" -eq 0 ]; then
	echo "sanitize.sh: no tests selected by: $*" >&2
	exit 1
fi
rc=0
ctest --test-dir "$build" --output-on-failure "$@" || rc=$?

if [ -n "$(ls -A "$reports")" ]; then
	for f in "$reports"/*; do
		echo "==== $f" >&2
		cat "$f" >&2
	done
	echo "sanitize.sh: sanitizer reports above ($reports/)" >&2
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	echo "sanitize.sh: tests failed under ASan+UBSan" >&2
	exit 1
fi
echo "sanitize.sh: $ntests tests, ASan+UBSan (leaks too): no report"
