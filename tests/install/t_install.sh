#!/bin/bash
# t_install.sh - "cmake --install" as a packaged milter: the files a new
# admin expects (binary, relaydiag-report, three man pages, unit, sysusers.d,
# tmpfiles.d, logrotate, docs, reply rules), a unit generated with the real
# install path that "systemd-analyze verify" accepts and "systemd-analyze
# security" rates <= 3.0, and a reinstall that keeps an edited
# relaydiag.conf. Builds its own tree with its own prefix (no tests), so
# the unit's paths are the paths of what was installed.
#   bash tests/install/t_install.sh SRC
set -u
src=${1:?usage: t_install.sh SRC}
tmp=$(mktemp -d /tmp/rd-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION CMD...
	local d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else nok "$d"; sed 's/^/#   /' "$tmp/out"; fi
}
for c in cmake systemd-analyze man; do
	command -v "$c" >/dev/null 2>&1 || { echo "Bail out! missing command: $c (scripts/install-deps.sh installs it)"; echo "0 passed, 1 failed"; exit 1; }
done

pfx=$tmp/root/usr
echo "# configure and build with prefix $pfx"
if ! cmake -S "$src" -B "$tmp/build" -DCMAKE_INSTALL_PREFIX="$pfx" \
    -DRD_BUILD_TESTS=OFF >"$tmp/configure.log" 2>&1 ||
    ! cmake --build "$tmp/build" -j"$(nproc)" >"$tmp/build.log" 2>&1; then
	tail -30 "$tmp/configure.log" "$tmp/build.log"
	echo "Bail out! build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
check "cmake --install succeeds" cmake --install "$tmp/build"
etc=$pfx/etc	# GNUInstallDirs: <prefix>/etc for any prefix but /usr
for f in sbin/relaydiag bin/relaydiag-report bin/relaydiag-dashboard \
    share/man/man8/relaydiag.8 share/man/man1/relaydiag-dashboard.1 \
    share/man/man5/relaydiag.conf.5 share/man/man1/relaydiag-report.1 \
    share/relaydiag/python/relaydiag_tools/report.py \
    share/relaydiag/python/relaydiag_tools/web/index.html \
    share/relaydiag/python/relaydiag_tools/web/app.js \
    share/doc/relaydiag/prometheus/relaydiag.rules.yml \
    share/doc/relaydiag/prometheus/relaydiag.json \
    share/doc/relaydiag/examples/postfix-reject-footer.regexp \
    share/doc/relaydiag/examples/postfix-header_checks.regexp \
    lib/systemd/system/relaydiag.service lib/sysusers.d/relaydiag.conf \
    lib/tmpfiles.d/relaydiag.conf share/doc/relaydiag/README.md \
    share/doc/relaydiag/diagnoses.md share/doc/relaydiag/events.md \
    share/doc/relaydiag/event.schema.json share/doc/relaydiag/examples/reply-rules \
    share/doc/relaydiag/examples/postfix-main.cf.snippet; do
	check "installed: $f" test -s "$pfx/$f"
done
check "installed: etc/relaydiag.conf and etc/logrotate.d/relaydiag" \
    test -s "$etc/relaydiag.conf" -a -s "$etc/logrotate.d/relaydiag"
check "relaydiag-report is executable and answers --help" "$pfx/bin/relaydiag-report" --help
check "relaydiag-dashboard finds its package and answers --help" "$pfx/bin/relaydiag-dashboard" --help
check "relaydiag-report why runs from the install, on a recorded stream" \
    bash -c "'$pfx/bin/relaydiag-report' --file '$src/tests/data/events/demo.jsonl' why 127.0.0.8 | grep -q relay.ip-changed"
for m in man8/relaydiag.8 man5/relaydiag.conf.5 man1/relaydiag-report.1 man1/relaydiag-dashboard.1; do
	check "man page $m renders without warnings" \
	    bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$pfx/share/man/$m' 2>&1 >/dev/null | { ! grep .; }"
done
check "relaydiag -h names every option" bash -c "'$pfx/sbin/relaydiag' -h | grep -q -- '-h' && '$pfx/sbin/relaydiag' -h | grep -q '\\[-fFhnvV\\]'"
check "relaydiag(8) SYNOPSIS names -h and -F" grep -q 'fFhnvV' "$pfx/share/man/man8/relaydiag.8"

unit=$pfx/lib/systemd/system/relaydiag.service
check "the unit runs the installed binary" grep -q "^ExecStart=$pfx/sbin/relaydiag -c $etc/relaydiag.conf\$" "$unit"
check "the unit has no unexpanded @VAR@" bash -c "! grep -n '@[A-Z_]*@' '$unit'"
check "systemd-analyze verify accepts the unit" systemd-analyze verify --man=no "$unit"
systemd-analyze security --offline=yes "$unit" >"$tmp/sec" 2>&1
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/sec")
echo "# systemd-analyze security: ${score:-?}"
check "systemd-analyze security rates the unit <= 3.0 (got ${score:-none})" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
check "the shipped config passes relaydiag -n once UserID exists" \
    bash -c "id relaydiag >/dev/null 2>&1 || adduser --system --group --no-create-home --home /nonexistent relaydiag >/dev/null; '$pfx/sbin/relaydiag' -n -c '$etc/relaydiag.conf'"

echo "Mode annotate # edited by the admin" >>"$etc/relaydiag.conf"
cp "$etc/relaydiag.conf" "$tmp/edited"
check "a reinstall succeeds" cmake --install "$tmp/build"
check "a reinstall keeps the edited relaydiag.conf" cmp "$tmp/edited" "$etc/relaydiag.conf"
check "a reinstall puts the new sample beside it (relaydiag.conf.new)" \
    cmp "$src/conf/relaydiag.conf" "$etc/relaydiag.conf.new"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
