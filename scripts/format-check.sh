#!/bin/sh
# format-check.sh - every C file of the tree in the one style of
# .clang-format (KNF with tabs); ctest runs it as style.format.
#   scripts/format-check.sh          # check: lists what differs, exits 1
#   scripts/format-check.sh --fix    # rewrite the files in place
# Data tables that read better by hand may sit between
# /* clang-format off */ and /* clang-format on */.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v clang-format >/dev/null 2>&1 || {
	echo "format-check.sh: clang-format not found (scripts/install-deps.sh installs it)" >&2
	exit 1
}
if [ -d .git ]; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find lib milter include bench tests -name '*.[ch]' | sort)
fi
if [ "${1:-}" = --fix ]; then
	# shellcheck disable=SC2086
	clang-format -i $files
	exit 0
fi
bad=""
for f in $files; do
	clang-format "$f" | cmp -s - "$f" || bad="$bad $f"
done
if [ -n "$bad" ]; then
	echo "format-check.sh: not in the style of .clang-format:$bad" >&2
	echo "format-check.sh: fix with scripts/format-check.sh --fix" >&2
	exit 1
fi
echo "format-check.sh: $(echo "$files" | wc -w) files in the one style ($(clang-format --version))"
