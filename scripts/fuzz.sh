#!/bin/sh
# fuzz.sh - build the libFuzzer targets (tests/fuzz/) with clang, ASan and
# UBSan in build-fuzz/, run each for a bounded time, and fail on any crash,
# leak, timeout or broken invariant.
#
#   scripts/fuzz.sh                       # every target, 10 s each (CI)
#   scripts/fuzz.sh 60                    # 60 s each
#   scripts/fuzz.sh 30 fuzz_addr fuzz_reply   # only these targets
#
# Options (before the seconds):
#   --keep     keep the working corpus of earlier runs (build-fuzz/corpus/)
#              instead of starting again from the committed one
#   --merge    afterwards, add the inputs that reached new code to the
#              committed corpus (tests/fuzz/corpus/<target>/, libFuzzer
#              -merge=1: only new coverage, so it stays small); review and
#              commit them
#   -j N       targets run N at a time (default: the number of CPUs)
#
# Long runs (an hour per target, corpus kept across runs, then merged):
#
#   mkdir -p build-fuzz
#   nohup scripts/fuzz.sh --keep --merge 3600 > build-fuzz/long.log 2>&1 &
#
# Each target runs over a copy of its committed corpus, with the shared
# dictionary tests/fuzz/relaydiag.dict; the committed corpus is only ever
# written by --merge. A failing input is saved as build-fuzz/crashes/
# <target>-crash-<sha1> (or -leak-, -timeout-, -oom-); reproduce it with
#
#   build-fuzz/tests/fuzz/<target> build-fuzz/crashes/<file>
#
# and, once fixed, commit it as tests/fuzz/corpus/<target>/regress-<what>.
# Per target the script prints libFuzzer's stat::number_of_executed_units.
# Needs clang and libFuzzer: apt-get install clang-14 libclang-rt-14-dev.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

build=build-fuzz
keep=0
merge=0
jobs=$(nproc 2>/dev/null || echo 1)
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--merge) merge=1 ;;
	-j) jobs=$2; shift ;;
	-j*) jobs=${1#-j} ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
secs=${1:-10}
[ $# -gt 0 ] && shift
case $secs in
''|*[!0-9]*) echo "fuzz.sh: seconds must be a number, not \"$secs\"" >&2
	exit 2 ;;
esac
all="fuzz_addr fuzz_config fuzz_netset fuzz_domainset fuzz_mta_text
fuzz_rules fuzz_reply fuzz_event fuzz_session fuzz_pseudo fuzz_spool
fuzz_postconf fuzz_policy fuzz_logline"
targets=${*:-$all}

cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz.sh: $cc not found: apt-get install clang-14" \
	    "libclang-rt-14-dev (or set FUZZ_CC)" >&2
	exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ] ||
    ! grep -q '^RD_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
	mkdir -p "$build"
	CC=$cc cmake -S . -B "$build" -DRD_FUZZ=ON -DRD_BUILD_TESTS=OFF \
	    >"$build/configure.log" 2>&1 || {
		cat "$build/configure.log" >&2
		echo "fuzz.sh: cmake configure failed" >&2
		exit 1
	}
fi
cmake --build "$build" --target fuzz -j"$jobs" >/dev/null || {
	cmake --build "$build" --target fuzz 2>&1 | tail -40 >&2
	echo "fuzz.sh: build failed" >&2
	exit 1
}

crashes=$build/crashes
logs=$build/logs
mkdir -p "$crashes" "$logs" "$build/corpus"
dict=tests/fuzz/relaydiag.dict
# Detect leaks (libFuzzer's default); UBSan aborts (-fno-sanitize-recover).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

# run_one TARGET - fuzz one target for $secs s; its exit status in a file
run_one() {
	t=$1
	bin=$build/tests/fuzz/$t
	seeds=tests/fuzz/corpus/$t
	work=$build/corpus/$t
	if [ ! -x "$bin" ]; then
		echo "no such fuzz target: $t" >"$logs/$t.log"
		echo 2 >"$logs/$t.rc"
		return
	fi
	[ "$keep" -eq 1 ] || rm -rf "$work"
	mkdir -p "$work"
	[ -d "$seeds" ] && cp -R "$seeds/." "$work/"
	# config lines reach 4,096 bytes; the other inputs are shorter
	maxlen=4096
	[ "$t" = fuzz_config ] && maxlen=10000
	rc=0
	# RD_FUZZ_SEED: a fixed seed (CI) makes a short run repeatable.
	"$bin" -max_total_time="$secs" -print_final_stats=1 \
	    ${RD_FUZZ_SEED:+-seed="$RD_FUZZ_SEED"} \
	    -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
	    -dict="$dict" -artifact_prefix="$crashes/$t-" \
	    "$work" >"$logs/$t.log" 2>&1 || rc=$?
	echo "$rc" >"$logs/$t.rc"
}

failed=0
total=0
set -- $targets
while [ $# -gt 0 ]; do
	batch=""
	n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
		batch="$batch $1"
		run_one "$1" &
		n=$((n + 1))
		shift
	done
	wait
	for t in $batch; do
		rc=$(cat "$logs/$t.rc")
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$logs/$t.log" | tail -1)
		units=$(ls "$build/corpus/$t" 2>/dev/null | wc -l)
		total=$((total + 1))
		if [ "$rc" -eq 0 ]; then
			printf '%-16s ok     %10s execs in %ss, corpus %s\n' \
			    "$t" "${execs:-?}" "$secs" "$units"
			continue
		fi
		failed=$((failed + 1))
		printf '%-16s FAILED %10s execs (exit %s); log %s\n' "$t" \
		    "${execs:-?}" "$rc" "$logs/$t.log"
		grep -E 'invariant violated|ERROR: |runtime error|SUMMARY' \
		    "$logs/$t.log" | head -5 | sed 's/^/    /'
		sed -n "s|.*Test unit written to \(.*\)|    input: \1\n    again: $build/tests/fuzz/$t \1|p" \
		    "$logs/$t.log"
	done
done

if [ "$merge" -eq 1 ]; then
	for t in $targets; do
		[ -x "$build/tests/fuzz/$t" ] || continue
		before=$(ls "tests/fuzz/corpus/$t" | wc -l)
		"$build/tests/fuzz/$t" -merge=1 -max_len=10000 \
		    "tests/fuzz/corpus/$t" "$build/corpus/$t" \
		    >"$logs/$t.merge.log" 2>&1 || {
			echo "fuzz.sh: merge of $t failed: $logs/$t.merge.log" >&2
			failed=$((failed + 1))
			continue
		}
		after=$(ls "tests/fuzz/corpus/$t" | wc -l)
		echo "$t: merged $((after - before)) new inputs into tests/fuzz/corpus/$t"
	done
fi

if [ "$failed" -ne 0 ]; then
	echo "fuzz.sh: $failed of $total targets failed; inputs in $crashes/" >&2
	exit 1
fi
echo "fuzz.sh: $total targets, ${secs}s each: no crash"
